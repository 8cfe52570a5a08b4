import type { TimingSnapshot } from "@pyrexis/metrics";

/** Formats ms compactly. */
export function ms(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`;
}

/** A plain text table; numbers right-aligned. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [headers, ...rows].map((r) => r.map(String));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells
    .map((r, ri) =>
      r
        .map((c, i) => (i === 0 || ri === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** Rows of timing snapshots: name, count, p50, p95, p99, max. */
export function timingRows(timings: Readonly<Record<string, TimingSnapshot>>, names: readonly string[]): (string | number)[][] {
  const rows: (string | number)[][] = [];
  for (const name of names) {
    const t = timings[name];
    if (t && t.count > 0) rows.push([name, t.count, ms(t.p50), ms(t.p95), ms(t.p99), ms(t.max)]);
  }
  return rows;
}

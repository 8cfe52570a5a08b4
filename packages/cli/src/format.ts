/** Cells of a table row. */
export type Row = readonly (string | number)[];

/** Options of {@link formatTable}. */
export interface TableOptions {
  /** Widest a cell may be; longer cells end in "…". Default 60. */
  readonly maxCellWidth?: number;
  /** Columns (by index) to right-align, e.g. numbers. */
  readonly alignRight?: readonly number[];
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`;
}

/**
 * Renders a plain-text table: a header row, then one row per entry, columns padded with two
 * spaces between them. No box drawing, so it stays readable when piped and greppable.
 */
export function formatTable(headers: Row, rows: readonly Row[], options: TableOptions = {}): string {
  const max = options.maxCellWidth ?? 60;
  const right = new Set(options.alignRight ?? []);
  const cells = [headers, ...rows].map((r) => r.map((c) => clip(String(c).replace(/\s+/g, " "), max)));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
    .concat("\n");
}

/** Epoch ms as a compact local-independent ISO time (`2025-01-31 12:00:00.123Z`). */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ");
}

/** Milliseconds as a short human duration (`850 ms`, `12.3 s`, `4.5 min`). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

// The scale bench's pure parts: its options, the flatness check (largest backlog against the
// smallest, flagged above 1.3×), the estimate that skips a size too long for the run, the table,
// and the cost chart drawn from its JSON (rendered once, so the "scale" kind renders in Node).
import { describe, expect, it } from "vitest";
import { chartsFor } from "../src/charts/index.mjs";
import { renderSvg } from "../src/charts/render.mjs";
import { scaleChart, scaleData, type ScaleJson } from "../src/charts/scale.mjs";
import type { ScaleResult } from "../src/scale-child.mjs";
import { costRatios, estimateMinutes, parseScaleArgs, renderScaleTable, sizeLabel, type ScaleRun } from "../src/scale-report.mjs";

/** A result of `n` jobs at the given per-job CPU and wall µs (the other figures plausible). */
function result(n: number, cpuUsPerJob: number, wallUsPerJob: number): ScaleResult {
  return {
    n,
    submitS: 1,
    submitRate: n,
    firstDispatchMs: 12,
    drainS: 2,
    drainRate: n / 2,
    cpuSubmitUsPerJob: cpuUsPerJob / 4,
    cpuDrainUsPerJob: (cpuUsPerJob * 3) / 4,
    cpuUsPerJob,
    wallUsPerJob,
    rssAfterSubmitMB: 100,
    maxRssMB: 120,
    dbBytesAfterSubmit: 5 * 2 ** 20,
    dbBytesAfterDrain: 20 * 2 ** 20,
    completed: n,
    left: 0,
    warmupS: 0.5,
  };
}

const ok = (store: string, n: number, cpu: number, wall: number): ScaleRun => ({
  store,
  n,
  status: "ok",
  load1: 2,
  result: result(n, cpu, wall),
});

const runs: ScaleRun[] = [
  ok("sqlite", 10_000, 100, 200),
  ok("sqlite", 100_000, 110, 210),
  ok("sqlite", 1_000_000, 125, 270),
  ok("postgres", 10_000, 150, 300),
  ok("postgres", 100_000, 210, 330),
  { store: "postgres", n: 1_000_000, status: "skipped", reason: "estimated 20 min > --max-minutes 15" },
];

describe("parseScaleArgs", () => {
  it("defaults to 10k, 100k and 1M on both stores at concurrency 50, and skips pnpm's --", () => {
    const o = parseScaleArgs(["--"]);
    expect(o).toMatchObject({ sizes: [10_000, 100_000, 1_000_000], stores: ["sqlite", "postgres"], concurrency: 50, batch: 1000 });
    expect(o).toMatchObject({ json: "bench-results/scale.json", maxMinutes: 15, quick: false });
  });

  it("takes sizes (sorted, once each), stores and the other options", () => {
    const o = parseScaleArgs(["--sizes", "100000,10000,10000", "--stores", "postgres", "--max-minutes", "0", "--json", "x.json"]);
    expect(o).toMatchObject({ sizes: [10_000, 100_000], stores: ["postgres"], maxMinutes: 0, json: "x.json" });
  });

  it("makes --quick a smoke run of small sizes with its own JSON, unless --sizes says otherwise", () => {
    expect(parseScaleArgs(["--quick"])).toMatchObject({ quick: true, sizes: [1000, 5000], json: "bench-results/scale-quick.json" });
    expect(parseScaleArgs(["--quick", "--sizes", "200"]).sizes).toEqual([200]);
  });

  it("refuses a bad size, store or number, naming the option", () => {
    expect(() => parseScaleArgs(["--sizes", "10k"])).toThrow(/--sizes/);
    expect(() => parseScaleArgs(["--sizes", "0"])).toThrow(/--sizes/);
    expect(() => parseScaleArgs(["--stores", "redis"])).toThrow(/--stores takes sqlite, postgres/);
    expect(() => parseScaleArgs(["--concurrency", "1.5"])).toThrow(/--concurrency/);
    expect(() => parseScaleArgs(["--max-minutes", "-1"])).toThrow(/--max-minutes/);
    expect(() => parseScaleArgs(["--nope"])).toThrow();
  });
});

describe("costRatios", () => {
  it("compares each store's largest measured size with its smallest and flags a ratio above 1.3×", () => {
    const [sqlite, postgres] = costRatios(runs);
    expect(sqlite).toMatchObject({ store: "sqlite", fromN: 10_000, toN: 1_000_000, cpuFlagged: false, wallFlagged: true });
    expect(sqlite?.cpuRatio).toBeCloseTo(1.25);
    expect(sqlite?.wallRatio).toBeCloseTo(1.35);
    // The skipped 1M is not a measurement: PostgreSQL's ratio is 100k against 10k.
    expect(postgres).toMatchObject({ store: "postgres", fromN: 10_000, toN: 100_000, cpuFlagged: true, wallFlagged: false });
    expect(postgres?.cpuRatio).toBeCloseTo(1.4);
  });

  it("gives no ratio for a store with one measured size", () => {
    expect(costRatios([ok("sqlite", 10_000, 100, 200), { store: "sqlite", n: 20_000, status: "crashed", reason: "x" }])).toEqual([]);
  });
});

describe("estimateMinutes", () => {
  it("scales the store's previous size's wall time per job to n, padded by 1.3×, and has nothing for its first size", () => {
    // 270 µs per job at 1M → 10M jobs: 2,700 s × 1.3 = 58.5 min.
    expect(estimateMinutes(runs, "sqlite", 10_000_000)).toBeCloseTo(58.5);
    expect(estimateMinutes(runs, "sqlite", 10_000)).toBeUndefined();
    expect(estimateMinutes([], "postgres", 1_000_000)).toBeUndefined();
  });
});

describe("renderScaleTable", () => {
  it("has a row per store and size, says why a size was skipped, and a ratio line per store", () => {
    const table = renderScaleTable(runs, costRatios(runs));
    const lines = table.split("\n");
    expect(lines[0]).toMatch(/^\| store +\| +backlog \| submit jobs\/s \|/);
    expect(lines.filter((l) => l.startsWith("| sqlite"))).toHaveLength(3);
    expect(lines.find((l) => l.startsWith("| postgres") && l.includes("1,000,000"))).toMatch(/\| +skipped \| +– \|/);
    expect(table).toContain("- postgres 1,000,000: skipped: estimated 20 min > --max-minutes 15");
    expect(table).toContain("125.0 (31.3 + 93.8)");
    expect(table).toContain("5.0 MB → 20 MB");
    expect(table).toContain("- sqlite: per-job cost at 1M against 10k: CPU 1.25× (within 1.3×), wall 1.35× (above 1.3×)");
    expect(table).toContain("- postgres: per-job cost at 100k against 10k: CPU 1.40× (above 1.3×: NOT flat)");
  });

  it("names sizes as 10k, 100k, 1M", () => {
    expect([10_000, 100_000, 1_000_000, 1500].map(sizeLabel)).toEqual(["10k", "100k", "1M", "1,500"]);
  });
});

const json: ScaleJson = {
  kind: "scale",
  date: "2026-12-02T08:00:00.000Z",
  command: "node src/scale.mjs",
  smoke: false,
  machine: { cpus: 2, cpuModel: "AMD EPYC", node: "v20.20.2" },
  load: { start: 3, end: 4, max: 5 },
  params: { concurrency: 50 },
  runs,
};

describe("the scale chart", () => {
  it("plots CPU and wall µs per job of each measured store and size, and nothing for a skipped one", () => {
    const data = scaleData(json);
    expect(data).toHaveLength(5 * 2);
    expect(data.filter((d) => d.store === "PostgreSQL").map((d) => d.n)).toEqual([10_000, 10_000, 100_000, 100_000]);
    expect(data).toContainEqual({ store: "SQLite", n: 1_000_000, metric: "CPU µs per job (bench process)", value: 125 });
  });

  it("draws each store's 1.3× line from its smallest backlog, and is the chart of a JSON of kind scale", () => {
    const spec = scaleChart(json).spec as { hconcat: { layer: { data: { values: { store: string; n: number; value: number }[] } }[] }[] };
    const cpuTarget = spec.hconcat[0]?.layer[1]?.data.values ?? [];
    expect(cpuTarget.filter((d) => d.store === "SQLite").map((d) => [d.n, d.value])).toEqual([
      [10_000, 130],
      [1_000_000, 130],
    ]);
    expect(chartsFor(json).map((c) => c.name)).toEqual(["cost"]);
    const nothingMeasured: ScaleJson = { ...json, runs: runs.filter((r) => r.status !== "ok") };
    expect(chartsFor(nothingMeasured)).toEqual([]);
  });

  it("renders to SVG in Node, with a smoke run labelled as such", async () => {
    const svg = await renderSvg(scaleChart({ ...json, smoke: true }).spec);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("SMOKE RUN (--quick): not results");
    expect(svg).toContain("PostgreSQL");
    // The skipped size is not a point: the subtitle says so.
    expect(svg).toContain("not measured: PostgreSQL 1,000,000 (skipped: estimated 20 min &gt; --max-minutes 15)");
  });
});

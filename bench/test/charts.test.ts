// The peer bench's charts show the figures its JSON holds (medians, ranges, cold runs, caps), say
// where they come from (a smoke run says so), and render to SVG in Node with the pinned vega and
// vega-lite (no canvas, no browser): the assumption their versions in package.json cover.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@pyrexis/test-utils";
import { describe, expect, it } from "vitest";
import { chartsFor, kindOf, writeCharts } from "../src/charts/index.mjs";
import { latencyData, peerCharts, provenance, throughputData, type PeersJson } from "../src/charts/peers.mjs";
import { renderSvg } from "../src/charts/render.mjs";

type Measurement = PeersJson["measurements"][number];

const drain = (drainRate: number, timedOut = false) => ({ drainRate, timedOut });

/** A peers JSON as peers.mjs writes it: two runs of "a", one of "b" (which crashed at c=50). */
function peersJson(overrides: Partial<PeersJson> = {}): PeersJson {
  const measurements: Measurement[] = [
    { run: 0, contender: "a", scenario: "drain-c50", status: "ok", result: drain(100), cold: drain(50) },
    { run: 1, contender: "a", scenario: "drain-c50", status: "ok", result: drain(300), cold: drain(70) },
    { run: 0, contender: "a", scenario: "drain-c1", status: "ok", result: drain(20, true), cold: drain(10, true) },
    { run: 0, contender: "b", scenario: "drain-c50", status: "crashed", reason: "child exited (1)" },
    { run: 0, contender: "a", scenario: "latency", status: "ok", result: { p50: 0, p99: 2, max: 3 }, cold: { p99: 9 } },
    { run: 0, contender: "b", scenario: "latency-xproc", status: "ok", result: { p50: 5, p99: 6, max: 7 } },
  ];
  return {
    kind: "peers",
    date: "2026-12-02T07:00:00.000Z",
    command: "node src/peers.mjs --runs 2",
    smoke: false,
    machine: { cpus: 2, cpuModel: "AMD EPYC", node: "v20.20.2" },
    load: { start: 1.5, end: 2, max: 3.25 },
    params: { n: 1000, runs: 2, drainTimeoutMs: 30_000, latency: { rate: 200, seconds: 5 } },
    versions: { "pkg-a": "1.2.3" },
    contenders: [
      { id: "b", label: "B (later in the table)", pkg: "pkg-b" },
      { id: "a", label: "A", pkg: "pkg-a" },
    ],
    measurements,
    ...overrides,
  };
}

describe("throughputData", () => {
  it("gives the median and range over runs of each drain, the cold drain as a series of its own, and which were capped", () => {
    expect(throughputData(peersJson())).toEqual([
      { contender: "A 1.2.3", series: "drain c=1", value: 20, min: 20, max: 20, runs: 1, capped: true },
      { contender: "A 1.2.3", series: "drain c=50", value: 200, min: 100, max: 300, runs: 2, capped: false },
      { contender: "A 1.2.3", series: "drain c=50, cold (first in its process)", value: 60, min: 50, max: 70, runs: 2, capped: false },
    ]);
  });

  it("names contenders of a JSON from before the charts by the labels given, else by id", () => {
    const old = peersJson({ contenders: undefined, kind: undefined });
    expect(new Set(throughputData(old).map((d) => d.contender))).toEqual(new Set(["a"]));
    expect(new Set(throughputData(old, [{ id: "a", label: "Old A", pkg: "pkg-a" }]).map((d) => d.contender))).toEqual(
      new Set(["Old A 1.2.3"]),
    );
  });
});

describe("latencyData", () => {
  it("puts each way of adding jobs in its panel, in the table's order, with the cold p99 beside the measured percentiles", () => {
    const rows = latencyData(peersJson()).map(({ panel, contender, series, value }) => [panel, contender, series, value]);
    expect(rows).toEqual([
      // 0 ms (same millisecond) cannot sit on a log axis: drawn at 0.01 ms.
      ["added in the same process", "A 1.2.3", "p50", 0.01],
      ["added in the same process", "A 1.2.3", "p99", 2],
      ["added in the same process", "A 1.2.3", "max", 3],
      ["added in the same process", "A 1.2.3", "p99, cold", 9],
      ["added by another process", "B (later in the table)", "p50", 5],
      ["added by another process", "B (later in the table)", "p99", 6],
      ["added by another process", "B (later in the table)", "max", 7],
    ]);
  });
});

describe("provenance", () => {
  it("says the date, command, runs, machine and load, and opens with the smoke label on a quick run", () => {
    expect(provenance(peersJson())).toEqual([
      "2026-12-02, node src/peers.mjs --runs 2 (from bench/)",
      "median of 2 runs; 2 × AMD EPYC, Node v20.20.2; load average 1.5 at the start, 3.3 at most",
    ]);
    expect(provenance(peersJson({ smoke: true }))[0]).toBe("SMOKE RUN (--quick): not results");
  });
});

describe("chartsFor", () => {
  it("draws a peers JSON, with or without its kind, and refuses a kind it has no charts for", () => {
    expect(kindOf(peersJson({ kind: undefined }))).toBe("peers");
    expect(chartsFor(peersJson()).map((c) => c.name)).toEqual(["throughput", "latency"]);
    expect(() => chartsFor({ kind: "other" })).toThrow(/no charts for a JSON of kind other; known kinds: peers, scale/);
    expect(() => chartsFor({})).toThrow(TypeError);
  });

  it("leaves out a chart with nothing to show", () => {
    const drainsOnly = peersJson();
    drainsOnly.measurements = drainsOnly.measurements.filter((m) => m.scenario.startsWith("drain"));
    expect(peerCharts(drainsOnly).map((c) => c.name)).toEqual(["throughput"]);
  });
});

describe("rendering", () => {
  it("renders each chart to a standalone SVG with its labels, in Node", async () => {
    for (const chart of peerCharts(peersJson())) {
      const svg = await renderSvg(chart.spec);
      expect(svg.startsWith("<svg")).toBe(true);
      expect(svg).toContain("A 1.2.3");
      expect(svg).toContain("median of 2 runs");
    }
  });

  it("writes <dir>/<prefix>-<chart>.svg for each chart", async () => {
    const dir = tempDir("pyrexis-bench-charts-").dir;
    const written = await writeCharts(peersJson(), { dir, prefix: "peers" });
    expect(written).toEqual([join(dir, "peers-throughput.svg"), join(dir, "peers-latency.svg")]);
    for (const path of written) {
      expect(existsSync(path)).toBe(true);
      expect(readFileSync(path, "utf8")).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    }
  });
});

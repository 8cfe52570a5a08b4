// The README's metric catalogue is data the emitters' tests check against (see metric-catalogue.ts);
// here: that it parses, and that each row is what a registry really exposes for its registry name.
import { describe, expect, it } from "vitest";
import { MetricsRegistry } from "../src/index.js";
import { catalogueProblems, missingRows, readCatalogue } from "./metric-catalogue.js";

const UNIT_OF_TYPE = { counter: ["jobs", "attempts", "requests"], gauge: ["jobs", "units"], summary: ["seconds"] } as const;

describe("the README's metric catalogue", () => {
  const catalogue = readCatalogue();

  it("lists the engine's, the CLI's, the pipeline's and the dashboard's metrics, each once, with a meaning", () => {
    expect(catalogue.length).toBeGreaterThanOrEqual(15);
    expect(new Set(catalogue.map((e) => e.name)).size).toBe(catalogue.length);
    for (const emitter of ["engine", "CLI", "pipeline", "dashboard"])
      expect(
        catalogue.some((e) => e.emittedBy.includes(emitter)),
        emitter,
      ).toBe(true);
    for (const e of catalogue) {
      expect(e.meaning.length, e.name).toBeGreaterThan(20);
      expect(UNIT_OF_TYPE[e.type] as readonly string[], `${e.name}: unit ${e.unit} for a ${e.type}`).toContain(e.unit);
      for (const by of e.emittedBy) expect(["engine", "CLI", "pipeline", "dashboard"], e.name).toContain(by);
    }
  });

  it("each row is exactly what a default registry exposes for its registry name, type and labels", () => {
    for (const e of catalogue) {
      const m = new MetricsRegistry();
      const labels = Object.fromEntries(e.labels.map((l) => [l, "x"]));
      if (e.type === "counter") m.increment(e.source, 1, labels);
      else if (e.type === "gauge") m.setGauge(e.source, 1, labels);
      else m.observe(e.source, 1, labels);
      const text = m.toPrometheus();
      expect(text.split("\n")[0], e.source).toBe(`# TYPE ${e.name} ${e.type}`);
      const seen = new Set<string>();
      const emitter = e.emittedBy[0]!;
      expect(catalogueProblems(text, emitter, { catalogue, sourceNames: Object.keys(m.getCounters()), seen })).toEqual([]);
      expect(seen).toEqual(new Set([e.name]));
    }
  });

  it("the checker reports an unprefixed, an undocumented, a mistyped and a mislabelled metric, and a row nobody emitted", () => {
    const bare = new MetricsRegistry({ namespace: "" });
    bare.increment("job.submitted");
    const m = new MetricsRegistry();
    m.increment("job.invented");
    m.increment("jobs.queued");
    m.setGauge("jobs.running", 1, { mode: "async", pool: "a" });
    const seen = new Set<string>();
    const problems = catalogueProblems(bare.toPrometheus() + m.toPrometheus(), "engine", {
      catalogue,
      sourceNames: Object.keys(m.getCounters()),
      seen,
    });
    expect(problems).toEqual([
      "not under pyrexis_: # TYPE job_submitted_total counter",
      "not under pyrexis_: job_submitted_total 1",
      "job_submitted_total (counter) is not in the README's catalogue",
      "pyrexis_job_invented_total (counter) is not in the README's catalogue",
      "pyrexis_jobs_queued_total (counter) is not in the README's catalogue",
      "pyrexis_jobs_running: the README lists labels [mode], the exposition has [mode, pool]",
      "registry name job.invented is not in the README's catalogue",
    ]);
    const g = new MetricsRegistry();
    g.setGauge("jobs", 1, { status: "pending" });
    expect(catalogueProblems(g.toPrometheus(), "engine", { catalogue })).toEqual([
      "pyrexis_jobs: the README does not name engine among its emitters",
    ]);
    expect(missingRows("engine", seen, catalogue)).toContain("pyrexis_job_submitted_total");
  });

  it("a README without the section, or with a malformed row, is an error rather than an empty catalogue", () => {
    expect(() => readCatalogue("# nothing here\n")).toThrow(/no "## Metrics Pyrexis emits" section/);
    expect(() => readCatalogue("\n## Metrics Pyrexis emits\n\n| `pyrexis_x` | `x` | counter |\n")).toThrow(/3 cells/);
    expect(() => readCatalogue("\n## Metrics Pyrexis emits\n\n| `pyrexis_x` | `x` | meter | – | jobs | engine | a meaning |\n")).toThrow(
      /type meter/,
    );
  });
});

// Every metric a real engine run and `pyrexis metrics --prometheus` expose is under `pyrexis_` and
// documented in packages/metrics/README.md (name, type, labels, emitter), and every row the README
// gives the engine or the CLI is really emitted. A metric added, renamed or relabelled without its
// row (or a row left behind) fails here.
import { createEngine, type Engine } from "@pyrexis/engine";
import { tempDir } from "@pyrexis/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { catalogueProblems, missingRows, readCatalogue } from "../../metrics/test/metric-catalogue.js";
import { HANDLERS, pyrexis } from "./helpers.js";

// One store for the file: the engine's run fills it, then the CLI reads it.
const tmp = tempDir("pyrexis-cli-metrics-");
const db = tmp.file("jobs.db");
let engine: Engine | undefined;
let loop: Promise<void> | undefined;

afterAll(async () => {
  await engine?.shutdown({ graceMs: 0 });
  await loop;
  tmp.remove();
});

describe("the metric catalogue against real emitters", () => {
  const catalogue = readCatalogue();
  const seenEngine = new Set<string>();
  const seenCli = new Set<string>();

  it("an engine that completed, retried, failed and cancelled jobs in every mode exposes only documented pyrexis_ metrics", async () => {
    engine = await createEngine({
      store: db,
      handlers: HANDLERS,
      concurrency: { async: 4, thread: 1, process: 1 },
      thread: { maxWorkers: 1 },
      process: { maxWorkers: 1 },
      limits: { api: { rate: { units: 100, perMs: 60_000 }, maxConcurrent: 2 } },
      groupWeights: { "tenant-a": 2 },
    });
    const started = new Promise<void>((resolve) => engine!.on("job:started", ({ job }) => job.handler === "slow" && resolve()));
    loop = engine.runLoop();
    const jobs = await engine.submitJobs([
      { handler: "echo", payload: { text: "hi" } },
      { handler: "sum", payload: [1, 2, 3], mode: "thread" },
      { handler: "sum", payload: [4, 5], mode: "process" },
      { handler: "fail", maxAttempts: 2, backoff: { baseMs: 1, maxMs: 1 } },
      { handler: "slow", payload: { ms: 60_000 } },
      { handler: "echo", payload: { text: "flow" }, limits: [{ key: "api", units: 3 }], group: "tenant-a" },
    ]);
    await started;
    await engine.cancelJob(jobs[4]!.id);
    const results = await Promise.all(jobs.map((j) => engine!.waitForResult(j.id)));
    expect(results.map((r) => r.status)).toEqual(["completed", "completed", "completed", "failed", "cancelled", "completed"]);

    const metrics = engine.getMetrics();
    const text = metrics.toPrometheus();
    const { counters, gauges, timings } = metrics.snapshot();
    const sourceNames = [...Object.keys(counters), ...Object.keys(gauges), ...Object.keys(timings)];
    expect(catalogueProblems(text, "engine", { catalogue, sourceNames, seen: seenEngine })).toEqual([]);
    expect(counters).toMatchObject({ "job.submitted": 6, "job.completed": 4, "job.failed": 1, "job.retries": 1, "job.cancelled": 1 });
    expect(text).toMatch(/^pyrexis_job_execution_seconds_count 7$/m);
    expect(text).toMatch(/^pyrexis_flow_dispatched_total\{group="tenant-a"\} 1$/m);
    expect(text).toMatch(/^pyrexis_flow_limit_units\{limit="api"\} 3$/m);
    expect(text).toMatch(/^pyrexis_flow_limit_units_used\{limit="api"\} 3$/m);
    expect(text).toMatch(/^pyrexis_flow_limit_waiting\{limit="api"\} 0$/m);
    expect(text).toMatch(/^pyrexis_flow_group_waiting\{group="tenant-a"\} 0$/m);
  });

  it("pyrexis metrics --prometheus on that store exposes only documented pyrexis_ metrics", async () => {
    await engine!.shutdown({ graceMs: 0 });
    await loop;
    const r = await pyrexis(["metrics", "--prometheus", "--store", db], tmp.dir);
    expect(r.code, r.stderr).toBe(0);
    expect(catalogueProblems(r.stdout, "CLI", { catalogue, seen: seenCli })).toEqual([]);
    expect(r.stdout).toMatch(/^pyrexis_job_retried_attempts_total 1$/m);
  });

  it("every row the README gives the engine or the CLI was emitted above", () => {
    expect(missingRows("engine", seenEngine, catalogue)).toEqual([]);
    expect(missingRows("CLI", seenCli, catalogue)).toEqual([]);
  });
});

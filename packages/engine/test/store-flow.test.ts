// Limits, concurrency keys and group shares across engines: on a store with the flow capability
// (SQLite here, and a MemoryJobStore created with `flow: true`), their state lives in the store
// and changes inside the claim, so they hold for every engine on it together.
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import pg from "pg";
import type { Job } from "@pyrexis/models";
import { MemoryJobStore, type JobStore } from "@pyrexis/storage";
import { PostgresJobStore } from "@pyrexis/storage-postgres";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import type { Engine, EngineOptions, HandlerMap } from "../src/index.js";
import { engineWith, tempDir, until } from "./helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// PostgreSQL: this file's own schema, one per test (the flow state must start empty), dropped at the end.
const pgBase = process.env.PYREXIS_PG_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const pgSchemas: string[] = [];
afterAll(async () => {
  const client = new pg.Client({ connectionString: pgBase });
  await client.connect();
  for (const schema of pgSchemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

async function postgresPair(): Promise<[JobStore, JobStore]> {
  const schema = `pyx_flow_${Math.random().toString(36).slice(2, 10)}`;
  pgSchemas.push(schema);
  const url = new URL(pgBase);
  url.searchParams.set("schema", schema);
  const first = await PostgresJobStore.open({ connectionString: url.toString() });
  return [first, await PostgresJobStore.open({ connectionString: url.toString() })];
}

async function sqlitePair(): Promise<[JobStore, JobStore]> {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const path = join(dir, "flow.db");
  return [await SqliteJobStore.open({ path }), await SqliteJobStore.open({ path })];
}

/** Two engines, one per store handle, each with `options`; shut down after the test. */
function twoEngines(stores: readonly JobStore[], handlers: HandlerMap, options: Partial<EngineOptions>): Engine[] {
  // The engines share the store handles: the test closes them once both engines are down.
  const engines = stores.map((store) => engineWith(handlers, { ...options, store, closeStore: false }));
  cleanups.push(async () => {
    for (const e of engines) await e.shutdown();
    for (const store of new Set(stores)) await store.close();
  });
  return engines;
}

/** Every `job:started` of the engines, in the order they were seen, with the engine's index. */
function recordStarts(engines: readonly Engine[]): { job: Job; engine: number }[] {
  const starts: { job: Job; engine: number }[] = [];
  engines.forEach((e, i) => e.on("job:started", ({ job }) => starts.push({ job, engine: i })));
  return starts;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each([
  ["SQLite, two handles on one file", sqlitePair],
  ["PostgreSQL, two stores on one schema", postgresPair],
  [
    "MemoryJobStore({ flow: true }) shared by two engines",
    async (): Promise<[JobStore, JobStore]> => {
      const store = new MemoryJobStore({ flow: true });
      return [store, store];
    },
  ],
])("flow across engines: %s", (_name, open) => {
  it("maxConcurrent holds across engines: never more than 2 jobs of the key run at once, in either engine", async () => {
    // Three engines of concurrency 1 on a cap of 2: two jobs running at once are in two engines,
    // and the third engine finds the cap full. The first job waits until a second one runs (on
    // another engine, necessarily), so the cross-engine case is always reached, however the
    // engines happen to be scheduled.
    let running = 0;
    let peak = 0;
    let paired = false;
    let pair!: () => void;
    const bothRunning = new Promise<void>((r) => (pair = r));
    const handlers: HandlerMap = {
      gpu: async () => {
        running++;
        peak = Math.max(peak, running);
        if (!paired) {
          if (running >= 2) {
            paired = true;
            pair();
          } else await bothRunning;
        }
        await sleep(5);
        running--;
        return null;
      },
    };
    const [a, b] = await open();
    const engines = twoEngines([a, b, a], handlers, { limits: { gpu: { maxConcurrent: 2 } }, concurrency: { async: 1 } });
    const starts = recordStarts(engines);
    const jobs = await engines[0]!.submitJobs(Array.from({ length: 40 }, () => ({ handler: "gpu", limits: [{ key: "gpu", units: 1 }] })));
    const loops = engines.map((e) => e.runLoop());
    for (const job of jobs) await engines[1]!.waitForResult(job.id);
    expect(peak).toBeLessThanOrEqual(2);
    expect(peak).toBe(2); // both slots were used, by two engines (each runs one job at a time)
    expect(new Set(starts.map((s) => s.engine)).size).toBeGreaterThanOrEqual(2);
    expect(starts.every((s) => s.job.attempts === 1)).toBe(true); // a job waiting for a slot had no attempt counted
    for (const e of engines) await e.shutdown();
    await Promise.all(loops);
  });

  it("flow.limit_waiting reports the jobs the engine's claims found waiting in the store for the limit", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handlers: HandlerMap = { gpu: () => gate.then(() => null) };
    const [store, spare] = await open();
    if (spare !== store) await spare.close(); // one engine is enough here
    const [engine] = twoEngines([store], handlers, { limits: { gpu: { maxConcurrent: 1 } }, concurrency: { async: 4 } });
    const jobs = await engine!.submitJobs(Array.from({ length: 3 }, () => ({ handler: "gpu", limits: [{ key: "gpu", units: 1 }] })));
    const loop = engine!.runLoop();
    const waiting = (): number | undefined => engine!.getMetrics().getGauges()['flow.limit_waiting{limit="gpu"}'];
    try {
      await until(() => waiting() === 2); // one runs, two wait in the store (the engine had room to claim them)
      expect(engine!.getMetrics().getGauges()['flow.limit_running{limit="gpu"}']).toBe(1);
    } finally {
      release(); // else a failed check leaves the handler, and the engine's shutdown, waiting forever
    }
    for (const job of jobs) await engine!.waitForResult(job.id);
    await until(() => waiting() === 0); // the last claims found nothing waiting
    await engine!.shutdown();
    await loop;
  });

  it("a rate holds across engines: no window of perMs admits more than its units (by the store's claim times)", async () => {
    const perMs = 300;
    const cap = 12;
    const engines = twoEngines(await open(), { call: () => null }, { limits: { api: { rate: { units: cap, perMs } } } });
    const starts = recordStarts(engines);
    const weights = [5, 3, 4, 2, 6, 1, 3, 5, 2, 4, 3, 3];
    const jobs = await engines[0]!.submitJobs(weights.map((units) => ({ handler: "call", limits: [{ key: "api", units }] })));
    const loops = engines.map((e) => e.runLoop());
    for (const job of jobs) await engines[1]!.waitForResult(job.id);
    expect(starts).toHaveLength(weights.length);
    // A claimed record's updatedAt is the store's claim time: the admission time.
    const admitted = starts.map(({ job }) => [job.updatedAt, job.limits![0]!.units] as const);
    for (const [t0] of admitted) {
      const sum = admitted.filter(([t]) => t > t0 - perMs && t <= t0).reduce((a, [, u]) => a + u, 0);
      expect(sum, `window ending at ${t0}`).toBeLessThanOrEqual(cap);
    }
    for (const e of engines) await e.shutdown();
    await Promise.all(loops);
  });

  it("ctx.charge is written to the store: a credit lets another engine's job start before the window moves", async () => {
    const engines = twoEngines(
      await open(),
      {
        first: (_p, ctx) => {
          ctx.charge(1);
          return null;
        },
        second: () => null,
      },
      { limits: { api: { rate: { units: 10, perMs: 60_000 } } } },
    );
    const [a, b] = engines as [Engine, Engine];
    const loopA = a.runLoop();
    const first = await a.submitJob({ handler: "first", limits: [{ key: "api", units: 10 }] });
    await a.waitForResult(first.id);
    // Only B claims now: without the credit, a 9-unit job would wait a minute.
    await a.shutdown();
    await loopA;
    const loopB = b.runLoop();
    const second = await b.submitJob({ handler: "second", limits: [{ key: "api", units: 9 }] });
    await until(async () => (await b.store.getJob(second.id))?.status === "completed", "the second job to complete within the window");
    // The window B sees is the store's: 1 (charged) + 9 = 10 of 10, so 2 more units must wait.
    const third = await b.submitJob({ handler: "second", limits: [{ key: "api", units: 2 }] });
    await sleep(150);
    expect((await b.store.getJob(third.id))?.status).toBe("pending");
    expect((await b.store.getJob(third.id))?.attempts).toBe(0);
    await b.shutdown();
    await loopB;
  });

  it("groups weighted 3:1 share dispatches across engines, and a new group is served within one round", async () => {
    const engines = twoEngines(await open(), { work: () => null }, { groupWeights: { a: 3 }, concurrency: { async: 2 } });
    const starts = recordStarts(engines);
    const specs = [];
    for (let i = 0; i < 200; i++) specs.push({ handler: "work", group: "a" }, { handler: "work", group: "b" });
    const jobs = await engines[0]!.submitJobs(specs);
    const loops = engines.map((e) => e.runLoop());
    await until(() => starts.length >= 40, "40 starts");
    const late = await engines[0]!.submitJob({ handler: "work", group: "c", priority: 0 });
    const seenAt = starts.length;
    for (const job of [...jobs, late]) await engines[1]!.waitForResult(job.id);
    const first = starts.slice(0, 80);
    const a = first.filter((s) => s.job.group === "a").length;
    expect(a / first.length).toBeGreaterThanOrEqual(0.7); // 3:1 is 0.75 of the dispatches
    expect(a / first.length).toBeLessThanOrEqual(0.8);
    const cAt = starts.findIndex((s) => s.job.id === late.id);
    // Claims already handed out (each engine's slots and prefetch) run first; then c goes next.
    expect(cAt - seenAt).toBeLessThanOrEqual(2 * 2 * 3);
    for (const e of engines) await e.shutdown();
    await Promise.all(loops);
  });
});

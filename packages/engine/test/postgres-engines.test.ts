import { afterAll, afterEach, describe, expect, it } from "vitest";
import pg from "pg";
import { createJob, ManualClock, parseJobSpec } from "@pyrexis/models";
import { PostgresJobStore } from "@pyrexis/storage-postgres";
import { createEngine, tickJobId, type Engine } from "../src/index.js";
import { until } from "./helpers.js";

// Two engines on one PostgreSQL schema, as on two machines: they share the work through claims,
// run every job once, and each sees the results the other wrote. The schema is this file's own.

const base = process.env.PYREXIS_PG_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `pyx_engines_${Math.random().toString(36).slice(2, 10)}`;
const url = new URL(base);
url.searchParams.set("schema", schema);

// Engines a test started: a failed assertion must not leave them polling the dropped schema.
const live: Engine[] = [];
function track(engine: Engine): Engine {
  live.push(engine);
  return engine;
}
afterEach(async () => {
  await Promise.all(live.splice(0).map((e) => e.shutdown({ graceMs: 0 }).catch(() => {})));
});

afterAll(async () => {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

describe("engines on one PostgreSQL store", () => {
  it("two engines run every job a third process submitted, once between them, and both read every result", async () => {
    const runs: { engine: string; id: string }[] = [];
    const handlersOf = (name: string) => ({
      work: async (payload: unknown) => {
        runs.push({ engine: name, id: String(payload) });
        await new Promise((resolve) => setImmediate(resolve));
        return payload;
      },
    });
    const a = track(await createEngine({ store: url.toString(), handlers: handlersOf("a"), concurrency: { async: 2 } }));
    const b = track(await createEngine({ store: url.toString(), handlers: handlersOf("b"), concurrency: { async: 2 } }));
    expect(a.owner).not.toBe(b.owner);
    const loops = [a.runLoop(), b.runLoop()];
    // Written straight into the database, as `pyrexis submit` on a third machine would: the
    // engines learn of them by the store's notifications.
    const submitter = await PostgresJobStore.open({ connectionString: url.toString() }, { listen: false });
    const jobs = Array.from({ length: 60 }, (_, i) => createJob(parseJobSpec({ handler: "work", payload: `p${i}` }), Date.now()));
    await submitter.commit({ insert: jobs });
    await submitter.close();
    // Through the store rather than b.waitForResult: the engine can drop a remote-result check
    // that a change signals while another check runs (reported; the engine is being reworked).
    await until(async () => (await b.countByStatus()).completed === 60, "every job to complete");
    const results = await Promise.all(jobs.map((j) => b.store.getResult(j.id)));
    expect(results.map((r) => r?.status)).toEqual(jobs.map(() => "completed"));
    const ids = runs.map((r) => r.id).sort();
    expect(ids).toEqual(jobs.map((_, i) => `p${i}`).sort());
    expect(await a.countByStatus()).toMatchObject({ completed: 60, running: 0, pending: 0 });
    await Promise.all([a.shutdown(), b.shutdown()]);
    await Promise.all(loops);
  });
});

describe("dependencies on one PostgreSQL store", () => {
  it(
    "two engines run a 2,000-node graph: every node once, after each of its parents completed; a failed root fails its subtree",
    { timeout: 120_000 },
    async () => {
      const N = 2000;
      let seed = 0xd6;
      const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
      const parents: string[][] = [];
      const specs = Array.from({ length: N }, (_, i) => {
        const p = new Set<string>();
        const k = i === 0 ? 0 : Math.floor(random() * 4);
        for (let j = 0; j < k; j++) p.add(`g${Math.max(0, i - 1 - Math.floor(random() * 100))}`);
        parents.push([...p]);
        return { id: `g${i}`, handler: "node", ...(p.size > 0 ? { dependsOn: [...p] } : {}) };
      });
      let tick = 0;
      const started = new Map<string, number>();
      const ended = new Map<string, number>();
      const runs = new Map<string, number>();
      const handlers = {
        node: async (_p: unknown, ctx: { jobId: string }) => {
          started.set(ctx.jobId, ++tick);
          runs.set(ctx.jobId, (runs.get(ctx.jobId) ?? 0) + 1);
          await new Promise((r) => setImmediate(r));
          ended.set(ctx.jobId, ++tick);
        },
        boom: () => Promise.reject(new Error("root failed")),
      };
      const a = track(await createEngine({ store: url.toString(), handlers, concurrency: { async: 16 } }));
      const b = track(await createEngine({ store: url.toString(), handlers, concurrency: { async: 16 } }));
      const loops = [a.runLoop(), b.runLoop()];
      // The schema is this file's: the other tests' jobs are in it too.
      const before = (await a.countByStatus()).completed;
      for (let i = 0; i < N; i += 500) await (i % 1000 === 0 ? a : b).submitJobs(specs.slice(i, i + 500));
      await b.submitJobs([
        { id: "bad-root", handler: "boom", maxAttempts: 1 },
        { id: "bad-child", handler: "node", dependsOn: ["bad-root", "g0"] },
        { id: "bad-grandchild", handler: "node", dependsOn: ["bad-child"] },
      ]);
      await until(
        async () => {
          const c = await a.countByStatus();
          return c.completed === before + N && c.waiting + c.pending + c.running + c.retrying === 0;
        },
        "the graph to finish",
        100_000,
      );
      expect((await a.store.getResult("bad-grandchild"))?.error?.message).toContain(
        "dependency bad-child failed (the chain started at job bad-root)",
      );
      expect(runs.size).toBe(N);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
      const early: string[] = [];
      for (let i = 0; i < N; i++) for (const p of parents[i]!) if (started.get(`g${i}`)! < ended.get(p)!) early.push(`g${i} before ${p}`);
      expect(early).toEqual([]);
      await Promise.all([a.shutdown(), b.shutdown()]);
      await Promise.all(loops);
    },
  );
});

describe("cron schedules on one PostgreSQL store", () => {
  it("5 engines (5 pools, as on 5 machines) race for each tick on fake time: exactly one job per tick, run once", async () => {
    const clock = new ManualClock(Date.parse("2026-01-05T10:01:00.000Z"));
    const ran: string[] = [];
    const submitted: number[] = [];
    const errors: unknown[] = [];
    const engines: Engine[] = [];
    for (let i = 0; i < 5; i++) {
      // The store's clock judges "due": the engines' fake one.
      const store = await PostgresJobStore.open({ connectionString: url.toString() }, { clock });
      // A lease far longer than the minutes the test moves the clock by: none expires under a running tick job.
      const engine = track(
        await createEngine({
          store,
          clock,
          leaseMs: 3_600_000,
          handlers: { work: (_p: unknown, ctx: { jobId: string }) => void ran.push(ctx.jobId) },
        }),
      );
      engine.on("schedule:tick", ({ submitted: s, tickAt }) => s && submitted.push(tickAt));
      engine.on("engine:error", ({ error }) => errors.push(error));
      engines.push(engine);
    }
    const loops = engines.map((e) => e.runLoop());
    await engines[3]!.schedule("pg-race", { cron: "* * * * *", spec: { handler: "work" } });
    for (let minute = 0; minute < 3; minute++) {
      clock.advance(60_000);
      // Completed, not only run: the next minute must not pass while a tick job's end is being written.
      await until(
        async () =>
          submitted.length === minute + 1 && (await engines[0]!.getJob(tickJobId("pg-race", clock.now())))?.status === "completed",
        `tick ${minute + 1} submitted and completed`,
      );
    }
    const page = await engines[0]!.listJobs({ limit: 100 });
    const ticks = page.jobs.filter((j) => j.id.startsWith("schedule:pg-race:")).map((j) => j.id);
    expect(ticks.sort()).toEqual([
      "schedule:pg-race:2026-01-05T10:02:00.000Z",
      "schedule:pg-race:2026-01-05T10:03:00.000Z",
      "schedule:pg-race:2026-01-05T10:04:00.000Z",
    ]);
    expect(ran.sort()).toEqual(ticks);
    expect(errors).toEqual([]);
    expect(await engines[0]!.unschedule("pg-race")).toBe(true);
    await Promise.all(engines.map((e) => e.shutdown()));
    await Promise.all(loops);
  });
});

import { describe, expect, it } from "vitest";
import { ManualClock, type Job, type JobStatus } from "@pyrexis/models";
import { MemoryJobStore, type JobStore, type PruneReport, type PruneRequest } from "@pyrexis/storage";
import { makeJob, makeResult } from "@pyrexis/storage/conformance";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { tempDir as makeTempDir } from "@pyrexis/test-utils";
import { existsSync } from "node:fs";
import { createEngine, resolveRetention, type RetentionOptions } from "../src/index.js";
import { deferred, engineWith, FlakyStore, until } from "./helpers.js";

const T0 = 1_700_000_000_000;
const DAY = 86_400_000;

/** Lets promises and immediates run (fake time does not move). */
async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** `count` jobs of `status` finished `ageMs` before `now`, one ms apart (the first is the oldest), each with a result. */
function finished(status: JobStatus, count: number, now: number, ageMs: number): { jobs: Job[]; results: ReturnType<typeof makeResult>[] } {
  const jobs = Array.from({ length: count }, (_, i) =>
    makeJob({ handler: "work", status, attempts: 1, createdAt: now - ageMs - DAY, updatedAt: now - ageMs + i }),
  );
  return { jobs, results: jobs.map((j) => makeResult(j.id, { status: status === "completed" ? "completed" : "failed" })) };
}

/** A memory store on `clock` with the prune calls it received. */
class CountingStore extends MemoryJobStore {
  readonly calls: PruneRequest[] = [];
  failNext = 0;
  override async pruneFinished(request: PruneRequest): Promise<PruneReport> {
    this.calls.push(request);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("disk on fire");
    }
    return super.pruneFinished(request);
  }
}

describe("the retention option is checked: bad settings are a ValidationError and write nothing", () => {
  const bad: [string, unknown][] = [
    ["not an object", "7d"],
    ["null", null],
    ["an array", [{ maxAgeMs: 1 }]],
    ["no rule", {}],
    ["only timing", { intervalMs: 1000, batchSize: 10 }],
    ["an unfinished status", { pending: { maxAgeMs: 1000 } }],
    ["running", { completed: { maxAgeMs: 1000 }, running: { maxAgeMs: 1 } }],
    ["retrying", { retrying: { maxCount: 1 } }],
    ["an empty rule", { completed: {} }],
    ["an unknown rule key", { completed: { maxAge: 1000 } }],
    ["a rule that is not an object", { failed: 1000 }],
    ["zero age", { completed: { maxAgeMs: 0 } }],
    ["negative age", { completed: { maxAgeMs: -1 } }],
    ["NaN age", { completed: { maxAgeMs: Number.NaN } }],
    ["infinite age", { completed: { maxAgeMs: Number.POSITIVE_INFINITY } }],
    ["fractional age", { completed: { maxAgeMs: 1.5 } }],
    ["a duration string", { completed: { maxAgeMs: "7d" } }],
    ["zero count", { cancelled: { maxCount: 0 } }],
    ["negative count", { cancelled: { maxCount: -5 } }],
    ["zero interval", { completed: { maxCount: 1 }, intervalMs: 0 }],
    ["NaN interval", { completed: { maxCount: 1 }, intervalMs: Number.NaN }],
    ["zero batch", { completed: { maxCount: 1 }, batchSize: 0 }],
    ["a batch above the store limit", { completed: { maxCount: 1 }, batchSize: 10_001 }],
  ];
  it.each(bad)("%s", async (_name, retention) => {
    const store = new MemoryJobStore();
    const { jobs, results } = finished("completed", 3, T0, DAY);
    await store.commit({ insert: jobs, results });
    expect(() => engineWith({ work: () => "ok" }, { store, retention: retention as RetentionOptions })).toThrow(
      expect.objectContaining({ name: "ValidationError", code: "VALIDATION", message: expect.stringMatching(/retention/) }),
    );
    expect(resolveRetention.bind(null, retention)).toThrow(/invalid engine option: retention/);
    expect(store.size).toBe(3);
  });

  it("createEngine on a SQLite path closes the store it opened when the option is refused", async () => {
    const dir = makeTempDir("pyrexis-engine-retention-");
    const path = dir.file("refused.db");
    await expect(
      createEngine({ store: path, handlers: { work: () => "ok" }, retention: { running: { maxAgeMs: 1 } } as RetentionOptions }),
    ).rejects.toMatchObject({ name: "ValidationError", message: expect.stringMatching(/retention\.running is not a finished status/) });
    // The last connection to close removes the WAL: an open (leaked) store would keep it.
    expect(existsSync(path)).toBe(true);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it("names the unfinished status it refuses", () => {
    expect(() => resolveRetention({ pending: { maxAgeMs: 1000 } })).toThrow(/retention\.pending is not a finished status/);
  });

  it("a store without the prune capability is refused, and the store stays free for another engine", async () => {
    const inner = new MemoryJobStore();
    // A store without claims or prune (the wrapper declares neither).
    const plain = new FlakyStore(inner);
    Object.defineProperty(plain, "capabilities", { value: {} });
    expect(() => engineWith({ work: () => "ok" }, { store: plain, retention: { completed: { maxCount: 10 } } })).toThrow(
      /needs a store with the prune capability/,
    );
    const engine = engineWith({ work: () => "ok" }, { store: plain });
    await engine.shutdown();
  });

  it("defaults: a round every minute, 500 jobs a batch; both limits of a rule become two steps", () => {
    expect(resolveRetention({ completed: { maxAgeMs: DAY, maxCount: 10 } })).toEqual({
      steps: [
        { status: "completed", limit: { maxAgeMs: DAY } },
        { status: "completed", limit: { maxCount: 10 } },
      ],
      intervalMs: 60_000,
      batchSize: 500,
    });
    expect(resolveRetention(undefined)).toBeUndefined();
  });
});

describe("pruning on fake time", () => {
  it("deletes old finished jobs in bounded batches, one store call per timer tick, and never an unfinished one", async () => {
    const clock = new ManualClock(T0);
    const store = new CountingStore({ clock });
    const old = finished("completed", 25, T0, 8 * DAY);
    const recent = finished("completed", 5, T0, DAY);
    const oldFailed = finished("failed", 4, T0, 8 * DAY);
    const unfinished = (["created", "pending", "retrying"] as const).map((status) =>
      makeJob({ handler: "work", status, createdAt: T0 - 30 * DAY, updatedAt: T0 - 30 * DAY, runAt: T0 + DAY }),
    );
    await store.commit({
      insert: [...old.jobs, ...recent.jobs, ...oldFailed.jobs, ...unfinished],
      results: [...old.results, ...recent.results],
    });
    const engine = engineWith(
      { work: () => "ok" },
      { store, clock, retention: { completed: { maxAgeMs: 7 * DAY }, intervalMs: 60_000, batchSize: 10 } },
    );
    const pruned: string[][] = [];
    engine.on("jobs:pruned", (e) => pruned.push([...e.jobIds]));
    const errors: unknown[] = [];
    engine.on("engine:error", (e) => errors.push(e.error));
    const loop = engine.runLoop();
    await settle();
    expect(store.calls).toEqual([]);
    clock.advance(60_000);
    await settle();
    // One batch, then the next waits for the next tick of the clock.
    expect(store.calls).toEqual([{ status: "completed", finishedBefore: T0 + 60_000 - 7 * DAY, limit: 10 }]);
    expect(pruned.map((p) => p.length)).toEqual([10]);
    clock.advance(0);
    await settle();
    clock.advance(0);
    await settle();
    expect(pruned.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(pruned.flat()).toEqual(old.jobs.map((j) => j.id));
    for (const j of old.jobs) expect(await store.getResult(j.id)).toBeUndefined();
    // The round is over: nothing until the next interval.
    const calls = store.calls.length;
    clock.advance(59_999);
    await settle();
    expect(store.calls.length).toBe(calls);
    clock.advance(1);
    await settle();
    expect(store.calls.length).toBe(calls + 1);
    for (const j of [...recent.jobs, ...oldFailed.jobs, ...unfinished]) expect((await store.getJob(j.id))?.status).toBe(j.status);
    expect(errors).toEqual([]);
    await engine.shutdown();
    await loop;
  });

  it("maxCount keeps the newest of each status; rules of other statuses are independent", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const done = finished("completed", 30, T0, DAY);
    const failed = finished("failed", 12, T0, 40 * DAY);
    const cancelled = finished("cancelled", 6, T0, 40 * DAY);
    await store.commit({ insert: [...done.jobs, ...failed.jobs, ...cancelled.jobs] });
    const engine = engineWith(
      { work: () => "ok" },
      {
        store,
        clock,
        retention: { completed: { maxCount: 20 }, failed: { maxAgeMs: 30 * DAY, maxCount: 100 }, intervalMs: 1000, batchSize: 4 },
      },
    );
    const loop = engine.runLoop();
    await settle();
    clock.advance(1000);
    for (let tick = 0; tick < 20; tick++) {
      await settle();
      clock.advance(0);
    }
    await settle();
    expect(await store.countByStatus()).toMatchObject({ completed: 20, failed: 0, cancelled: 6 });
    const kept = (await store.listJobs({ status: "completed", limit: 100 })).jobs.map((j) => j.id).sort();
    expect(kept).toEqual(
      done.jobs
        .slice(10)
        .map((j) => j.id)
        .sort(),
    );
    await engine.shutdown();
    await loop;
  });

  it("a running job whose handler is still at work is never pruned, however old its timestamps", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const gate = deferred();
    const engine = engineWith(
      { work: () => gate.promise.then(() => "done") },
      { store, clock, retention: { completed: { maxAgeMs: 1, maxCount: 1 }, intervalMs: 10, batchSize: 10 } },
    );
    const loop = engine.runLoop();
    const job = await engine.submitJob({ handler: "work" });
    await until(async () => (await store.getJob(job.id))?.status === "running", "running");
    // Rounds run (every 10 ms, any job finished more than 1 ms ago goes) while the job runs.
    for (let i = 0; i < 20; i++) {
      await settle();
      clock.advance(10);
    }
    expect((await store.getJob(job.id))?.status).toBe("running");
    gate.resolve();
    expect((await engine.waitForResult(job.id)).status).toBe("completed");
    await engine.shutdown();
    await loop;
  });

  it("dispatch goes on while a long prune is under way: a job submitted mid-prune completes before the prune is done", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const backlog = finished("completed", 2000, T0, 10 * DAY);
    await store.commit({ insert: backlog.jobs, results: backlog.results });
    const engine = engineWith(
      { work: () => "ok" },
      { store, clock, retention: { completed: { maxAgeMs: DAY }, intervalMs: 1000, batchSize: 100 } },
    );
    const loop = engine.runLoop();
    await settle();
    clock.advance(1000);
    await settle();
    const job = await engine.submitJob({ handler: "work" });
    expect((await engine.waitForResult(job.id)).status).toBe("completed");
    // Only the batches the clock has ticked for have run.
    expect((await store.countByStatus()).completed).toBeGreaterThan(1000);
    for (let tick = 0; tick < 25; tick++) {
      clock.advance(0);
      await settle();
    }
    expect((await store.countByStatus()).completed).toBe(1);
    expect(await store.getJob(job.id)).toBeDefined();
    await engine.shutdown();
    await loop;
  });

  it("a failing prune is reported as engine:error and retried next round; the engine keeps running", async () => {
    const clock = new ManualClock(T0);
    const store = new CountingStore({ clock });
    const old = finished("completed", 3, T0, 10 * DAY);
    await store.commit({ insert: old.jobs });
    store.failNext = 1;
    const engine = engineWith({ work: () => "ok" }, { store, clock, retention: { completed: { maxAgeMs: DAY }, intervalMs: 5000 } });
    const errors: { error: unknown; context: string }[] = [];
    engine.on("engine:error", (e) => errors.push(e));
    const loop = engine.runLoop();
    await settle();
    clock.advance(5000);
    await settle();
    expect(errors.map((e) => [e.context, (e.error as Error).message])).toEqual([
      ["retention: pruning completed jobs failed", "disk on fire"],
    ]);
    expect(store.size).toBe(3);
    const job = await engine.submitJob({ handler: "work" });
    expect((await engine.waitForResult(job.id)).status).toBe("completed");
    clock.advance(5000);
    await settle();
    expect((await store.countByStatus()).completed).toBe(1);
    await engine.shutdown();
    await loop;
  });

  it("shutdown stops the pruner: no store call after it, even when the clock moves on", async () => {
    const clock = new ManualClock(T0);
    const store = new CountingStore({ clock });
    const engine = engineWith(
      { work: () => "ok" },
      { store, clock, closeStore: false, retention: { completed: { maxAgeMs: DAY }, intervalMs: 1000 } },
    );
    const loop = engine.runLoop();
    await settle();
    clock.advance(1000);
    await settle();
    expect(store.calls.length).toBe(1);
    await engine.shutdown();
    await loop;
    clock.advance(10_000);
    await settle();
    expect(store.calls.length).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("several engines pruning one store", () => {
  async function twoEngines(stores: [JobStore, JobStore], clock: ManualClock): Promise<void> {
    const retention: RetentionOptions = { completed: { maxCount: 50 }, failed: { maxAgeMs: DAY }, intervalMs: 1000, batchSize: 25 };
    const engines = stores.map((store) => engineWith({ work: () => "ok" }, { store, clock, retention, closeStore: false }));
    const errors: unknown[] = [];
    const pruned: string[] = [];
    for (const e of engines) {
      e.on("engine:error", (x) => errors.push(x.error));
      e.on("jobs:pruned", (x) => pruned.push(...x.jobIds));
    }
    const done = finished("completed", 400, T0, 2 * DAY);
    const failed = finished("failed", 100, T0, 2 * DAY);
    await stores[0].commit({ insert: [...done.jobs, ...failed.jobs], results: [...done.results, ...failed.results] });
    const loops = engines.map((e) => e.runLoop());
    await settle();
    clock.advance(1000);
    for (let tick = 0; tick < 40; tick++) {
      await settle();
      clock.advance(0);
    }
    await until(async () => (await stores[1].countByStatus()).failed === 0 && (await stores[1].countByStatus()).completed === 50, "pruned");
    expect(errors).toEqual([]);
    expect(new Set(pruned).size).toBe(pruned.length);
    expect(pruned.length).toBe(450);
    const kept = (await stores[0].listJobs({ status: "completed", limit: 100 })).jobs.map((j) => j.id);
    expect(kept.sort()).toEqual(
      done.jobs
        .slice(350)
        .map((j) => j.id)
        .sort(),
    );
    for (const e of engines) await e.shutdown();
    await Promise.all(loops);
  }

  it("two engines on one MemoryJobStore: no errors, every job deleted once, the newest kept", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    await twoEngines([store, store], clock);
    await store.close();
  });

  it("two engines on two handles of one SQLite file: no errors, every job deleted once, the newest kept", async () => {
    const clock = new ManualClock(T0);
    const dir = makeTempDir("pyrexis-engine-retention-");
    const path = dir.file("shared.db");
    const a = await SqliteJobStore.open({ path }, { clock });
    const b = await SqliteJobStore.open({ path }, { clock });
    try {
      await twoEngines([a, b], clock);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

import { describe, expect, it } from "vitest";
import { AsyncExecutor, ExecutorRouter } from "@pyrexis/executors";
import { IncompatibleStoreError, isPyrexisError, ManualClock, StoreFailureError } from "@pyrexis/models";
import { MemoryJobStore } from "@pyrexis/storage";
import { Engine } from "../src/index.js";
import { deferred, engineWith, FlakyStore, until } from "./helpers.js";

describe("runLoop", () => {
  it("runs 500 concurrently submitted jobs exactly once each", async () => {
    const runs = new Map<string, number>();
    const engine = engineWith(
      {
        work: async (_p, ctx) => {
          runs.set(ctx.jobId, (runs.get(ctx.jobId) ?? 0) + 1);
          await new Promise((r) => setImmediate(r));
          return ctx.jobId;
        },
      },
      { concurrency: { async: 16 } },
    );
    const loop = engine.runLoop();
    const jobs = await Promise.all(Array.from({ length: 500 }, (_, i) => engine.submitJob({ handler: "work", payload: i })));
    const results = await Promise.all(jobs.map((j) => engine.waitForResult(j.id)));
    expect(results.every((r) => r.status === "completed")).toBe(true);
    expect(runs.size).toBe(500);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(await engine.countByStatus()).toMatchObject({ completed: 500, pending: 0, running: 0 });
    await engine.shutdown();
    await loop;
  });

  it("never runs more than the concurrency limit of a mode", async () => {
    let inFlight = 0;
    let peak = 0;
    const engine = engineWith(
      {
        work: async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await new Promise((r) => setTimeout(r, 2));
          inFlight--;
        },
      },
      { concurrency: { async: 3 } },
    );
    const loop = engine.runLoop();
    const jobs = await engine.submitJobs(Array.from({ length: 30 }, () => ({ handler: "work" })));
    await Promise.all(jobs.map((j) => engine.waitForResult(j.id)));
    expect(peak).toBe(3);
    await engine.shutdown();
    await loop;
  });

  it("wakes for a delayed job by its timer and emits drained when idle", async () => {
    const engine = engineWith({ echo: (p) => p });
    let drained = 0;
    engine.on("engine:drained", () => drained++);
    const loop = engine.runLoop();
    const t0 = Date.now();
    const job = await engine.submitJob({ handler: "echo", payload: "later", delayMs: 50 });
    const result = await engine.waitForResult(job.id);
    expect(result.output).toBe("later");
    expect(result.startedAt).toBeGreaterThanOrEqual(t0 + 50);
    await until(() => drained > 0, "drained");
    await engine.shutdown();
    await loop;
  });

  it("lets a low-priority job run under a continuous stream of high priority (aging)", async () => {
    // Each job takes 1 s of fake time. With agingRate 1, a priority-0 job is overtaken only by
    // jobs that became ready less than 10 s after it.
    const clock = new ManualClock(1_000_000);
    const order: string[] = [];
    const engine = engineWith(
      {
        work: (p: string) => {
          order.push(p);
          clock.advance(1000);
        },
      },
      { clock, agingRate: 1 },
    );
    await engine.submitJob({ handler: "work", payload: "low", priority: 0 });
    for (let i = 0; i < 40 && !order.includes("low"); i++) {
      await engine.submitJob({ handler: "work", payload: `high-${i}`, priority: 10 });
      await engine.runNext();
    }
    const at = order.indexOf("low");
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThanOrEqual(11);
    await engine.shutdown();
  });
});

describe("cancellation", () => {
  it("cancels a pending job: it leaves the queue and gets a cancelled result", async () => {
    let calls = 0;
    const engine = engineWith({ work: () => void calls++ });
    const job = await engine.submitJob({ handler: "work" });
    const cancelled = await engine.cancelJob(job.id);
    expect(cancelled.status).toBe("cancelled");
    expect(await engine.runNext()).toBeUndefined();
    expect(calls).toBe(0);
    expect(await engine.getResult(job.id)).toMatchObject({ status: "cancelled", attempts: 0, error: { code: "CANCELLED" } });
    await engine.shutdown();
  });

  it("cancels a retrying job waiting for its backoff", async () => {
    const engine = engineWith({
      boom: () => {
        throw new Error("x");
      },
    });
    const loop = engine.runLoop();
    const job = await engine.submitJob({ handler: "boom", backoff: { baseMs: 60_000 } });
    await until(async () => (await engine.getJob(job.id))?.status === "retrying", "retrying");
    await engine.cancelJob(job.id);
    expect(await engine.waitForResult(job.id)).toMatchObject({ status: "cancelled", attempts: 1 });
    expect(engine.queuedCount).toBe(0);
    await engine.shutdown();
    await loop;
  });

  it("cancels a running job through its signal", async () => {
    const started = deferred();
    let sawAbort = false;
    const engine = engineWith({
      wait: (_p, ctx) =>
        new Promise((_resolve, reject) => {
          started.resolve();
          ctx.signal.addEventListener("abort", () => {
            sawAbort = true;
            reject(ctx.signal.reason as Error);
          });
        }),
    });
    const loop = engine.runLoop();
    const job = await engine.submitJob({ handler: "wait" });
    await started.promise;
    const final = await engine.cancelJob(job.id);
    expect(sawAbort).toBe(true);
    expect(final.status).toBe("cancelled");
    expect(await engine.getResult(job.id)).toMatchObject({ status: "cancelled", attempts: 1 });
    await engine.shutdown();
    await loop;
  });

  it("refuses to cancel a finished job or an unknown one", async () => {
    const engine = engineWith({ echo: (p) => p });
    const job = await engine.submitJob({ handler: "echo" });
    await engine.runNext();
    const finished = await engine.cancelJob(job.id).catch((e: unknown) => e);
    expect(isPyrexisError(finished, "ILLEGAL_TRANSITION")).toBe(true);
    const unknown = await engine.cancelJob("nope").catch((e: unknown) => e);
    expect(isPyrexisError(unknown, "JOB_NOT_FOUND")).toBe(true);
    expect((await engine.getResult(job.id))?.status).toBe("completed");
    await engine.shutdown();
  });
});

describe("shutdown", () => {
  it("rejects submissions while shutting down and is idempotent", async () => {
    const engine = engineWith({ echo: (p) => p });
    const a = engine.shutdown();
    const b = engine.shutdown();
    expect(a).toBe(b);
    await a;
    const err = await engine.submitJob({ handler: "echo" }).catch((e: unknown) => e);
    expect(isPyrexisError(err, "SHUTTING_DOWN")).toBe(true);
    expect(await engine.runNext()).toBeUndefined();
  });

  it("lets in-flight jobs finish within the grace period", async () => {
    const store = new FlakyStore(new MemoryJobStore());
    store.keepOpen = true;
    const engine = engineWith(
      {
        work: async () => {
          await new Promise((r) => setTimeout(r, 30));
          return "done";
        },
      },
      { store },
    );
    const loop = engine.runLoop();
    const jobs = await engine.submitJobs(Array.from({ length: 5 }, () => ({ handler: "work" })));
    await until(() => (engine.runningCounts().async ?? 0) === 5, "all running");
    await engine.shutdown({ graceMs: 5_000 });
    await loop;
    expect(engine.state).toBe("stopped");
    for (const j of jobs) expect((await store.inner.getResult(j.id))?.status).toBe("completed");
  });

  it("aborts jobs past the grace period back to retrying without losing them", async () => {
    const store = new FlakyStore(new MemoryJobStore());
    store.keepOpen = true;
    const engine = engineWith(
      {
        hang: (_p, ctx) => new Promise((_r, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason as Error))),
      },
      { store },
    );
    const loop = engine.runLoop();
    const jobs = await engine.submitJobs(Array.from({ length: 4 }, () => ({ handler: "hang", maxAttempts: 1 })));
    await until(() => (engine.runningCounts().async ?? 0) === 4, "all running");
    await engine.shutdown({ graceMs: 10 });
    await loop;
    for (const j of jobs) {
      const stored = await store.inner.getJob(j.id);
      // The interrupted attempt is not counted: the job can still run its one attempt.
      expect(stored).toMatchObject({ status: "retrying", attempts: 0, lastError: { code: "INTERRUPTED" } });
      expect(await store.inner.getResult(j.id)).toBeUndefined();
    }
  });

  it("runs registered shutdown callbacks in reverse order even if one fails", async () => {
    const engine = engineWith({ echo: (p) => p });
    const order: string[] = [];
    const errors: string[] = [];
    engine.on("engine:error", (e) => errors.push(e.context));
    engine.shutdownCoordinator.register("first", () => void order.push("first"));
    engine.shutdownCoordinator.register("failing", () => {
      order.push("failing");
      throw new Error("nope");
    });
    engine.shutdownCoordinator.register("last", () => void order.push("last"));
    await engine.shutdown();
    expect(order).toEqual(["last", "failing", "first"]);
    expect(errors).toEqual(['shutdown step "failing" failed']);
  });
});

describe("group commit", () => {
  it("batches many transitions into few commits (a store without claims)", async () => {
    const store = new FlakyStore(new MemoryJobStore());
    const engine = engineWith({ noop: () => null }, { store, concurrency: { async: 100 } });
    const loop = engine.runLoop();
    const jobs = await engine.submitJobs(Array.from({ length: 200 }, () => ({ handler: "noop" })));
    await Promise.all(jobs.map((j) => engine.waitForResult(j.id)));
    // 200 jobs × 2 transitions each: the running record is durable before the handler starts,
    // so a job's start and finish are never coalesced into one write.
    expect(store.updatesWritten).toBe(400);
    expect(store.commits).toBeLessThan(50);
    await engine.shutdown();
    await loop;
  });

  it("makes the attempt durable before the handler starts (a store without claims)", async () => {
    const store = new FlakyStore(new MemoryJobStore());
    let seenByHandler: unknown;
    const engine = engineWith({ noop: async (_p, ctx) => void (seenByHandler = await store.inner.getJob(ctx.jobId)) }, { store });
    const job = await engine.submitJob({ handler: "noop" });
    expect(store.commits).toBe(1);
    const result = await engine.runNext();
    expect(result?.status).toBe("completed");
    expect(seenByHandler).toMatchObject({ status: "running", attempts: 1, version: 1 });
    expect(store.commits).toBe(3);
    expect(store.updatesWritten).toBe(2);
    expect(await store.inner.getJob(job.id)).toMatchObject({ status: "completed", attempts: 1, version: 2 });
    await engine.shutdown();
  });

  it("reports a store's uncoded error to submitters as a typed StoreFailureError (with the cause)", async () => {
    const store = new FlakyStore(new MemoryJobStore());
    const engine = engineWith({ noop: () => null }, { store });
    store.failing = new Error("EIO: i/o error, write");
    const err = await engine.submitJob({ handler: "noop" }).catch((e: unknown) => e);
    expect(isPyrexisError(err, "STORE_FAILURE")).toBe(true);
    expect((err as Error).message).toMatch(/EIO/);
    expect((err as Error).cause).toBe(store.failing);
    store.failing = undefined;
    await engine.shutdown();
  });

  it("commits every transition on its own when group commit is off", async () => {
    const store = new FlakyStore(new MemoryJobStore());
    const engine = engineWith({ noop: () => null }, { store, groupCommit: false });
    const jobs = await engine.submitJobs(Array.from({ length: 10 }, () => ({ handler: "noop" })));
    while (await engine.runNext());
    expect(store.updatesWritten).toBe(20);
    expect(store.commits).toBe(1 + 20);
    for (const j of jobs) expect((await store.getResult(j.id))?.status).toBe("completed");
    await engine.shutdown();
  });

  it("does not report a job done until its result is durable, and recovers when the store does", async () => {
    const store = new FlakyStore(new MemoryJobStore());
    const release = deferred();
    const engine = engineWith(
      {
        work: async () => {
          await release.promise;
          return "ok";
        },
      },
      { store },
    );
    const errors: unknown[] = [];
    engine.on("engine:error", (e) => errors.push(e.error));
    let completed = 0;
    engine.on("job:completed", () => completed++);
    const loop = engine.runLoop();
    const job = await engine.submitJob({ handler: "work" });
    await until(() => (engine.runningCounts().async ?? 0) === 1, "running");
    store.failing = new StoreFailureError("disk full");
    release.resolve();
    await until(() => errors.length >= 2, "commit failures reported");
    expect(completed).toBe(0);
    expect(await store.inner.getResult(job.id)).toBeUndefined();
    // Submissions fail fast while the store is down; nothing is half-written.
    const refused = await engine.submitJob({ handler: "work" }).catch((e: unknown) => e);
    expect(isPyrexisError(refused, "STORE_FAILURE")).toBe(true);
    store.failing = undefined;
    expect((await engine.waitForResult(job.id)).output).toBe("ok");
    expect(completed).toBe(1);
    expect((await store.inner.countByStatus()).pending).toBe(0);
    await engine.shutdown();
    await loop;
  });
});

describe("the store's aging rate", () => {
  const executors = () => new ExecutorRouter({ async: new AsyncExecutor({ handlers: { work: () => "done" } }) });

  it("refuses an engine agingRate that the store's claim order would not keep, and registers nothing", async () => {
    const store = new MemoryJobStore({ agingRate: 0.1 });
    const build = () => new Engine({ store, executors: executors(), handlerNames: ["work"], agingRate: 2 });
    expect(build).toThrow(IncompatibleStoreError);
    expect(build).toThrow(/agingRate is 2, but its store orders claims by agingRate 0.1/);
    // Refused before taking the store: an engine with the store's rate starts on it and runs.
    const engine = new Engine({ store, executors: executors(), handlerNames: ["work"], agingRate: 0.1 });
    const job = await engine.submitJob({ handler: "work" });
    await engine.runNext();
    expect((await engine.waitForResult(job.id)).output).toBe("done");
    await engine.shutdown();
  });

  it("the store's rate sets the bound when the engine is given none: a low priority waits out the store's bound, not the default's", async () => {
    const clock = new ManualClock(1_000_000);
    const order: string[] = [];
    const store = new MemoryJobStore({ clock, agingRate: 1 });
    const engine = new Engine({
      store,
      clock,
      executors: new ExecutorRouter({
        async: new AsyncExecutor({
          handlers: {
            work: (p: string) => {
              order.push(p);
              clock.advance(1000);
            },
          },
        }),
      }),
      handlerNames: ["work"],
    });
    await engine.submitJob({ handler: "work", payload: "low", priority: 0 });
    for (let i = 0; i < 40 && !order.includes("low"); i++) {
      await engine.submitJob({ handler: "work", payload: `high-${i}`, priority: 10 });
      await engine.runNext();
    }
    // agingRate 1: overtaken only by jobs ready less than 10 s after it (at the default 0.1, 100 s).
    expect(order.indexOf("low")).toBeGreaterThan(0);
    expect(order.indexOf("low")).toBeLessThanOrEqual(11);
    await engine.shutdown();
  });
});

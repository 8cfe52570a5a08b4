// Races between cancel, timeout, completion, rescan, submission and shutdown. Each test pins one
// interleaving with a slow store or a slow executor, and checks the store, the events and every
// promise a caller holds.
import { describe, expect, it } from "vitest";
import { createJob, createResult, isPyrexisError, parseJobSpec, StoreFailureError, transition } from "@pyrexis/models";
import { MemoryJobStore } from "@pyrexis/storage";
import type { Executor } from "@pyrexis/executors";
import { Engine } from "../src/index.js";
import { engineWith, FlakyStore, until } from "./helpers.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pendingAfter = <T>(p: Promise<T>, ms: number): Promise<T | "pending"> => Promise.race([p, sleep(ms).then(() => "pending" as const)]);

describe("cancel racing a job's end", () => {
  it("a cancel while the job's result is being committed is refused; the result stands", async () => {
    const store = new FlakyStore(new MemoryJobStore());
    let handlerDone = false;
    const engine = engineWith(
      {
        quick: async () => {
          await sleep(10);
          handlerDone = true;
          return "done";
        },
      },
      { store },
    );
    const completed: string[] = [];
    engine.on("job:completed", (e) => completed.push(e.result.status));
    await engine.submitJob({ id: "a", handler: "quick" });
    store.delayMs = 300;
    const loop = engine.runLoop();
    const waiting = engine.waitForResult("a");
    await until(() => handlerDone, "the handler to finish");
    await new Promise((r) => setImmediate(r)); // its terminal commit is now in flight (300 ms)
    const cancel = await engine.cancelJob("a").catch((e: unknown) => e);
    expect(isPyrexisError(cancel, "ILLEGAL_TRANSITION")).toBe(true);
    expect((await waiting).status).toBe("completed");
    expect(completed).toEqual(["completed"]);
    expect(await store.inner.getResult("a")).toMatchObject({ status: "completed", output: "done" });
    expect(await store.inner.getJob("a")).toMatchObject({ status: "completed" });
    await engine.shutdown({ graceMs: 100 });
    await loop;
  });

  it("a cancel after a timeout wins over the retry the timeout would cause", async () => {
    let runs = 0;
    // Like the thread/process pools: after an abort, the task settles only after a grace period.
    const slowAbort: Executor = {
      run: (_task, { signal }) => {
        runs++;
        return new Promise((_resolve, reject) =>
          signal.addEventListener("abort", () => setTimeout(() => reject(signal.reason as Error), 100)),
        );
      },
      close: async () => {},
    };
    const store = new MemoryJobStore();
    const engine = new Engine({ store, executors: { get: () => slowAbort, modes: ["async"], close: async () => {} } });
    const loop = engine.runLoop();
    await engine.submitJob({ id: "a", handler: "h", timeoutMs: 20, maxAttempts: 3, backoff: { baseMs: 2000, maxMs: 2000 } });
    await sleep(60); // timed out at 20 ms; the executor is still winding down (until ~120 ms)
    const cancelled = await engine.cancelJob("a");
    expect(cancelled.status).toBe("cancelled");
    await sleep(150);
    expect(runs).toBe(1);
    expect(await store.getResult("a")).toMatchObject({ status: "cancelled", attempts: 1 });
    await engine.shutdown({ graceMs: 0 });
    await loop;
  });
});

describe("another writer", () => {
  it("waitForResult resolves with the other writer's result when it cancelled a running job", async () => {
    const store = new FlakyStore(new MemoryJobStore());
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const engine = engineWith(
      {
        work: async () => {
          await released;
          return "x";
        },
      },
      { store },
    );
    const loop = engine.runLoop();
    await engine.submitJob({ id: "a", handler: "work" });
    const waiting = engine.waitForResult("a");
    await until(async () => (await store.inner.getJob("a"))?.status === "running", "running is durable");
    const current = (await store.inner.getJob("a"))!;
    const now = Date.now();
    await store.inner.commit({
      update: [{ job: transition(current, "cancelled", now), expectedVersion: current.version }],
      results: [createResult({ jobId: "a", status: "cancelled", startedAt: now, endedAt: now, attempts: 1 })],
    });
    release();
    expect(await pendingAfter(waiting, 2000)).toMatchObject({ status: "cancelled" });
    await engine.shutdown({ graceMs: 100 });
    await loop;
  });
});

describe("rescan racing this engine's own work", () => {
  it("does not re-queue a job that finished while the rescan was reading the store", async () => {
    const store = new FlakyStore(new MemoryJobStore());
    let runs = 0;
    const engine = engineWith(
      {
        quick: async () => {
          runs++;
          await sleep(5);
          return runs;
        },
      },
      { store },
    );
    store.listDelayMs = 50; // the page arrives a moment after its snapshot
    await engine.start();
    const loop = engine.runLoop();
    await engine.submitJob({ id: "a", handler: "quick" });
    expect(await engine.rescan()).toBe(0);
    await sleep(100);
    expect(runs).toBe(1);
    expect(await store.inner.getResult("a")).toMatchObject({ status: "completed", output: 1 });
    await engine.shutdown({ graceMs: 100 });
    await loop;
  });

  it("does not queue a submission twice when a rescan sees the insert before submitJob resolves", async () => {
    const store = new FlakyStore(new MemoryJobStore());
    let runs = 0;
    const errors: unknown[] = [];
    const engine = engineWith(
      {
        quick: async () => {
          runs++;
          await sleep(5);
          return runs;
        },
      },
      { store },
    );
    engine.on("engine:error", (e) => errors.push(e.error));
    await engine.start();
    const loop = engine.runLoop();
    store.delayAfterMs = 50; // the insert is visible before commit() resolves
    const submitted = engine.submitJob({ id: "a", handler: "quick" });
    await sleep(20);
    store.delayAfterMs = 0;
    await engine.rescan();
    await submitted;
    await engine.waitForResult("a");
    await sleep(50);
    expect(runs).toBe(1);
    expect(errors).toEqual([]);
    expect(await store.inner.getJob("a")).toMatchObject({ status: "completed", attempts: 1 });
    expect(await store.inner.getResult("a")).toMatchObject({ status: "completed", output: 1 });
    await engine.shutdown({ graceMs: 100 });
    await loop;
  });
});

describe("after and during shutdown", () => {
  it("runNext stops waiting out a backoff when the engine shuts down", async () => {
    let runs = 0;
    const engine = engineWith({
      flaky: async () => {
        runs++;
        throw new Error(`boom ${runs}`);
      },
    });
    await engine.submitJob({ id: "a", handler: "flaky", maxAttempts: 3, backoff: { baseMs: 5000, maxMs: 10_000 } });
    const next = engine.runNext();
    await until(() => runs === 1, "first attempt");
    await engine.shutdown({ graceMs: 50 });
    expect(await pendingAfter(next, 1000)).toBeUndefined();
    expect(runs).toBe(1);
  });

  it("cancelJob after shutdown rejects with ShuttingDownError instead of hanging", async () => {
    const engine = engineWith({ x: async () => 1 });
    await engine.submitJob({ id: "a", handler: "x", delayMs: 60_000 });
    await engine.shutdown({ graceMs: 10 });
    const err = await pendingAfter(
      engine.cancelJob("a").catch((e: unknown) => e),
      1000,
    );
    expect(isPyrexisError(err, "SHUTTING_DOWN")).toBe(true);
  });

  it("waitForResult of a job left unfinished rejects with ShuttingDownError at shutdown", async () => {
    const engine = engineWith({ x: async () => 1 });
    await engine.submitJob({ id: "later", handler: "x", delayMs: 60_000 });
    const waiting = engine.waitForResult("later").catch((e: unknown) => e);
    await engine.shutdown({ graceMs: 10 });
    expect(isPyrexisError(await pendingAfter(waiting, 1000), "SHUTTING_DOWN")).toBe(true);
  });

  it.each([0, 300])(
    "shutdown (grace %i ms) completes within its deadline while the store fails, and nothing hangs after",
    async (graceMs) => {
      const store = new FlakyStore(new MemoryJobStore());
      store.keepOpen = true;
      const engine = engineWith(
        {
          x: async () => {
            await sleep(20);
            return 1;
          },
        },
        { store },
      );
      engine.on("engine:error", () => {});
      const loop = engine.runLoop();
      await engine.submitJob({ id: "run", handler: "x" });
      await engine.submitJob({ id: "later", handler: "x", delayMs: 600_000 });
      await until(() => (engine.runningCounts().async ?? 0) === 1, "running");
      store.failing = new StoreFailureError("disk full");
      const outcome = await pendingAfter(
        engine.shutdown({ graceMs }).then(
          () => "resolved",
          (e: unknown) => e,
        ),
        8000,
      );
      expect(isPyrexisError(outcome, "STORE_FAILURE")).toBe(true);
      await loop;
      // The event loop is not locked and later calls settle.
      const cancel = await pendingAfter(
        engine.cancelJob("later").catch((e: unknown) => e),
        1000,
      );
      expect(isPyrexisError(cancel, "SHUTTING_DOWN")).toBe(true);
      // What reached the store is consistent: never a result for a job it shows unfinished.
      const run = await store.inner.getJob("run");
      expect(await store.inner.getResult("run")).toBeUndefined();
      expect(["pending", "running"]).toContain(run?.status);
    },
    15_000,
  );
});

describe("recovery", () => {
  it("can be tried again after a transient store error", async () => {
    const store = new FlakyStore(new MemoryJobStore());
    await store.inner.commit({ insert: [createJob(parseJobSpec({ id: "old", handler: "x" }), 1000)] });
    let failOnce = true;
    const list = store.listJobs.bind(store);
    store.listJobs = async (q) => {
      if (failOnce) {
        failOnce = false;
        throw new StoreFailureError("transient I/O");
      }
      return list(q);
    };
    const engine = engineWith({ x: async () => 1 }, { store });
    expect(isPyrexisError(await engine.start().catch((e: unknown) => e), "STORE_FAILURE")).toBe(true);
    await engine.start();
    expect(await engine.runNext()).toMatchObject({ jobId: "old", status: "completed" });
    await engine.shutdown();
  });
});

describe("third-party executors", () => {
  it("an executor whose run returns a plain value or a thenable (not a Promise) still completes its jobs", async () => {
    const plain: Executor = { run: (task) => ((task.payload as number) * 2) as unknown as Promise<unknown>, close: async () => {} };
    const thenable: Executor = {
      run: (task) => ({ then: (ok: (v: unknown) => void) => ok((task.payload as number) + 1) }) as unknown as Promise<unknown>,
      close: async () => {},
    };
    for (const [executor, expected] of [
      [plain, 42],
      [thenable, 22],
    ] as const) {
      const engine = new Engine({
        store: new MemoryJobStore(),
        executors: { get: () => executor, modes: ["async"], close: async () => {} },
      });
      const job = await engine.submitJob({ handler: "h", payload: 21 });
      const result = await engine.runNext();
      expect(result?.status).toBe("completed");
      expect(result?.output).toBe(expected);
      expect((await engine.getResult(job.id))?.output).toBe(expected);
      expect(engine.runningCounts()).toEqual({ async: 0 });
      await engine.shutdown();
    }
  });
});

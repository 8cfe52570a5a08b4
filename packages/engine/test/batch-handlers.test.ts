// Batching handlers through the engine (createEngine, as a user writes them): calls of up to
// maxSize jobs, a partial batch after maxWaitMs on fake time, keys that never mix, each job's own
// attempts, retries, timeout and result, cancels in an open batch and during a call, shutdown,
// the typed errors of bad input, and the same on a real SQLite file with claims.
import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MemoryJobStore } from "@pyrexis/storage";
import {
  BatchOutputMismatchError,
  ErrorCode,
  InvalidBatchOptionsError,
  isPyrexisError,
  ManualClock,
  ValidationError,
  type Job,
} from "@pyrexis/models";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { batchHandler, createEngine, type BatchItem, type CreateEngineOptions, type Engine } from "../src/index.js";
import { deferred, tempDir, until } from "./helpers.js";

const T0 = 1_800_000_000_000;

/** Lets the engine's promises and immediates run (claims, commits, handlers). */
async function settle(turns = 30): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

const engines: Engine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.forceShutdown().catch(() => {});
});

async function engineOf(options: CreateEngineOptions): Promise<Engine> {
  const engine = await createEngine(options);
  engines.push(engine);
  return engine;
}

type Doubled = { readonly n: number; readonly tenant?: string };

describe("batching handlers", () => {
  it("10,000 jobs with maxSize 64 make at most 165 calls of at most 64, and every job gets its own output", async () => {
    const calls: (readonly BatchItem<Doubled>[])[] = [];
    const engine = await engineOf({
      concurrency: { async: 128 },
      handlers: {
        double: batchHandler<Doubled, number>({ maxSize: 64, maxWaitMs: 5 }, (items) => {
          calls.push(items);
          return items.map((item) => item.payload.n * 2);
        }),
      },
    });
    const jobs = await engine.submitJobs(Array.from({ length: 10_000 }, (_, n) => ({ handler: "double", payload: { n } })));
    const loop = engine.runLoop();
    await until(async () => (await engine.countByStatus()).completed === 10_000, "all completed", 60_000);
    expect(calls.length).toBeLessThanOrEqual(165);
    expect(Math.max(...calls.map((c) => c.length))).toBeLessThanOrEqual(64);
    expect(calls.flat()).toHaveLength(10_000);
    for (const job of [jobs[0], jobs[4_321], jobs[9_999]] as Job[]) {
      const result = await engine.getResult(job.id);
      expect(result?.output).toBe((job.payload as Doubled).n * 2);
      expect((await engine.getJob(job.id))?.attempts).toBe(1);
    }
    await engine.shutdown();
    await loop;
  });

  it("a partial batch is called maxWaitMs after its first job, by the engine's clock, not before", async () => {
    const clock = new ManualClock(T0);
    const calls: number[] = [];
    const engine = await engineOf({
      clock,
      handlers: {
        double: batchHandler<Doubled>({ maxSize: 64, maxWaitMs: 200 }, (items) => {
          calls.push(clock.now());
          return items.map((item) => item.payload.n * 2);
        }),
      },
    });
    const loop = engine.runLoop();
    await engine.submitJobs([0, 1, 2].map((n) => ({ handler: "double", payload: { n } })));
    await settle();
    clock.advance(199);
    await settle();
    expect(calls).toEqual([]);
    expect((await engine.countByStatus()).running).toBe(3); // durably started, waiting for their batch
    clock.advance(1);
    await settle();
    expect(calls).toEqual([T0 + 200]);
    expect((await engine.countByStatus()).completed).toBe(3);
    await engine.shutdown();
    await loop;
  });

  it("jobs of different keys never share a call", async () => {
    const calls: string[][] = [];
    const engine = await engineOf({
      handlers: {
        embed: batchHandler<Doubled>({ maxSize: 8, maxWaitMs: 2, key: (p) => p.tenant ?? "" }, (items) => {
          calls.push(items.map((i) => i.payload.tenant ?? ""));
          return items.map(() => "ok");
        }),
      },
    });
    const tenants = ["a", "b", "c"];
    await engine.submitJobs(Array.from({ length: 90 }, (_, n) => ({ handler: "embed", payload: { n, tenant: tenants[n % 3] as string } })));
    const loop = engine.runLoop();
    await until(async () => (await engine.countByStatus()).completed === 90, "all completed");
    for (const call of calls) expect(new Set(call).size).toBe(1);
    expect(calls.flat()).toHaveLength(90);
    await engine.shutdown();
    await loop;
  });

  it("an Error in one slot fails that job alone and it retries alone; the others complete on their first attempt", async () => {
    const seen: string[][] = [];
    const engine = await engineOf({
      handlers: {
        parse: batchHandler<{ text: string }>({ maxSize: 4, maxWaitMs: 1 }, (items) => {
          seen.push(items.map((i) => `${i.payload.text}#${i.attempt}`));
          return items.map((i) => (i.payload.text === "poison" ? new Error(`cannot parse ${i.jobId}`) : i.payload.text.toUpperCase()));
        }),
      },
    });
    const [a, poison, b] = await engine.submitJobs(
      ["a", "poison", "b"].map((text) => ({
        handler: "parse",
        payload: { text },
        maxAttempts: 2,
        backoff: { baseMs: 1, maxMs: 1, jitter: 0 },
      })),
    );
    const loop = engine.runLoop();
    const poisoned = await engine.waitForResult((poison as Job).id);
    expect(poisoned.status).toBe("failed");
    expect(poisoned.error?.message).toContain("cannot parse");
    expect((await engine.getJob((poison as Job).id))?.attempts).toBe(2);
    expect((await engine.getResult((a as Job).id))?.output).toBe("A");
    expect((await engine.getJob((b as Job).id))?.attempts).toBe(1);
    // The retry ran in a call of its own: the jobs that succeeded were not run again.
    expect(seen.flat().filter((s) => s.startsWith("poison"))).toEqual(["poison#1", "poison#2"]);
    expect(seen.flat().filter((s) => !s.startsWith("poison"))).toEqual(["a#1", "b#1"]);
    await engine.shutdown();
    await loop;
  });

  it("a wrong number of outputs fails each job of the call with BatchOutputMismatchError naming the handler", async () => {
    const engine = await engineOf({
      handlers: { short: batchHandler({ maxSize: 3, maxWaitMs: 1 }, (items) => items.slice(1).map(() => "x")) },
    });
    const jobs = await engine.submitJobs([1, 2, 3].map((n) => ({ handler: "short", payload: { n }, maxAttempts: 1 })));
    const loop = engine.runLoop();
    for (const job of jobs) {
      const result = await engine.waitForResult(job.id);
      expect(result.status).toBe("failed");
      expect(result.error?.code).toBe(ErrorCode.BATCH_OUTPUT_MISMATCH);
      expect(result.error?.message).toContain('"short"');
    }
    expect(new BatchOutputMismatchError("short", 3, 2).code).toBe(ErrorCode.BATCH_OUTPUT_MISMATCH);
    await engine.shutdown();
    await loop;
  });

  it("a handler that throws fails every job of its call; each retries and completes later", async () => {
    let calls = 0;
    const engine = await engineOf({
      handlers: {
        flaky: batchHandler({ maxSize: 10, maxWaitMs: 1 }, (items) => {
          if (++calls === 1) throw new Error("GPU busy");
          return items.map((i) => i.attempt);
        }),
      },
    });
    const jobs = await engine.submitJobs(
      [1, 2, 3].map((n) => ({ handler: "flaky", payload: { n }, backoff: { baseMs: 1, maxMs: 1, jitter: 0 } })),
    );
    const loop = engine.runLoop();
    for (const job of jobs) expect((await engine.waitForResult(job.id)).output).toBe(2);
    await engine.shutdown();
    await loop;
  });

  it("an output that is not JSON fails that job with a ValidationError; the others complete", async () => {
    const engine = await engineOf({
      handlers: {
        out: batchHandler<Doubled>({ maxSize: 2, maxWaitMs: 1 }, (items) =>
          items.map((i) => (i.payload.n === 0 ? { f: () => 1 } : i.payload.n)),
        ),
      },
    });
    const [bad, good] = await engine.submitJobs([0, 7].map((n) => ({ handler: "out", payload: { n }, maxAttempts: 1 })));
    const loop = engine.runLoop();
    const badResult = await engine.waitForResult((bad as Job).id);
    expect(badResult.status).toBe("failed");
    expect(badResult.error?.code).toBe(ErrorCode.VALIDATION);
    expect((await engine.waitForResult((good as Job).id)).output).toBe(7);
    await engine.shutdown();
    await loop;
  });

  it("a job cancelled while its batch is open leaves the batch; the call gets only the others", async () => {
    const clock = new ManualClock(T0);
    const calls: string[][] = [];
    const engine = await engineOf({
      clock,
      handlers: {
        double: batchHandler<Doubled>({ maxSize: 64, maxWaitMs: 100 }, (items) => {
          calls.push(items.map((i) => i.jobId));
          return items.map((i) => i.payload.n * 2);
        }),
      },
    });
    const loop = engine.runLoop();
    const [a, b, c] = await engine.submitJobs([1, 2, 3].map((n) => ({ handler: "double", payload: { n } })));
    await settle();
    const cancelled = await engine.cancelJob((b as Job).id);
    expect(cancelled.status).toBe("cancelled");
    clock.advance(100);
    await settle();
    expect(calls).toEqual([[(a as Job).id, (c as Job).id]]);
    expect((await engine.getResult((b as Job).id))?.status).toBe("cancelled");
    expect((await engine.getResult((c as Job).id))?.output).toBe(6);
    await engine.shutdown();
    await loop;
  });

  it("a job cancelled during its call ends cancelled at once; the call goes on for the others and its signal stays open", async () => {
    const gate = deferred();
    let signal: AbortSignal | undefined;
    const engine = await engineOf({
      handlers: {
        slow: batchHandler<Doubled>({ maxSize: 3, maxWaitMs: 1 }, async (items, ctx) => {
          signal = ctx.signal;
          await gate.promise;
          return items.map((i) => i.payload.n);
        }),
      },
    });
    const [a, b, c] = await engine.submitJobs([1, 2, 3].map((n) => ({ handler: "slow", payload: { n } })));
    const loop = engine.runLoop();
    await until(() => signal !== undefined, "the call started");
    expect((await engine.cancelJob((b as Job).id)).status).toBe("cancelled");
    expect(signal?.aborted).toBe(false);
    gate.resolve();
    expect((await engine.waitForResult((a as Job).id)).output).toBe(1);
    expect((await engine.waitForResult((c as Job).id)).output).toBe(3);
    expect((await engine.getResult((b as Job).id))?.status).toBe("cancelled");
    await engine.shutdown();
    await loop;
  });

  it("a job's timeout starts when its batch is handed over, and ends that job alone", async () => {
    const clock = new ManualClock(T0);
    const gate = deferred();
    let called = false;
    const engine = await engineOf({
      clock,
      handlers: {
        slow: batchHandler<Doubled>({ maxSize: 2, maxWaitMs: 1_000 }, async (items) => {
          called = true;
          await gate.promise;
          return items.map((i) => i.payload.n);
        }),
      },
    });
    const loop = engine.runLoop();
    const [quick, patient] = await engine.submitJobs([
      { handler: "slow", payload: { n: 1 }, timeoutMs: 500, maxAttempts: 1 },
      { handler: "slow", payload: { n: 2 } },
    ]);
    await settle();
    // The batch filled at once (maxSize 2): handed over at T0, so the timeout runs from there.
    expect(called).toBe(true);
    clock.advance(499);
    await settle();
    expect((await engine.getJob((quick as Job).id))?.status).toBe("running");
    clock.advance(1);
    const timedOut = await engine.waitForResult((quick as Job).id);
    expect(timedOut.error?.code).toBe(ErrorCode.TIMEOUT);
    gate.resolve();
    expect((await engine.waitForResult((patient as Job).id)).output).toBe(2);
    await engine.shutdown();
    await loop;
  });

  it("time waiting in an open batch does not count against a job's timeout", async () => {
    const clock = new ManualClock(T0);
    const engine = await engineOf({
      clock,
      handlers: { quick: batchHandler<Doubled>({ maxSize: 8, maxWaitMs: 1_000 }, (items) => items.map((i) => i.payload.n)) },
    });
    const loop = engine.runLoop();
    const [job] = await engine.submitJobs([{ handler: "quick", payload: { n: 5 }, timeoutMs: 100, maxAttempts: 1 }]);
    await settle();
    clock.advance(1_000);
    expect((await engine.waitForResult((job as Job).id)).output).toBe(5);
    await engine.shutdown();
    await loop;
  });

  it("progress and charge of one job of a call reach that job", async () => {
    const engine = await engineOf({
      limits: { llm: { rate: { units: 100_000, perMs: 60_000 } } },
      handlers: {
        llm: batchHandler<Doubled>({ maxSize: 2, maxWaitMs: 1 }, (items, ctx) => {
          for (const item of items) {
            ctx.progress(item.jobId, { done: item.payload.n });
            ctx.charge(item.jobId, item.payload.n * 10);
          }
          expect(() => ctx.progress(items[0]?.jobId ?? "", { f: () => 1 })).toThrow(ValidationError);
          expect(() => ctx.charge(items[0]?.jobId ?? "", -1)).toThrow(ValidationError);
          return items.map(() => "ok");
        }),
      },
    });
    const progress: { jobId: string; value: unknown }[] = [];
    engine.on("job:progress", ({ jobId, value }) => progress.push({ jobId, value }));
    const [a, b] = await engine.submitJobs([1, 2].map((n) => ({ handler: "llm", payload: { n }, limits: [{ key: "llm", units: 500 }] })));
    const loop = engine.runLoop();
    // The checks inside the handler throw if they fail, and the jobs would then not complete.
    expect((await engine.waitForResult((a as Job).id)).status).toBe("completed");
    expect((await engine.waitForResult((b as Job).id)).status).toBe("completed");
    expect(progress).toEqual([
      { jobId: (a as Job).id, value: { done: 1 } },
      { jobId: (b as Job).id, value: { done: 2 } },
    ]);
    await engine.shutdown();
    await loop;
  });

  it("shutdown calls the open batches at once (their attempts were started) instead of waiting out maxWaitMs", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const engine = await engineOf({
      clock,
      store,
      closeStore: false,
      handlers: { double: batchHandler<Doubled>({ maxSize: 64, maxWaitMs: 3_600_000 }, (items) => items.map((i) => i.payload.n * 2)) },
    });
    const loop = engine.runLoop();
    const jobs = await engine.submitJobs([1, 2, 3].map((n) => ({ handler: "double", payload: { n } })));
    await settle();
    await engine.shutdown();
    await loop;
    for (const job of jobs) expect((await store.getResult(job.id))?.status).toBe("completed");
  });

  it("refuses bad options and a job of a batching handler in another mode with typed errors; nothing is written", async () => {
    for (const bad of [
      { maxSize: 0, maxWaitMs: 1 },
      { maxSize: 2, maxWaitMs: -1 },
      { maxSize: 1.5, maxWaitMs: 1 },
    ]) {
      const error = (() => {
        try {
          batchHandler(bad, (items) => items.map(() => null));
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(InvalidBatchOptionsError);
      expect(isPyrexisError(error) && error.code).toBe(ErrorCode.INVALID_BATCH_OPTIONS);
    }
    const engine = await engineOf({
      handlers: { embed: batchHandler({ maxSize: 2, maxWaitMs: 1 }, (items) => items.map(() => null)) },
      // A handlers module gives the engine thread and process modes.
      handlersModule: fileURLToPath(new URL("./fixtures/handlers.mjs", import.meta.url)),
      thread: { maxWorkers: 1 },
    });
    const refused = await engine.submitJob({ handler: "embed", mode: "thread" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as Error).message).toContain("async mode only");
    expect((await engine.countByStatus()).pending).toBe(0);
  });
});

describe("batching handlers on a SQLite file with claims", () => {
  it("2,000 jobs run in calls of at most 32, each job once, with one result each", async () => {
    const tmp = tempDir("pyrexis-batch-");
    try {
      const store = await SqliteJobStore.open({ path: join(tmp.dir, "jobs.db") });
      const calls: number[] = [];
      const runs = new Map<string, number>();
      const engine = await engineOf({
        store,
        concurrency: { async: 64 },
        handlers: {
          embed: batchHandler<Doubled>({ maxSize: 32, maxWaitMs: 5 }, (items) => {
            calls.push(items.length);
            for (const item of items) runs.set(item.jobId, (runs.get(item.jobId) ?? 0) + 1);
            return items.map((i) => i.payload.n + 1);
          }),
        },
      });
      await engine.submitJobs(Array.from({ length: 2_000 }, (_, n) => ({ handler: "embed", payload: { n } })));
      const loop = engine.runLoop();
      await until(async () => (await engine.countByStatus()).completed === 2_000, "all completed", 60_000);
      expect(Math.max(...calls)).toBeLessThanOrEqual(32);
      expect(calls.length).toBeLessThanOrEqual(Math.ceil(2_000 / 32) + 10);
      expect(runs.size).toBe(2_000);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
      await engine.shutdown();
      await loop;
    } finally {
      tmp.cleanup();
    }
  });
});

describe("batching handlers on one SQLite file shared by two engines", () => {
  it("1,000 jobs: each runs once across both engines, in calls of at most 16", async () => {
    const tmp = tempDir("pyrexis-batch-shared-");
    try {
      const path = join(tmp.dir, "jobs.db");
      const runs = new Map<string, number>();
      const sizes: number[] = [];
      const handlers = {
        embed: batchHandler<Doubled>({ maxSize: 16, maxWaitMs: 2 }, async (items) => {
          sizes.push(items.length);
          for (const item of items) runs.set(item.jobId, (runs.get(item.jobId) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 1));
          return items.map((i) => i.payload.n);
        }),
      };
      const first = await engineOf({ store: path, handlers, concurrency: { async: 32 } });
      const second = await engineOf({ store: path, handlers, concurrency: { async: 32 } });
      await first.submitJobs(Array.from({ length: 1_000 }, (_, n) => ({ handler: "embed", payload: { n } })));
      const loops = [first.runLoop(), second.runLoop()];
      await until(async () => (await first.countByStatus()).completed === 1_000, "all completed", 60_000);
      expect(runs.size).toBe(1_000);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(16);
      await Promise.all([first.shutdown(), second.shutdown()]);
      await Promise.all(loops);
    } finally {
      tmp.cleanup();
    }
  });
});

import { describe, expect, it } from "vitest";
import { MetricsRegistry } from "@pyrexis/metrics";
import { isPyrexisError, ManualClock, NonRetryableError, type Result } from "@pyrexis/models";
import { MemoryJobStore } from "@pyrexis/storage";
import { engineWith } from "./helpers.js";

describe("submission", () => {
  it("persists a submitted job as pending before resolving", async () => {
    const store = new MemoryJobStore();
    const engine = engineWith({ echo: (p) => p }, { store });
    const job = await engine.submitJob({ handler: "echo", payload: { a: 1 }, priority: 7 });
    expect(job.status).toBe("pending");
    const stored = await store.getJob(job.id);
    expect(stored).toMatchObject({ id: job.id, status: "pending", priority: 7, attempts: 0, payload: { a: 1 } });
    await engine.shutdown();
  });

  it("accepts only new specs: a record with a status is rejected", async () => {
    const engine = engineWith({ echo: (p) => p });
    const err = await engine.submitJob({ handler: "echo", status: "running" } as never).catch((e: unknown) => e);
    expect(isPyrexisError(err, "VALIDATION")).toBe(true);
    expect(String((err as Error).message)).toMatch(/status/);
    await engine.shutdown();
  });

  it("rejects a duplicate id and never overwrites the stored job", async () => {
    const store = new MemoryJobStore();
    const engine = engineWith({ echo: (p) => p }, { store });
    await engine.submitJob({ id: "same", handler: "echo", payload: 1 });
    const err = await engine.submitJob({ id: "same", handler: "echo", payload: 2 }).catch((e: unknown) => e);
    expect(isPyrexisError(err, "DUPLICATE_JOB")).toBe(true);
    expect((await store.getJob("same"))?.payload).toBe(1);
    await engine.runNext();
    // Also after the first one finished (the id is only in the store now).
    const again = await engine.submitJob({ id: "same", handler: "echo", payload: 3 }).catch((e: unknown) => e);
    expect(isPyrexisError(again, "DUPLICATE_JOB")).toBe(true);
    expect((await store.getResult("same"))?.output).toBe(1);
    await engine.shutdown();
  });

  it("rejects a whole batch naming the bad spec and field; writes nothing", async () => {
    const store = new MemoryJobStore();
    const engine = engineWith({ echo: (p) => p }, { store });
    const err = await engine
      .submitJobs([{ handler: "echo" }, { handler: "echo", priority: 11 }, { handler: "echo" }])
      .catch((e: unknown) => e);
    expect(isPyrexisError(err, "VALIDATION")).toBe(true);
    expect((err as Error).message).toMatch(/#1/);
    expect((err as Error).message).toMatch(/priority/);
    expect((await store.countByStatus()).pending).toBe(0);
    await engine.shutdown();
  });

  it("rejects unknown handlers, unknown modes and non-JSON payloads with typed errors", async () => {
    const engine = engineWith({ echo: (p) => p });
    const unknownHandler = await engine.submitJob({ handler: "nope" }).catch((e: unknown) => e);
    expect(isPyrexisError(unknownHandler, "HANDLER_NOT_FOUND")).toBe(true);
    expect((unknownHandler as Error).message).toMatch(/echo/);
    const unknownMode = await engine.submitJob({ handler: "echo", mode: "gpu" }).catch((e: unknown) => e);
    expect(isPyrexisError(unknownMode, "UNKNOWN_MODE")).toBe(true);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const nonJson = await engine.submitJob({ handler: "echo", payload: cyclic as never }).catch((e: unknown) => e);
    expect(isPyrexisError(nonJson, "VALIDATION")).toBe(true);
    expect((nonJson as Error).message).toMatch(/circular/);
    expect((await engine.countByStatus()).pending).toBe(0);
    await engine.shutdown();
  });
});

describe("runNext", () => {
  it("returns undefined when nothing is due", async () => {
    const engine = engineWith({ echo: (p) => p });
    expect(await engine.runNext()).toBeUndefined();
    await engine.submitJob({ handler: "echo", delayMs: 60_000 });
    expect(await engine.runNext()).toBeUndefined();
    await engine.shutdown();
  });

  it("runs the highest priority first, FIFO among equals, and returns durable results", async () => {
    const store = new MemoryJobStore();
    const ran: string[] = [];
    const engine = engineWith({ rec: (p: string) => (ran.push(p), p) }, { store, clock: new ManualClock(1_000_000) });
    await engine.submitJobs([
      { handler: "rec", payload: "low", priority: 1 },
      { handler: "rec", payload: "high-a", priority: 9 },
      { handler: "rec", payload: "high-b", priority: 9 },
      { handler: "rec", payload: "mid", priority: 5 },
    ]);
    const results: (Result | undefined)[] = [];
    for (let i = 0; i < 4; i++) results.push(await engine.runNext());
    expect(ran).toEqual(["high-a", "high-b", "mid", "low"]);
    for (const r of results) {
      expect(r?.status).toBe("completed");
      expect(await store.getResult(r!.jobId)).toEqual(r);
    }
    await engine.shutdown();
  });

  it("retrieves jobs and results, lists and counts", async () => {
    const engine = engineWith({ echo: (p) => p });
    const a = await engine.submitJob({ handler: "echo", payload: "a" });
    const b = await engine.submitJob({ handler: "echo", payload: "b" });
    await engine.runNext();
    expect((await engine.getJob(a.id))?.status).toBe("completed");
    expect((await engine.getJob(b.id))?.status).toBe("pending");
    expect((await engine.getResult(a.id))?.output).toBe("a");
    expect(await engine.getResult(b.id)).toBeUndefined();
    expect((await engine.listJobs({ status: "pending" })).jobs.map((j) => j.id)).toEqual([b.id]);
    expect(await engine.countByStatus()).toMatchObject({ completed: 1, pending: 1 });
    expect(await engine.getJob("missing")).toBeUndefined();
    await engine.shutdown();
  });
});

describe("retries", () => {
  const fastBackoff = { baseMs: 0, maxMs: 0 };

  it.each([1, 2, 3, 10])("exhausts exactly at maxAttempts = %i", async (maxAttempts) => {
    let calls = 0;
    const engine = engineWith({
      boom: () => {
        calls++;
        throw new Error(`fail ${calls}`);
      },
    });
    const job = await engine.submitJob({ handler: "boom", maxAttempts, backoff: fastBackoff });
    const result = await engine.runNext();
    expect(calls).toBe(maxAttempts);
    expect(result).toMatchObject({ status: "failed", attempts: maxAttempts, error: { message: `fail ${maxAttempts}` } });
    const stored = await engine.getJob(job.id);
    expect(stored).toMatchObject({ status: "failed", attempts: maxAttempts, lastError: { message: `fail ${maxAttempts}` } });
    expect(engine.getMetrics().getCounters()["job.retries"] ?? 0).toBe(maxAttempts - 1);
    await engine.shutdown();
  });

  it("succeeds on the last allowed attempt (one below the limit fails, then it works)", async () => {
    let calls = 0;
    const engine = engineWith({
      flaky: () => {
        calls++;
        if (calls < 3) throw new Error("transient");
        return "ok";
      },
    });
    await engine.submitJob({ handler: "flaky", maxAttempts: 3, backoff: fastBackoff });
    const result = await engine.runNext();
    expect(result).toMatchObject({ status: "completed", output: "ok", attempts: 3 });
    await engine.shutdown();
  });

  it("fails at once on NonRetryableError", async () => {
    let calls = 0;
    const engine = engineWith({
      bad: () => {
        calls++;
        throw new NonRetryableError("bad input");
      },
    });
    await engine.submitJob({ handler: "bad", maxAttempts: 5, backoff: fastBackoff });
    const result = await engine.runNext();
    expect(calls).toBe(1);
    expect(result).toMatchObject({ status: "failed", attempts: 1, error: { name: "NonRetryableError", code: "NON_RETRYABLE" } });
    await engine.shutdown();
  });

  it("puts a failed attempt back with runAt = now + baseMs · 2^attempts", async () => {
    const clock = new ManualClock(5_000_000);
    const engine = engineWith({ boom: () => Promise.reject(new Error("x")) }, { clock });
    const job = await engine.submitJob({ handler: "boom", maxAttempts: 3, backoff: { baseMs: 100 } });
    const retrying: number[] = [];
    engine.on("job:retrying", (e) => retrying.push(e.delayMs));
    // runNext waits out the backoff on the engine's clock (the manual clock does not move), so
    // check the first retry through the event and the store, then cancel it while it waits.
    const run = engine.runNext();
    await new Promise((r) => setTimeout(r, 20));
    expect(retrying).toEqual([200]);
    const stored = await engine.getJob(job.id);
    expect(stored).toMatchObject({ status: "retrying", attempts: 1, runAt: 5_000_000 + 200 });
    await engine.cancelJob(job.id);
    expect(await run).toBeUndefined();
    await engine.shutdown();
  });

  it("treats a timeout as a failed attempt", async () => {
    const engine = engineWith({
      slow: (_p, ctx) =>
        new Promise((resolve, reject) => {
          const t = setTimeout(resolve, 10_000);
          ctx.signal.addEventListener("abort", () => {
            clearTimeout(t);
            reject(ctx.signal.reason as Error);
          });
        }),
    });
    await engine.submitJob({ handler: "slow", timeoutMs: 20, maxAttempts: 2, backoff: fastBackoff });
    const result = await engine.runNext();
    expect(result).toMatchObject({ status: "failed", attempts: 2, error: { code: "TIMEOUT" } });
    await engine.shutdown();
  });
});

describe("metrics and events", () => {
  it("counts and times what happened", async () => {
    const metrics = new MetricsRegistry();
    const engine = engineWith(
      {
        echo: (p) => p,
        boom: () => {
          throw new Error("x");
        },
      },
      { metrics },
    );
    await engine.submitJobs([
      { handler: "echo" },
      { handler: "echo" },
      { handler: "boom", maxAttempts: 2, backoff: { baseMs: 0, maxMs: 0 } },
    ]);
    while (await engine.runNext());
    const counters = engine.getMetrics().getCounters();
    expect(counters).toMatchObject({ "job.submitted": 3, "job.completed": 2, "job.failed": 1, "job.retries": 1 });
    const timings = engine.getMetrics().getTimings();
    expect(timings["job.execution"]?.count).toBe(4);
    expect(timings["job.queue_wait"]?.count).toBe(4);
    expect(engine.getMetrics().getGauges()).toMatchObject({ "jobs.queued": 0, 'jobs.running{mode="async"}': 0 });
    expect(engine.getMetrics().toPrometheus()).toMatch(/job_completed_total 2/);
    await engine.shutdown();
  });

  it("keeps going when a listener throws, and reports it as engine:error", async () => {
    const engine = engineWith({ echo: (p) => p });
    const errors: string[] = [];
    engine.on("engine:error", (e) => errors.push(e.context));
    engine.on("job:started", () => {
      throw new Error("listener bug");
    });
    engine.on("job:completed", () => Promise.reject(new Error("async listener bug")) as never);
    await engine.submitJob({ handler: "echo", payload: 1 });
    const result = await engine.runNext();
    expect(result?.status).toBe("completed");
    await new Promise((r) => setTimeout(r, 5));
    expect(errors).toEqual(["listener of job:started", "listener of job:completed"]);
    await engine.shutdown();
  });

  it("emits the lifecycle in order", async () => {
    const engine = engineWith({
      work: async (_p, ctx) => {
        ctx.progress(50);
        if (ctx.attempt === 1) throw new Error("first fails");
        return "done";
      },
    });
    const seen: string[] = [];
    for (const name of ["job:submitted", "job:started", "job:progress", "job:retrying", "job:completed"] as const) {
      engine.on(name, () => seen.push(name));
    }
    await engine.submitJob({ handler: "work", backoff: { baseMs: 0, maxMs: 0 } });
    await engine.runNext();
    expect(seen).toEqual(["job:submitted", "job:started", "job:progress", "job:retrying", "job:started", "job:progress", "job:completed"]);
    await engine.shutdown();
  });
});

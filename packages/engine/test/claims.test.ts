import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { IncompatibleStoreError, ManualClock, StoreFailureError, ValidationError, type Job } from "@pyrexis/models";
import { MemoryJobStore } from "@pyrexis/storage";
import { makeJob } from "@pyrexis/storage/conformance";
import { deferred, engineWith, FlakyClaimsStore, FlakyStore, until } from "./helpers.js";

const T0 = 1_700_000_000_000;
const LEASE = { leaseMs: 3000, renewIntervalMs: 1000 };

/** A pending job as another process would have written it. */
function pendingAt(clock: ManualClock | undefined, overrides: Partial<Job> = {}): Job {
  const now = clock?.now() ?? Date.now();
  return makeJob({ handler: "work", mode: "async", createdAt: now, updatedAt: now, runAt: now, ...overrides });
}

/** Lets promises and immediates run (fake time does not move). */
async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

describe("many engines on one store with claims", () => {
  it("two engines on one MemoryJobStore run every job exactly once, whichever engine it was submitted to", async () => {
    const store = new MemoryJobStore();
    const runs = new Map<string, number>();
    const handlers = {
      work: async (_p: unknown, ctx: { jobId: string }) => {
        runs.set(ctx.jobId, (runs.get(ctx.jobId) ?? 0) + 1);
        await new Promise((r) => setImmediate(r));
      },
    };
    const a = engineWith(handlers, { store, concurrency: 8 });
    const b = engineWith(handlers, { store, concurrency: 8, pollIntervalMs: 2 });
    const loops = [a.runLoop(), b.runLoop()];
    const jobs = await a.submitJobs(Array.from({ length: 300 }, () => ({ handler: "work" })));
    await until(async () => (await store.countByStatus()).completed === 300, "all completed", 100_000);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(runs.size).toBe(300);
    for (const j of jobs) expect(await store.getJob(j.id)).toMatchObject({ status: "completed", attempts: 1 });
    await Promise.all([a.shutdown({ graceMs: 0 }).catch(() => {}), b.shutdown({ graceMs: 0 }).catch(() => {})]);
    await Promise.all(loops);
  });

  it("the claimed attempt is durable before the handler starts", async () => {
    const store = new MemoryJobStore();
    let seen: Job | undefined;
    const engine = engineWith({ work: async (_p, ctx) => void (seen = await store.getJob(ctx.jobId)) }, { store });
    const job = await engine.submitJob({ handler: "work", maxAttempts: 2 });
    await engine.runNext();
    expect(seen).toMatchObject({ id: job.id, status: "running", attempts: 1 });
    await engine.shutdown();
  });

  it("a job submitted elsewhere starts without any option set", async () => {
    const store = new MemoryJobStore();
    const done = deferred<string>();
    const engine = engineWith({ work: (p) => done.resolve(String(p)) }, { store });
    const loop = engine.runLoop();
    await settle();
    await store.commit({ insert: [pendingAt(undefined, { payload: "from elsewhere" })] });
    expect(await done.promise).toBe("from elsewhere");
    await engine.shutdown();
    await loop;
  });

  it("reclaims the job of an engine that stopped renewing once its lease expired, counting the attempt", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock, random: () => 1 });
    const job = pendingAt(clock, { maxAttempts: 3, backoff: { baseMs: 0, maxMs: 0, jitter: 0 } });
    await store.commit({ insert: [job] });
    // An engine that claimed it and died (no renewals).
    await store.claim({ owner: "elsewhere/1/dead", limit: 1, leaseMs: 3000 });
    const ran: number[] = [];
    const engine = engineWith({ work: (_p, ctx) => void ran.push(ctx.attempt) }, { store, clock, ...LEASE });
    const loop = engine.runLoop();
    await settle();
    expect(ran).toEqual([]);
    clock.advance(3000); // the dead engine's lease expires; the next renewal tick reclaims it
    await settle();
    await until(async () => (await store.getJob(job.id))?.status === "completed", "completed");
    expect(ran).toEqual([2]);
    expect(await store.getJob(job.id)).toMatchObject({ attempts: 2, lastError: { code: "INTERRUPTED" } });
    await engine.shutdown();
    await loop;
  });

  it("does not emit drained while a reclaimed job waits in the store for its backoff; does once it has run", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock, random: () => 1 });
    const job = pendingAt(clock, { maxAttempts: 3, backoff: { baseMs: 60_000, maxMs: 60_000, jitter: 0 } });
    await store.commit({ insert: [job] });
    // An engine of this machine that claimed it and died (no such pid): the engine's start
    // reclaims it to `retrying`, due a minute later, in the store and in no engine's queue.
    await store.claim({ owner: `${hostname()}/2147483646/dead`, limit: 1, leaseMs: 3000 });
    const engine = engineWith({ work: () => "ok" }, { store, clock, ...LEASE });
    let drained = 0;
    engine.on("engine:drained", () => drained++);
    const loop = engine.runLoop();
    await until(async () => (await store.getJob(job.id))?.status === "retrying", "reclaimed");
    await settle();
    expect(drained).toBe(0);
    const { runAt } = (await store.getJob(job.id))!;
    clock.set(runAt + 1000); // past the backoff and the idle claim interval
    await until(async () => (await store.getJob(job.id))?.status === "completed", "completed");
    await until(() => drained > 0, "drained");
    await engine.shutdown();
    await loop;
  });

  it("a cancel written by another process reaches the running handler within one renewal period; the engine writes nothing more", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const aborted = deferred<number>();
    const started = deferred();
    const worker = engineWith(
      {
        work: (_p, ctx) =>
          new Promise((_resolve, reject) => {
            started.resolve();
            ctx.signal.addEventListener("abort", () => {
              aborted.resolve(clock.now());
              reject(ctx.signal.reason as Error);
            });
          }),
      },
      { store, clock, ...LEASE },
    );
    const loop = worker.runLoop();
    const job = await worker.submitJob({ handler: "work" });
    await started.promise;
    const other = engineWith({ work: () => null }, { store, clock, ...LEASE });
    const cancelled = await other.cancelJob(job.id);
    expect(cancelled.status).toBe("cancelled");
    const cancelledAt = clock.now();
    clock.advance(1000);
    expect(await aborted.promise).toBeLessThanOrEqual(cancelledAt + 1000);
    await settle();
    const result = await store.getResult(job.id);
    expect(result).toMatchObject({ status: "cancelled" });
    expect(await store.getJob(job.id)).toMatchObject({ status: "cancelled", version: cancelled.version });
    await worker.shutdown();
    await other.shutdown();
    await loop;
  });

  it("waitForResult resolves for a job another engine finished", async () => {
    const store = new MemoryJobStore();
    const worker = engineWith({ work: (p) => p }, { store });
    const client = engineWith({ work: (p) => p }, { store, pollIntervalMs: 2 });
    const [job] = await client.submitJobs([{ handler: "work", payload: "done elsewhere" }]);
    const waiting = client.waitForResult(job!.id);
    const loop = worker.runLoop();
    expect(await waiting).toMatchObject({ status: "completed", output: "done elsewhere" });
    await worker.shutdown();
    await client.shutdown();
    await loop;
  });

  it("gives up a job whose lease it could not renew before the lease expires, and reports the failure", async () => {
    const clock = new ManualClock(T0);
    const store = new FlakyClaimsStore(new MemoryJobStore({ clock }));
    store.keepOpen = true;
    const started = deferred();
    const abortedAt = deferred<number>();
    const engine = engineWith(
      {
        work: (_p, ctx) =>
          new Promise((_resolve, reject) => {
            started.resolve();
            ctx.signal.addEventListener("abort", () => {
              abortedAt.resolve(clock.now());
              reject(ctx.signal.reason as Error);
            });
          }),
      },
      { store, clock, ...LEASE },
    );
    const errors: string[] = [];
    engine.on("engine:error", (e) => errors.push(e.context));
    const loop = engine.runLoop();
    const job = await engine.submitJob({ handler: "work" });
    await started.promise;
    const claimedAt = clock.now();
    store.failingRenewals = new StoreFailureError("network down");
    for (let t = 0; t < 3000; t += 500) {
      clock.advance(500);
      await settle();
    }
    expect(await abortedAt.promise).toBeLessThanOrEqual(claimedAt + 3000);
    expect(errors.some((e) => e.includes("renewing leases failed"))).toBe(true);
    await settle();
    // The engine wrote nothing for the lost attempt: what the store shows is its reclaim (the
    // lease expired at the store, by the same clock): an interrupted attempt, not the handler's error.
    const stored = await store.inner.getJob(job.id);
    expect(stored?.lastError?.code).toBe("INTERRUPTED");
    expect(stored?.lastError?.message).toMatch(/lease expired/);
    await engine.shutdown();
    await loop;
  });

  it("shutdown hands claimed jobs that did not start back to the store, their attempt uncounted", async () => {
    const store = new FlakyClaimsStore(new MemoryJobStore());
    store.keepOpen = true;
    const started = deferred();
    const engine = engineWith(
      {
        work: async (_p, ctx) => {
          started.resolve();
          await new Promise((r) => ctx.signal.addEventListener("abort", r));
          throw new Error("stopped");
        },
      },
      { store, concurrency: 1, prefetch: 4 },
    );
    const loop = engine.runLoop();
    const jobs = await engine.submitJobs(Array.from({ length: 5 }, () => ({ handler: "work" })));
    await started.promise;
    await until(() => engine.queuedCount === 4, "four claimed ahead");
    expect((await store.inner.countByStatus()).running).toBe(5); // one running, four claimed ahead
    await engine.shutdown({ graceMs: 0 });
    await loop;
    for (const j of jobs) expect(await store.inner.getJob(j.id)).toMatchObject({ status: "retrying", attempts: 0 });
    expect(await store.claimsInner.leaseOwners()).toEqual([]);
    // Another engine takes them at once, without waiting for a lease to expire.
    const next = engineWith({ work: () => "ok" }, { store });
    let r = await next.runNext();
    let n = 0;
    while (r) {
      n++;
      r = await next.runNext();
    }
    expect(n).toBe(5);
    await next.shutdown();
  });

  it("refuses a second engine on a store without claims in this process", async () => {
    const store = new FlakyStore(new MemoryJobStore());
    store.keepOpen = true;
    const first = engineWith({ work: () => null }, { store });
    expect(() => engineWith({ work: () => null }, { store })).toThrow(IncompatibleStoreError);
    await first.shutdown();
    // After shutdown another engine may take the store (e.g. a restart in the same process).
    const second = engineWith({ work: () => "again" }, { store });
    await second.submitJob({ handler: "work" });
    expect(await second.runNext()).toMatchObject({ status: "completed", output: "again" });
    await second.shutdown();
  });

  it("validates lease options: renewal well inside the lease", () => {
    expect(() => engineWith({ work: () => null }, { leaseMs: 3000, renewIntervalMs: 2000 })).toThrow(ValidationError);
    expect(() => engineWith({ work: () => null }, { leaseMs: 5 })).toThrow(ValidationError);
    expect(() => engineWith({ work: () => null }, { prefetch: -1 })).toThrow(ValidationError);
    expect(() => engineWith({ work: () => null }, { owner: "" })).toThrow(ValidationError);
  });
});

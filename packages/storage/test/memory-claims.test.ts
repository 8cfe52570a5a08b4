import { describe, expect, it } from "vitest";
import { ManualClock, StaleVersionError, type Job } from "@pyrexis/models";
import { makeJob } from "../src/conformance/index.js";
import { hasClaims, MemoryJobStore } from "../src/index.js";
import { MemoryClaimIndex } from "../src/memory-claim-index.js";

const T0 = 1_700_000_000_000;

function jobAt(clock: ManualClock, overrides: Partial<Job> = {}): Job {
  return makeJob({ createdAt: clock.now(), updatedAt: clock.now(), runAt: clock.now(), ...overrides });
}

describe("MemoryJobStore claims", () => {
  it("declares the capability", () => {
    expect(hasClaims(new MemoryJobStore())).toBe(true);
  });

  it("claims in aging-key order, counts the attempt, and never hands a job out twice", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const low = jobAt(clock, { priority: 1 });
    const high = jobAt(clock, { priority: 9 });
    const later = jobAt(clock, { priority: 10, runAt: T0 + 60_000 });
    await store.commit({ insert: [low, high, later] });
    const first = await store.claim({ owner: "a", limit: 1, leaseMs: 1000 });
    expect(first.map((c) => c.job.id)).toEqual([high.id]);
    expect(first[0]?.job).toMatchObject({ status: "running", attempts: 1, version: 1 });
    expect(first[0]?.lease).toMatchObject({ owner: "a", version: 1, expiresAt: T0 + 1000 });
    const second = await store.claim({ owner: "b", limit: 10, leaseMs: 1000 });
    expect(second.map((c) => c.job.id)).toEqual([low.id]); // `later` is not due
    clock.advance(60_000);
    expect((await store.claim({ owner: "b", limit: 10, leaseMs: 1000 })).map((c) => c.job.id)).toEqual([later.id]);
    expect(await store.claim({ owner: "b", limit: 10, leaseMs: 1000 })).toEqual([]);
  });

  it("reclaims an expired lease as an interrupted attempt and fences the old holder", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock, random: () => 0 });
    const job = jobAt(clock, { maxAttempts: 2 });
    await store.commit({ insert: [job] });
    const [held] = await store.claim({ owner: "a", limit: 1, leaseMs: 1000 });
    clock.advance(999);
    expect(await store.reclaimExpired({ limit: 10 })).toEqual({ retried: [], failed: [] });
    clock.advance(1);
    const { retried } = await store.reclaimExpired({ limit: 10 });
    expect(retried.map((j) => [j.id, j.status, j.attempts, j.lastError?.code])).toEqual([[job.id, "retrying", 1, "INTERRUPTED"]]);
    const report = await store.renewLeases({ owner: "a", leaseMs: 1000, leases: [held!.lease] });
    expect(report.lost).toEqual([job.id]);
    const late = { ...held!.job, status: "completed" as const, version: held!.job.version + 1 };
    await expect(store.commit({ update: [{ job: late, expectedVersion: held!.lease.version }] })).rejects.toBeInstanceOf(StaleVersionError);
    expect((await store.getJob(job.id))?.status).toBe("retrying");
  });
});

describe("MemoryJobStore claims by id", () => {
  it("claims only the named jobs that are due", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const a = jobAt(clock, { priority: 1 });
    const b = jobAt(clock, { priority: 9 });
    const c = jobAt(clock, { runAt: T0 + 10 });
    await store.commit({ insert: [a, b, c] });
    const got = await store.claim({ owner: "x", limit: 10, leaseMs: 1000, ids: [a.id, c.id, "missing"] });
    expect(got.map((g) => g.job.id)).toEqual([a.id]);
    // The heap entry of `a` is stale now: a general claim skips it.
    expect((await store.claim({ owner: "x", limit: 10, leaseMs: 1000 })).map((g) => g.job.id)).toEqual([b.id]);
  });
});

describe("MemoryClaimIndex", () => {
  it("a claim filtered by handler or mode never looks at the jobs of the others", () => {
    const index = new MemoryClaimIndex<{ readonly job: Job }>(0.1);
    let reads = 0;
    const watched = (job: Job): { readonly job: Job } => ({
      get job() {
        reads++;
        return job;
      },
    });
    const others = Array.from({ length: 1000 }, (_, i) => makeJob({ handler: "a", mode: i % 2 ? "async" : "thread", runAt: T0 - i }));
    const wanted = [makeJob({ handler: "b", runAt: T0 }), makeJob({ handler: "b", runAt: T0 - 5 })];
    for (const job of others) index.track(watched(job), T0);
    for (const job of wanted) index.track({ job }, T0);
    reads = 0;
    const taken = index.take(T0, 10, undefined, ["b"]);
    expect(taken.map((r) => r.job.id)).toEqual([wanted[1]!.id, wanted[0]!.id]);
    expect(index.take(T0, 10, ["no-such-mode"], undefined)).toEqual([]);
    expect(reads).toBe(0);
    expect(index.take(T0, 2000, ["thread"], ["a"]).map((r) => r.job.mode)).toEqual(Array.from({ length: 500 }, () => "thread"));
  });
});

import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ManualClock, StaleVersionError, transition, type Job } from "@pyrexis/models";
import { claimedRecord, claimKey, reclaimedRecord, releasedRecord } from "@pyrexis/storage/kit";
import type { PostgresJobStore } from "../src/index.js";
import { admin, dropSchemas, freshSchema, job, openStore, rejection, result } from "./helpers.js";

// The claims capability against a real server: order, exclusivity across instances, leases by
// the store's clock (a ManualClock here, the database's now() in the last group), fencing,
// renewal, reclaim and release.

const T0 = 1_000_000;
const opened: PostgresJobStore[] = [];

async function open(schema: string, clock?: ManualClock): Promise<PostgresJobStore> {
  const store = await openStore(schema, clock === undefined ? {} : { clock, random: () => 0.5 });
  opened.push(store);
  return store;
}

/** A record without the stack traces of its errors (they name the call site, which differs). */
function noStack<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === "stack" ? undefined : v))) as T;
}

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});
afterAll(dropSchemas);

describe("claim", () => {
  it("hands out due jobs in aging-key order (then id), each written as the kit's claimedRecord with a lease", async () => {
    const clock = new ManualClock(T0);
    const store = await open(freshSchema("claim"), clock);
    const jobs = [
      job("b", { priority: 5, runAt: T0 - 10_000 }),
      job("a", { priority: 5, runAt: T0 - 10_000 }),
      job("c", { priority: 9, runAt: T0 }),
      job("d", { priority: 1, runAt: T0 - 100_000 }),
      job("later", { priority: 10, runAt: T0 + 1 }),
    ];
    await store.commit({ insert: jobs });
    const claimed = await store.claim({ owner: "w1", limit: 10, leaseMs: 5_000 });
    const expected = jobs
      .filter((j) => j.runAt <= T0)
      .sort((x, y) => claimKey(y, 0.1) - claimKey(x, 0.1) || (x.id < y.id ? -1 : 1))
      .map((j) => j.id);
    expect(claimed.map((c) => c.job.id)).toEqual(expected);
    for (const { job: got, lease } of claimed) {
      const before = jobs.find((j) => j.id === got.id)!;
      expect(got).toEqual(claimedRecord(before, T0));
      expect(await store.getJob(got.id)).toEqual(got);
      expect(lease).toEqual({ jobId: got.id, version: before.version + 1, owner: "w1", expiresAt: T0 + 5_000 });
    }
    expect(await store.claim({ owner: "w1", limit: 10, leaseMs: 5_000 })).toEqual([]);
    clock.advance(1);
    expect((await store.claim({ owner: "w1", limit: 10, leaseMs: 5_000 })).map((c) => c.job.id)).toEqual(["later"]);
  });

  it("takes only the modes, handlers and ids asked for, and at most limit", async () => {
    const clock = new ManualClock(T0);
    const store = await open(freshSchema("filter"), clock);
    await store.commit({
      insert: [
        job("t1", { mode: "thread", runAt: T0 }),
        job("t2", { mode: "thread", handler: "other", runAt: T0 }),
        job("a1", { runAt: T0 }),
        job("a2", { runAt: T0 }),
      ],
    });
    expect((await store.claim({ owner: "w", limit: 5, leaseMs: 100, modes: ["thread"], handlers: ["work"] })).map((c) => c.job.id)).toEqual(
      ["t1"],
    );
    expect(await store.claim({ owner: "w", limit: 1, leaseMs: 100, modes: ["async"] })).toHaveLength(1);
    expect((await store.claim({ owner: "w", limit: 5, leaseMs: 100, handlers: ["other"] })).map((c) => c.job.id)).toEqual(["t2"]);
    await store.commit({ insert: [job("i1", { runAt: T0 }), job("i2", { runAt: T0 }), job("i3", { runAt: T0 + 1 })] });
    expect((await store.claim({ owner: "w", limit: 5, leaseMs: 100, ids: ["i2", "i3", "nope"] })).map((c) => c.job.id)).toEqual(["i2"]);
    expect(await store.countByStatus()).toMatchObject({ running: 4, pending: 3 });
  });

  it("several store instances claiming at once never receive the same job, and together take all", async () => {
    const schema = freshSchema("race");
    const clock = new ManualClock(T0);
    const stores = await Promise.all([0, 1, 2, 3].map(() => open(schema, clock)));
    const ids = Array.from({ length: 300 }, (_, i) => `j${String(i).padStart(3, "0")}`);
    await stores[0]!.commit({ insert: ids.map((id, i) => job(id, { priority: i % 10, runAt: T0 - i })) });
    const got = await Promise.all(
      stores.map(async (store, w) => {
        const mine: string[] = [];
        for (;;) {
          const batch = await store.claim({ owner: `w${w}`, limit: 7, leaseMs: 60_000 });
          if (batch.length === 0) return mine;
          mine.push(...batch.map((c) => c.job.id));
        }
      }),
    );
    const all = got.flat();
    expect(new Set(all).size).toBe(all.length);
    expect(all.sort()).toEqual(ids);
    expect((await stores[0]!.leaseOwners()).sort()).toEqual(got.flatMap((mine, w) => (mine.length > 0 ? [`w${w}`] : [])).sort());
  });
});

describe("leases", () => {
  async function claimedOne(
    clock: ManualClock,
    extra: { maxAttempts?: number } = {},
  ): Promise<{ store: PostgresJobStore; held: Job; version: number }> {
    const store = await open(freshSchema("lease"), clock);
    await store.commit({ insert: [job("x", { runAt: T0, ...extra })] });
    const [claimed] = await store.claim({ owner: "w1", limit: 1, leaseMs: 1_000 });
    return { store, held: claimed!.job, version: claimed!.lease.version };
  }

  it("renewal extends the owner's leases from now, reports other owners' and unknown jobs lost and cancelled jobs cancelled", async () => {
    const clock = new ManualClock(T0);
    const { store, held, version } = await claimedOne(clock);
    await store.commit({ insert: [job("y", { runAt: T0 })] });
    const [y] = await store.claim({ owner: "w1", limit: 1, leaseMs: 1_000 });
    await store.commit({ update: [{ job: transition(y!.job, "cancelled", T0), expectedVersion: y!.lease.version }] });
    clock.advance(5_000); // expired but not reclaimed: still renewable
    const report = await store.renewLeases({
      owner: "w1",
      leaseMs: 2_000,
      leases: [
        { jobId: "x", version },
        { jobId: "y", version: y!.lease.version },
        { jobId: "nope", version: 1 },
        { jobId: "x", version: version + 1 },
      ],
    });
    expect(report).toEqual({
      renewed: [{ jobId: "x", version, owner: "w1", expiresAt: T0 + 7_000 }],
      lost: ["nope", "x"],
      cancelled: ["y"],
    });
    expect(await store.renewLeases({ owner: "w2", leaseMs: 2_000, leases: [{ jobId: "x", version }] })).toEqual({
      renewed: [],
      lost: ["x"],
      cancelled: [],
    });
    expect(await store.reclaimExpired({ limit: 10 })).toEqual({ retried: [], failed: [] });
    expect(held.status).toBe("running");
  });

  it("an expired lease is reclaimed as an interrupted attempt, and the old holder's writes are then refused", async () => {
    const clock = new ManualClock(T0);
    const { store, held, version } = await claimedOne(clock);
    clock.advance(999);
    expect(await store.reclaimExpired({ limit: 10 })).toEqual({ retried: [], failed: [] });
    clock.advance(1);
    const report = await store.reclaimExpired({ limit: 10 });
    const expected = reclaimedRecord(held, T0 + 1_000, () => 0.5).job;
    expect(noStack(report)).toEqual(noStack({ retried: [expected], failed: [] }));
    expect(noStack(await store.getJob("x"))).toEqual(noStack(expected));
    expect(await store.leaseOwners()).toEqual([]);
    const late = transition(held, "completed", T0 + 1_000);
    const e = await rejection(store.commit({ update: [{ job: late, expectedVersion: version }], results: [result("x")] }));
    expect(e).toBeInstanceOf(StaleVersionError);
    expect(await store.getResult("x")).toBeUndefined();
    expect((await store.renewLeases({ owner: "w1", leaseMs: 1_000, leases: [{ jobId: "x", version }] })).lost).toEqual(["x"]);
  });

  it("a reclaim of the last attempt fails the job with INTERRUPTED and writes its one result", async () => {
    const clock = new ManualClock(T0);
    const { store, held } = await claimedOne(clock, { maxAttempts: 1 });
    clock.advance(1_000);
    const report = await store.reclaimExpired({ limit: 10 });
    const expected = reclaimedRecord(held, T0 + 1_000);
    expect(noStack(report)).toEqual(noStack({ retried: [], failed: [expected.job] }));
    expect((await store.getJob("x"))?.status).toBe("failed");
    expect(noStack(await store.getResult("x"))).toEqual(noStack(expected.result));
    expect((await store.getResult("x"))?.error?.code).toBe("INTERRUPTED");
  });

  it("dead owners' leases and running jobs without a lease are reclaimed at once", async () => {
    const clock = new ManualClock(T0);
    const { store } = await claimedOne(clock);
    const plain = job("single", { runAt: T0 });
    await store.commit({ insert: [plain] });
    await store.commit({ update: [{ job: transition(plain, "running", T0, { attempts: 1 }), expectedVersion: 0 }] });
    expect(await store.leaseOwners()).toEqual(["w1"]);
    expect((await store.reclaimExpired({ limit: 10 })).retried.map((j) => j.id)).toEqual(["single"]);
    expect((await store.reclaimExpired({ limit: 10, deadOwners: ["w1"] })).retried.map((j) => j.id)).toEqual(["x"]);
  });

  it("a holder releases a job with releasedRecord: retrying, due now, attempt uncounted, lease gone, claimable again", async () => {
    const clock = new ManualClock(T0);
    const { store, held, version } = await claimedOne(clock);
    clock.advance(10);
    const released = releasedRecord(held, T0 + 10);
    await store.commit({ update: [{ job: released, expectedVersion: version }] });
    expect(await store.leaseOwners()).toEqual([]);
    const [again] = await store.claim({ owner: "w2", limit: 1, leaseMs: 1_000 });
    expect(again?.job).toEqual(claimedRecord(released, T0 + 10));
    expect(again?.job.attempts).toBe(1);
  });
});

describe("the database clock", () => {
  it("without a clock option, due and lease expiry are judged by PostgreSQL's now()", async () => {
    const store = await open(freshSchema("dbclock"));
    const [row] = await admin<{ now: number }>("SELECT floor(extract(epoch FROM now()) * 1000)::float8 AS now");
    const now = row!.now;
    await store.commit({ insert: [job("past", { runAt: now - 60_000 }), job("future", { runAt: now + 3_600_000 })] });
    const claimed = await store.claim({ owner: "w", limit: 10, leaseMs: 60_000 });
    expect(claimed.map((c) => c.job.id)).toEqual(["past"]);
    const lease = claimed[0]!.lease;
    expect(lease.expiresAt - claimed[0]!.job.updatedAt).toBe(60_000);
    expect(claimed[0]!.job.updatedAt).toBeGreaterThanOrEqual(now);
    expect(await store.reclaimExpired({ limit: 10 })).toEqual({ retried: [], failed: [] });
  });
});

import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backoffDelay, createJob, createResult, ManualClock, parseJobSpec, seededRandom, transition, type Job } from "@pyrexis/models";
import { MemoryJobStore, type ClaimRequest } from "@pyrexis/storage";
import { releasedRecord } from "@pyrexis/storage/kit";
import { CLAIM_BY_IDS_SQL, claimScanSql, CLAIMABLE_MODES_SQL, LEASE_OWNERS_SQL, RECLAIM_SCAN_SQL } from "../src/claims.js";
import { FLOW_GROUPS_SQL, FLOW_HAS_UNGROUPED_SQL, flowLimitsScanSql, flowScanSql } from "../src/flow.js";
import { SCAN_FILTER_SETS } from "../src/scan-row.js";
import { SqliteJobStore, type SqliteJobStoreOptions } from "../src/index.js";
import { tempDir, type TempDir } from "@pyrexis/test-utils";
import { legacyStore, rejection } from "./helpers.js";

let tmp: TempDir;
let clock: ManualClock;
const open: SqliteJobStore[] = [];

async function openStore(path = tmp.file("claims.db"), options: SqliteJobStoreOptions = {}): Promise<SqliteJobStore> {
  const store = await SqliteJobStore.open({ path }, { clock, ...options });
  open.push(store);
  return store;
}

beforeEach(() => {
  tmp = tempDir("pyrexis-sqlite-claims-");
  clock = new ManualClock(10_000);
});

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

interface Spec {
  priority?: number;
  mode?: string;
  handler?: string;
  runAt?: number;
  maxAttempts?: number;
  createdAt?: number;
  group?: string;
}

/** A pending job created at `createdAt` (default 1000), due at `runAt` (default createdAt). */
function pending(id: string, spec: Spec = {}): Job {
  return createJob(
    parseJobSpec({
      id,
      handler: spec.handler ?? "work",
      mode: spec.mode,
      priority: spec.priority,
      maxAttempts: spec.maxAttempts,
      runAt: spec.runAt,
      group: spec.group,
      backoff: { baseMs: 1_000, maxMs: 60_000, jitter: 0 },
    }),
    spec.createdAt ?? 1_000,
  );
}

const ids = (claimed: readonly { job: Job }[]): string[] => claimed.map((c) => c.job.id);
const claim = (store: SqliteJobStore, request: Partial<ClaimRequest> = {}) =>
  store.claim({ owner: "e1", limit: 10, leaseMs: 1_000, ...request });

/** The lease columns of a row, read through a connection of its own. */
function leaseColumns(path: string, id: string): unknown {
  const raw = new Database(path, { readonly: true });
  try {
    return raw.prepare("SELECT status, lease_owner, lease_expires_at FROM jobs WHERE id = ?").get(id);
  } finally {
    raw.close();
  }
}

describe("claim", () => {
  it("writes running, attempts + 1, updatedAt = now, version + 1 and a lease, durably, before it resolves", async () => {
    const path = tmp.file("a.db");
    const store = await openStore(path);
    const a = pending("a");
    await store.commit({ insert: [a] });
    const [claimed, ...rest] = await claim(store, { leaseMs: 5_000 });
    expect(rest).toEqual([]);
    const expected = { ...a, status: "running", attempts: 1, updatedAt: 10_000, version: 1 };
    expect(claimed).toEqual({ job: expected, lease: { jobId: "a", version: 1, owner: "e1", expiresAt: 15_000 } });
    expect(Object.isFrozen(claimed!.lease)).toBe(true);
    // Another connection sees it committed, lease included.
    expect(leaseColumns(path, "a")).toEqual({ status: "running", lease_owner: "e1", lease_expires_at: 15_000 });
    expect(await store.getJob("a")).toEqual(expected);
    expect(await claim(store)).toEqual([]);
  });

  it("hands out due jobs only (pending or retrying with runAt <= now by the store's clock)", async () => {
    const store = await openStore();
    const due = pending("due", { runAt: 10_000 });
    const later = pending("later", { runAt: 10_001 });
    const retrying = transition(transition(pending("retry"), "running", 2_000, { attempts: 1 }), "retrying", 3_000, { runAt: 9_000 });
    const done = transition(transition(pending("done"), "running", 2_000, { attempts: 1 }), "completed", 3_000);
    const cancelled = transition(pending("cancelled"), "cancelled", 2_000);
    await store.commit({ insert: [due, later, retrying, done, cancelled] });
    expect(ids(await claim(store)).sort()).toEqual(["due", "retry"]);
    clock.advance(1);
    expect(ids(await claim(store))).toEqual(["later"]);
    expect(await claim(store)).toEqual([]);
  });

  it("claims in claim order (aging key descending, then id), up to limit, across calls", async () => {
    const store = await openStore(undefined, { agingRate: 1 });
    // aging key = priority − runAt / 1000 with agingRate 1: c (5 − 1) > a = b (5 − 2, id breaks the tie) > d (9 − 8).
    const jobs = [
      pending("b", { runAt: 2_000 }),
      pending("a", { runAt: 2_000 }),
      pending("c", { runAt: 1_000 }),
      pending("d", { priority: 9, runAt: 8_000 }),
      pending("e", { priority: 0, runAt: 1_000 }),
    ];
    await store.commit({ insert: jobs });
    expect(ids(await claim(store, { limit: 2 }))).toEqual(["c", "a"]);
    expect(ids(await claim(store, { limit: 2 }))).toEqual(["b", "d"]);
    expect(ids(await claim(store, { limit: 2 }))).toEqual(["e"]);
  });

  it("filters by modes and handlers, merging several modes in claim order", async () => {
    const store = await openStore();
    await store.commit({
      insert: [
        pending("t1", { mode: "thread", priority: 3 }),
        pending("t2", { mode: "thread", priority: 8, handler: "other" }),
        pending("p1", { mode: "process", priority: 6 }),
        pending("a1", { priority: 7 }),
        pending("a2", { priority: 1, handler: "other" }),
      ],
    });
    expect(ids(await claim(store, { modes: ["process"], limit: 5 }))).toEqual(["p1"]);
    expect(ids(await claim(store, { modes: ["thread", "async", "thread"], handlers: ["work"] }))).toEqual(["a1", "t1"]);
    expect(ids(await claim(store, { handlers: ["nope"] }))).toEqual([]);
    // Every mode (found by a skip scan of the claim index), in claim order.
    expect(ids(await claim(store))).toEqual(["t2", "a2"]);
  });

  it("claims only the named ids that are due, in claim order, with the other filters", async () => {
    const store = await openStore();
    await store.commit({
      insert: [
        pending("a", { priority: 1 }),
        pending("b", { priority: 9 }),
        pending("later", { runAt: 10_001 }),
        pending("t", { mode: "thread", priority: 5 }),
        pending("h", { handler: "other", priority: 7 }),
      ],
    });
    expect(ids(await claim(store, { ids: ["a", "later", "missing", "t", "a"] }))).toEqual(["t", "a"]);
    expect(ids(await claim(store, { ids: ["b", "h"], handlers: ["other"] }))).toEqual(["h"]);
    expect(ids(await claim(store, { ids: ["b"], modes: ["thread"] }))).toEqual([]);
    expect(ids(await claim(store, { ids: ["b", "later"], limit: 1 }))).toEqual(["b"]);
    expect((await rejection(claim(store, { ids: [] }))).code).toBe("VALIDATION");
  });

  it("never hands the same job to two claimers: two instances on one file split the jobs", async () => {
    const path = tmp.file("two.db");
    const one = await openStore(path);
    const two = await openStore(path);
    await one.commit({ insert: Array.from({ length: 30 }, (_, i) => pending(`j${String(i).padStart(2, "0")}`)) });
    const got: string[] = [];
    for (let round = 0; round < 4; round++) {
      const [x, y] = await Promise.all([claim(one, { owner: "one", limit: 4 }), claim(two, { owner: "two", limit: 4 })]);
      got.push(...ids(x), ...ids(y));
    }
    expect(got).toHaveLength(30);
    expect(new Set(got).size).toBe(30);
    expect((await one.leaseOwners()).sort()).toEqual(["one", "two"]);
  });

  it("rejects malformed requests with ValidationError and writes nothing", async () => {
    const store = await openStore();
    await store.commit({ insert: [pending("a")] });
    for (const bad of [
      null,
      { owner: "", limit: 1, leaseMs: 1_000 },
      { owner: "e", limit: 0, leaseMs: 1_000 },
      { owner: "e", limit: 1001, leaseMs: 1_000 },
      { owner: "e", limit: 1, leaseMs: 5 },
      { owner: "e", limit: 1, leaseMs: 1_000, modes: [] },
      { owner: "e", limit: 1, leaseMs: 1_000, handlers: [""] },
    ]) {
      expect((await rejection(store.claim(bad as never))).code, JSON.stringify(bad)).toBe("VALIDATION");
    }
    expect((await store.getJob("a"))?.status).toBe("pending");
  });

  it("keeps leases across reopen", async () => {
    const path = tmp.file("r.db");
    const first = await SqliteJobStore.open({ path }, { clock });
    await first.commit({ insert: [pending("a")] });
    await first.claim({ owner: "e1", limit: 1, leaseMs: 1_000 });
    await first.close();
    const second = await openStore(path);
    expect(await second.leaseOwners()).toEqual(["e1"]);
    expect(await second.reclaimExpired({ limit: 10 })).toEqual({ retried: [], failed: [] });
    const renewed = await second.renewLeases({ owner: "e1", leaseMs: 2_000, leases: [{ jobId: "a", version: 1 }] });
    expect(renewed.renewed).toEqual([{ jobId: "a", version: 1, owner: "e1", expiresAt: 12_000 }]);
  });
});

describe("fencing and release", () => {
  it("a committed update that leaves running ends the lease; one that stays running keeps it", async () => {
    const path = tmp.file("f.db");
    const store = await openStore(path);
    await store.commit({ insert: [pending("a"), pending("b")] });
    const [a, b] = await claim(store, { owner: "e1" });
    await store.commit({
      update: [{ job: transition(a!.job, "completed", 10_500), expectedVersion: a!.lease.version }],
      results: [createResult({ jobId: "a", status: "completed", output: 1, startedAt: 10_000, endedAt: 10_500, attempts: 1 })],
    });
    expect(leaseColumns(path, "a")).toEqual({ status: "completed", lease_owner: null, lease_expires_at: null });
    expect(leaseColumns(path, "b")).toEqual({ status: "running", lease_owner: "e1", lease_expires_at: 11_000 });
    // The old holding is fenced: its version is gone.
    const stale = await rejection(store.commit({ update: [{ job: transition(a!.job, "failed", 10_600), expectedVersion: 1 }] }));
    expect(stale.code).toBe("STALE_VERSION");
    expect(await store.leaseOwners()).toEqual(["e1"]);
    await store.commit({ update: [{ job: transition(b!.job, "completed", 10_500), expectedVersion: b!.lease.version }] });
    expect(await store.leaseOwners()).toEqual([]);
  });

  it("a released job is claimable again at once, its attempt uncounted", async () => {
    const store = await openStore();
    await store.commit({ insert: [pending("a")] });
    const [held] = await claim(store, { owner: "e1" });
    await store.commit({ update: [{ job: releasedRecord(held!.job, clock.now()), expectedVersion: held!.lease.version }] });
    expect(await store.leaseOwners()).toEqual([]);
    const [again] = await claim(store, { owner: "e2" });
    expect(again!.job).toMatchObject({ id: "a", attempts: 1, status: "running", version: 3 });
    expect(again!.lease.owner).toBe("e2");
  });
});

describe("renewLeases", () => {
  it("extends the caller's leases (expired but not reclaimed too) and reports the others lost or cancelled", async () => {
    const store = await openStore();
    await store.commit({ insert: ["a", "b", "c", "d", "e"].map((id) => pending(id)) });
    const held = await claim(store, { owner: "e1", limit: 4 });
    const [a, b, c, d] = held;
    clock.advance(5_000); // every lease expired; nothing reclaimed them
    await store.commit({ update: [{ job: transition(c!.job, "cancelled", clock.now()), expectedVersion: c!.lease.version }] });
    await store.commit({ update: [{ job: transition(d!.job, "completed", clock.now()), expectedVersion: d!.lease.version }] });
    const report = await store.renewLeases({
      owner: "e1",
      leaseMs: 2_000,
      leases: [
        { jobId: "a", version: 1 },
        { jobId: "b", version: 0 }, // not the claimed version
        { jobId: "c", version: 1 },
        { jobId: "d", version: 1 },
        { jobId: "e", version: 0 }, // never claimed
        { jobId: "ghost", version: 1 },
      ],
    });
    expect(report).toEqual({
      renewed: [{ jobId: "a", version: 1, owner: "e1", expiresAt: 17_000 }],
      lost: ["b", "d", "e", "ghost"],
      cancelled: ["c"],
    });
    const other = await store.renewLeases({ owner: "e2", leaseMs: 2_000, leases: [{ jobId: "a", version: a!.lease.version }] });
    expect(other).toEqual({ renewed: [], lost: ["a"], cancelled: [] });
    expect(b!.lease.version).toBe(1);
    // The renewed lease is what reclaim judges by: b's expired lease is reclaimed, a's is not.
    clock.advance(1_000);
    const reclaimed = await store.reclaimExpired({ limit: 10 });
    expect(reclaimed.retried.map((j) => j.id)).toEqual(["b"]);
  });

  it("accepts an empty batch and rejects malformed requests with ValidationError", async () => {
    const store = await openStore();
    expect(await store.renewLeases({ owner: "e1", leaseMs: 1_000, leases: [] })).toEqual({ renewed: [], lost: [], cancelled: [] });
    for (const bad of [
      { owner: "e1", leaseMs: 1_000, leases: [{ jobId: "", version: 1 }] },
      { owner: "e1", leaseMs: 1_000, leases: [{ jobId: "a", version: -1 }] },
      { owner: "e1", leaseMs: 1_000 },
      { owner: 1, leaseMs: 1_000, leases: [] },
    ]) {
      expect((await rejection(store.renewLeases(bad as never))).code).toBe("VALIDATION");
    }
  });
});

describe("reclaimExpired", () => {
  it("retries an expired job with backoff and fails one whose attempts are used up, with its one result", async () => {
    const store = await openStore();
    await store.commit({ insert: [pending("again", { maxAttempts: 3 }), pending("last", { maxAttempts: 1 })] });
    await claim(store, { leaseMs: 1_000 });
    clock.advance(999);
    expect(await store.reclaimExpired({ limit: 10 })).toEqual({ retried: [], failed: [] });
    clock.advance(1); // now = expiry: expired
    const { retried, failed } = await store.reclaimExpired({ limit: 10 });
    expect(retried.map((j) => [j.id, j.status, j.attempts, j.runAt, j.lastError?.code])).toEqual([
      ["again", "retrying", 1, 11_000 + backoffDelay(pending("x").backoff, 1), "INTERRUPTED"],
    ]);
    expect(failed.map((j) => [j.id, j.status, j.attempts, j.lastError?.code])).toEqual([["last", "failed", 1, "INTERRUPTED"]]);
    expect(await store.getJob("again")).toEqual(retried[0]);
    expect(await store.getResult("last")).toMatchObject({ jobId: "last", status: "failed", attempts: 1, error: { code: "INTERRUPTED" } });
    expect(await store.getResult("again")).toBeUndefined();
    expect(await store.leaseOwners()).toEqual([]);
    expect(await store.reclaimExpired({ limit: 10 })).toEqual({ retried: [], failed: [] });
    // Due again after its backoff, by the store's clock.
    clock.set(retried[0]!.runAt - 1);
    expect(await claim(store)).toEqual([]);
    clock.advance(1);
    expect((await claim(store)).map((c) => [c.job.id, c.job.attempts])).toEqual([["again", 2]]);
  });

  it("takes dead owners' jobs at once, and running jobs that have no lease; up to limit", async () => {
    const store = await openStore();
    const legacy = transition(pending("legacy"), "running", 2_000, { attempts: 1 });
    await store.commit({ insert: [pending("a"), pending("b"), pending("c"), legacy] });
    await claim(store, { owner: "dead", limit: 2 });
    await claim(store, { owner: "alive", limit: 1 });
    expect((await store.leaseOwners()).sort()).toEqual(["alive", "dead"]);
    const first = await store.reclaimExpired({ limit: 1, deadOwners: ["dead"] });
    // No lease sorts first (NULL expiry).
    expect(first.retried.map((j) => j.id)).toEqual(["legacy"]);
    const rest = await store.reclaimExpired({ limit: 10, deadOwners: ["dead"] });
    expect(rest.retried.map((j) => j.id).sort()).toEqual(["a", "b"]);
    expect(await store.leaseOwners()).toEqual(["alive"]);
    for (const bad of [{ limit: 0 }, { limit: 1, deadOwners: [""] }, { limit: 1, deadOwners: "x" }]) {
      expect((await rejection(store.reclaimExpired(bad as never))).code).toBe("VALIDATION");
    }
  });

  it("uses the injected random source for the backoff jitter", async () => {
    const jittered = (random: () => number) => async () => {
      clock = new ManualClock(10_000);
      const store = await openStore(tmp.file(`j${open.length}.db`), { random });
      const j = { ...pending("a"), backoff: { baseMs: 1_000, maxMs: 60_000, jitter: 1 } };
      await store.commit({ insert: [j] });
      await claim(store);
      clock.advance(1_000);
      return (await store.reclaimExpired({ limit: 1 })).retried[0]!.runAt;
    };
    const low = await jittered(() => 0)();
    const high = await jittered(() => 0.999)();
    expect(low).not.toBe(high);
  });
});

describe("changeMark", () => {
  it("changes on this instance's writes and on another connection's commits, not on reads", async () => {
    const path = tmp.file("m.db");
    const one = await openStore(path);
    const two = await openStore(path);
    const m0 = await one.changeMark();
    await one.listJobs();
    await one.countByStatus();
    expect(await one.changeMark()).toBe(m0);
    await one.commit({ insert: [pending("a")] });
    const m1 = await one.changeMark();
    expect(m1).not.toBe(m0);
    const seen = await two.changeMark();
    await two.commit({ insert: [pending("b")] });
    expect(await one.changeMark()).not.toBe(m1);
    expect(await two.changeMark()).not.toBe(seen);
    const m2 = await one.changeMark();
    await claim(two);
    expect(await one.changeMark()).not.toBe(m2);
    const m3 = await two.changeMark();
    await claim(two); // nothing to claim: nothing written
    expect(await two.changeMark()).toBe(m3);
  });
});

describe("corrupt rows", () => {
  async function withCorrupt(options: SqliteJobStoreOptions = {}): Promise<{ store: SqliteJobStore; path: string }> {
    const path = tmp.file("corrupt.db");
    const setup = await SqliteJobStore.open({ path }, { clock });
    await setup.commit({ insert: [pending("a", { priority: 9 }), pending("bad", { priority: 8 }), pending("c", { priority: 1 })] });
    await setup.close();
    const raw = new Database(path);
    raw.prepare("UPDATE jobs SET data = ? WHERE id = 'bad'").run("{not json");
    raw.close();
    return { store: await openStore(path, options), path };
  }

  it("a claim skips a corrupt row, reports it once and hands out the others; later claims never read it again", async () => {
    const reported: string[] = [];
    const { store, path } = await withCorrupt({ onCorruptRecord: (e) => reported.push(e.jobId) });
    // limit 2: the corrupt row is second in claim order; the claim still fills up with c.
    expect(ids(await claim(store, { limit: 2 }))).toEqual(["a", "c"]);
    expect(reported).toEqual(["bad"]);
    expect(await claim(store)).toEqual([]);
    expect(reported).toEqual(["bad"]);
    expect(leaseColumns(path, "bad")).toEqual({ status: "pending", lease_owner: null, lease_expires_at: null });
  });

  it("a corrupt row repaired by a committed update is claimable again", async () => {
    const { store } = await withCorrupt();
    expect(ids(await claim(store))).toEqual(["a", "c"]);
    // The row's columns still say version 0: an update written over it repairs the record.
    await store.commit({ update: [{ job: { ...pending("bad", { priority: 8 }), version: 1 }, expectedVersion: 0 }] });
    expect(ids(await claim(store))).toEqual(["bad"]);
  });

  it("collects it in corruptRecords when no callback is given; a corrupt running row does not stop a reclaim", async () => {
    const { store, path } = await withCorrupt();
    await claim(store, { owner: "e1" });
    expect(store.corruptRecords.map((e) => [e.code, e.jobId])).toEqual([["CORRUPT_RECORD", "bad"]]);
    // Corrupt a claimed running row too: reclaim reports it and reclaims the rest.
    const raw = new Database(path);
    raw.prepare("UPDATE jobs SET data = '[]' WHERE id = 'a'").run();
    raw.close();
    clock.advance(1_000);
    const { retried } = await store.reclaimExpired({ limit: 10 });
    expect(retried.map((j) => j.id)).toEqual(["c"]);
    expect(store.corruptRecords.map((e) => e.jobId).sort()).toEqual(["a", "bad"]);
    expect(await store.reclaimExpired({ limit: 10 })).toEqual({ retried: [], failed: [] });
  });

  it("behind a held limit, candidates are read by their limits column: a record is read (and a corrupt one reported) only when that cannot refuse it", async () => {
    const path = tmp.file("held-corrupt.db");
    const setup = await SqliteJobStore.open({ path }, { clock });
    const onApi = (id: string, priority: number): Job =>
      createJob(parseJobSpec({ id, handler: "work", priority, limits: [{ key: "api", units: 1 }] }), 1_000);
    // In claim order: the one that takes api's slot, 40 more on api (past the first read), then
    // rows damaged in three ways, and one job without limits.
    const backlog = Array.from({ length: 40 }, (_, i) => onApi(`w${i}`, 8));
    await setup.commit({
      insert: [
        onApi("first", 9),
        ...backlog,
        onApi("notjson", 7),
        onApi("badlimits", 6),
        onApi("stale", 5),
        pending("free", { priority: 4 }),
      ],
    });
    await setup.close();
    const raw = new Database(path);
    // Record and limits column both unreadable: read in full, reported.
    raw.prepare("UPDATE jobs SET data = '{not json', flow_limits = 'garbage' WHERE id = 'notjson'").run();
    // A limits column of another shape: the record is read in full, and refused by its limits.
    raw.prepare(`UPDATE jobs SET flow_limits = '"api"' WHERE id = 'badlimits'`).run();
    // A corrupt record whose limits column is intact: refused by it, reported once it is read.
    raw.prepare("UPDATE jobs SET data = '{not json' WHERE id = 'stale'").run();
    raw.close();
    const store = await openStore(path);
    const flow = { limits: { api: { maxConcurrent: 1 } } };
    const r = await store.claimFlow({ owner: "e1", limit: 10, leaseMs: 1_000, flow });
    expect(ids(r.claimed)).toEqual(["first", "free"]);
    expect(r.refused).toBe(42);
    expect(r.waiting).toEqual({ api: 42 });
    expect(store.corruptRecords.map((e) => e.jobId)).toEqual(["notjson"]);
  });

  it("a row whose mode column disagrees with its record is corrupt, never handed out to the wrong mode", async () => {
    const path = tmp.file("mode.db");
    const store = await openStore(path);
    await store.commit({ insert: [pending("a", { mode: "process" })] });
    const raw = new Database(path);
    raw.prepare("UPDATE jobs SET mode = 'thread' WHERE id = 'a'").run();
    raw.close();
    expect(await claim(store, { modes: ["thread"] })).toEqual([]);
    expect(store.corruptRecords.map((e) => e.jobId)).toEqual(["a"]);
  });
});

describe("busy handling", () => {
  it("a write lock held past busyTimeoutMs is a StoreFailureError (SQLITE_BUSY), never a raw error; nothing is claimed", async () => {
    const path = tmp.file("busy.db");
    const store = await openStore(path, { busyTimeoutMs: 0 });
    await store.commit({ insert: [pending("a")] });
    const other = new Database(path);
    try {
      other.exec("BEGIN IMMEDIATE");
      for (const op of [
        () => claim(store),
        () => store.reclaimExpired({ limit: 1 }),
        () => store.renewLeases({ owner: "e1", leaseMs: 1_000, leases: [{ jobId: "a", version: 1 }] }),
        () => store.commit({ insert: [pending("b")] }),
      ]) {
        const e = await rejection(op());
        expect(e).toMatchObject({ name: "StoreFailureError", code: "STORE_FAILURE" });
        expect((e.cause as { code?: string }).code).toBe("SQLITE_BUSY");
      }
      // Reads do not take the write lock.
      expect(await store.leaseOwners()).toEqual([]);
      expect(typeof (await store.changeMark())).toBe("string");
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    expect(ids(await claim(store))).toEqual(["a"]);
  });
});

describe("options and lifecycle", () => {
  it("rejects a bad clock or random with ValidationError", async () => {
    for (const options of [{ clock: {} }, { clock: null }, { clock: { now: 1 } }, { random: 0.5 }]) {
      const e = await rejection(SqliteJobStore.open({ path: ":memory:" }, options as never));
      expect(e.code, JSON.stringify(options)).toBe("VALIDATION");
    }
  });

  it("rejects every claims method after close with StoreClosedError", async () => {
    const store = await SqliteJobStore.open({ path: tmp.file("c.db") }, { clock });
    await store.close();
    for (const op of [
      () => claim(store),
      () => store.renewLeases({ owner: "e1", leaseMs: 1_000, leases: [] }),
      () => store.reclaimExpired({ limit: 1 }),
      () => store.leaseOwners(),
      () => store.changeMark(),
    ]) {
      expect((await rejection(op())).code).toBe("STORE_CLOSED");
    }
  });
});

describe("migration 0003 of an existing store", () => {
  it("fills mode and handler from the records, leaves running rows reclaimable at once and survives a corrupt row", async () => {
    const path = tmp.file("v2.db");
    const legacyRunning = transition(pending("was-running", { mode: "thread" }), "running", 2_000, { attempts: 1 });
    await legacyStore(path, "0002_drop_unused_aging_index", [
      pending("p", { mode: "process", handler: "h" }),
      legacyRunning,
      pending("broken"),
    ]);
    const raw = new Database(path);
    raw.prepare("UPDATE jobs SET data = 'nope' WHERE id = 'broken'").run();
    raw.close();
    const store = await openStore(path);
    expect(ids(await claim(store, { modes: ["process"], handlers: ["h"] }))).toEqual(["p"]);
    const { retried } = await store.reclaimExpired({ limit: 10 });
    expect(retried.map((j) => [j.id, j.status, j.attempts])).toEqual([["was-running", "retrying", 1]]);
    expect(await claim(store)).toEqual([]);
    expect(store.corruptRecords.map((e) => e.jobId)).toEqual(["broken"]);
  });
});

describe("query plans (a regression here makes claims scan the table)", () => {
  function plan(path: string, sql: string, ...params: unknown[]): string {
    const raw = new Database(path, { readonly: true });
    try {
      return (raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join(" | ");
    } finally {
      raw.close();
    }
  }

  it("claim scans, the mode skip scan, reclaim and leaseOwners use their partial indexes, with no sort", async () => {
    const path = tmp.file("plan.db");
    const store = await openStore(path);
    // Enough rows of several statuses and modes for the planner to have a choice.
    const jobs = Array.from({ length: 300 }, (_, i) => pending(`j${i}`, { mode: ["async", "thread", "process"][i % 3], priority: i % 10 }));
    await store.commit({ insert: jobs });
    await store.commit({
      update: jobs.slice(200, 260).map((j) => ({ job: transition(j, "cancelled", 11_000), expectedVersion: 0 })),
    });
    await claim(store, { limit: 50 });
    const raw = new Database(path);
    raw.exec("ANALYZE");
    raw.close();

    // Every filter combination (a filter not asked for is left out of the statement).
    for (const filters of SCAN_FILTER_SETS) {
      const claimPlan = plan(path, claimScanSql(filters), { mode: "async", now: 1, handlers: '["work"]', excluded: '["j1"]', limit: 10 });
      expect(claimPlan, JSON.stringify(filters)).toMatch(/SEARCH jobs USING INDEX jobs_claim \(mode=\?\)/);
      expect(claimPlan, JSON.stringify(filters)).not.toMatch(/TEMP B-TREE/);
    }
    const modesPlan = plan(path, CLAIMABLE_MODES_SQL);
    expect(modesPlan).toMatch(/jobs_claim/);
    expect(modesPlan).not.toMatch(/SCAN jobs(?! USING)/);
    const reclaimPlan = plan(path, RECLAIM_SCAN_SQL, 1, "[]", "[]", 10);
    expect(reclaimPlan).toMatch(/jobs USING INDEX jobs_lease/);
    expect(reclaimPlan).not.toMatch(/TEMP B-TREE/);
    expect(plan(path, LEASE_OWNERS_SQL)).toMatch(/jobs USING (COVERING )?INDEX jobs_lease/);
    // By ids: primary-key lookups, then a sort of the few rows found.
    const byIds = plan(path, CLAIM_BY_IDS_SQL, { ids: '["j1"]', now: 1, modes: null, handlers: null, excluded: "[]", limit: 1 });
    expect(byIds).toMatch(/SEARCH jobs USING INDEX sqlite_autoindex_jobs_1 \(id=\?\)/);
  });

  it("flow claims read each group (and the ungrouped jobs) from jobs_claim_group in claim order, with no sort", async () => {
    const path = tmp.file("flow-plan.db");
    const store = await openStore(path);
    const jobs = Array.from({ length: 300 }, (_, i) =>
      pending(`f${i}`, { mode: ["async", "thread"][i % 2], priority: i % 10, ...(i % 3 === 0 ? {} : { group: `g${i % 5}` }) }),
    );
    await store.commit({ insert: jobs });
    const raw = new Database(path);
    raw.exec("ANALYZE");
    raw.close();
    const params = { mode: "async", grp: "g1", now: 1, handlers: '["work"]', excluded: '["f1"]', key: 0, id: "", limit: 10 };
    for (const grouped of [true, false])
      for (const filters of SCAN_FILTER_SETS)
        for (const after of [false, true]) {
          const what = JSON.stringify({ grouped, ...filters, after });
          for (const sql of [flowScanSql, flowLimitsScanSql]) {
            const flowPlan = plan(path, sql(grouped, filters, after), params);
            expect(flowPlan, `${sql.name} ${what}`).toMatch(/SEARCH jobs USING INDEX jobs_claim_group \(mode=\? AND flow_group=\?/);
            expect(flowPlan, `${sql.name} ${what}`).not.toMatch(/TEMP B-TREE/);
          }
        }
    expect(plan(path, FLOW_HAS_UNGROUPED_SQL, "async")).toMatch(
      /jobs USING (COVERING )?INDEX jobs_claim_group \(mode=\? AND flow_group=\?\)/,
    );
    const groupsPlan = plan(path, FLOW_GROUPS_SQL, { mode: "async" });
    expect(groupsPlan).toMatch(/SEARCH jobs USING INDEX jobs_claim_group \(mode=\? AND flow_group>\?\)/);
    expect(groupsPlan).not.toMatch(/SCAN jobs(?! USING)/);
  });
});

describe("against the reference store", () => {
  it("claims, renews and reclaims the same jobs with the same records as MemoryJobStore (seeded)", async () => {
    const seed = Number(process.env.PYREXIS_TEST_SEED ?? 20_251_202);
    const rng = seededRandom(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
    const jitter = seededRandom(7);
    const jitter2 = seededRandom(7);
    const sqlite = await openStore(tmp.file("ref.db"), { random: jitter });
    const memory = new MemoryJobStore({ clock, random: jitter2 });
    const held = new Map<string, { version: number; owner: string; job: Job }>();
    // Interrupted errors carry a stack trace, which differs between the two stores' call paths.
    const noStack = (jobs: readonly Job[]) =>
      jobs.map((j) =>
        j.lastError === undefined
          ? j
          : {
              ...j,
              lastError: { ...j.lastError, stack: undefined },
              attemptErrors: j.attemptErrors?.map((a) => ({ ...a, error: { ...a.error, stack: undefined } })),
            },
      );
    let n = 0;
    for (let step = 0; step < 200; step++) {
      const op = pick(["insert", "insert", "claim", "claim", "advance", "renew", "reclaim", "complete"] as const);
      if (op === "insert") {
        const batch = Array.from({ length: 1 + Math.floor(rng() * 4) }, () =>
          pending(`j${String(n++).padStart(4, "0")}`, {
            mode: pick(["async", "thread"]),
            handler: pick(["x", "y"]),
            priority: Math.floor(rng() * 11),
            runAt: clock.now() + Math.floor(rng() * 3) * 500,
            maxAttempts: 1 + Math.floor(rng() * 3),
          }),
        );
        await sqlite.commit({ insert: batch });
        await memory.commit({ insert: batch });
      } else if (op === "claim") {
        const request: ClaimRequest = {
          owner: pick(["e1", "e2"]),
          limit: 1 + Math.floor(rng() * 5),
          leaseMs: 1_000,
          ...(rng() < 0.5 ? { modes: [pick(["async", "thread"])] } : {}),
          ...(rng() < 0.3 ? { handlers: [pick(["x", "y"])] } : {}),
          ...(rng() < 0.2 && n > 0 ? { ids: Array.from({ length: 3 }, () => `j${String(Math.floor(rng() * n)).padStart(4, "0")}`) } : {}),
        };
        const got = await sqlite.claim(request);
        const want = await memory.claim(request);
        expect(ids(got), `step ${step} (seed ${seed})`).toEqual(ids(want));
        expect(noStack(got.map((c) => c.job))).toEqual(noStack(want.map((c) => c.job)));
        expect(got.map((c) => c.lease)).toEqual(want.map((c) => c.lease));
        for (const c of got) held.set(c.job.id, { version: c.lease.version, owner: c.lease.owner, job: c.job });
      } else if (op === "advance") {
        clock.advance(Math.floor(rng() * 800));
      } else if (op === "renew") {
        const owner = pick(["e1", "e2"]);
        const request = { owner, leaseMs: 1_000, leases: [...held].map(([jobId, h]) => ({ jobId, version: h.version })) };
        expect(await sqlite.renewLeases(request), `step ${step}`).toEqual(await memory.renewLeases(request));
      } else if (op === "reclaim") {
        // Limit above the number of running jobs: which jobs expired is compared, not the order
        // among equal expiries (the memory store walks its running set in insertion order).
        const request = { limit: 1000, deadOwners: rng() < 0.2 ? ["e2"] : undefined };
        const sort = (jobs: readonly Job[]) => noStack([...jobs].sort((x, y) => (x.id < y.id ? -1 : 1)));
        const a = await sqlite.reclaimExpired(request);
        const b = await memory.reclaimExpired(request);
        expect(sort(a.retried), `step ${step}`).toEqual(sort(b.retried));
        expect(sort(a.failed), `step ${step}`).toEqual(sort(b.failed));
        for (const j of [...a.retried, ...a.failed]) held.delete(j.id);
      } else if (held.size > 0) {
        const [id, h] = pick([...held]);
        const batch = { update: [{ job: transition(h.job, "completed", clock.now()), expectedVersion: h.version }] };
        const a = await sqlite.commit(batch).then(
          () => "ok",
          (e: { code: string }) => e.code,
        );
        const b = await memory.commit(batch).then(
          () => "ok",
          (e: { code: string }) => e.code,
        );
        expect(a, `step ${step}`).toBe(b);
        held.delete(id);
      }
    }
    expect(await sqlite.countByStatus()).toEqual(await memory.countByStatus());
    expect((await sqlite.leaseOwners()).sort()).toEqual((await memory.leaseOwners()).sort());
    const all = (await sqlite.listJobs({ limit: 10_000 })).jobs;
    expect(noStack(all)).toEqual(noStack((await memory.listJobs({ limit: 10_000 })).jobs));
    expect(all.filter((j) => j.attempts > 1).length, "the run retried some jobs").toBeGreaterThan(0);
    await memory.close();
  });
});

describe("flow state across a migration", () => {
  it("a file at migration 0010 gets flow_limits from the records (none for a row that is not JSON); claims behind a held limit read them", async () => {
    const path = tmp.file("v10-limits.db");
    const onApi = (id: string, priority: number): Job =>
      createJob(parseJobSpec({ id, handler: "work", priority, limits: [{ key: "api", units: 2 }] }), 1_000);
    const jobs = [
      ...Array.from({ length: 40 }, (_, i) => onApi(`a${String(i).padStart(2, "0")}`, 8)),
      onApi("broken", 7),
      pending("free", { priority: 6 }),
    ];
    await legacyStore(path, "0010_flow_retention", []);
    // Rows as 0010's store wrote them (every column it had), one of them not JSON.
    const raw = new Database(path);
    const insert = raw.prepare(
      "INSERT INTO jobs (id, status, priority, run_at, created_at, version, aging_key, data, mode, handler, flow_group) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
    );
    for (const j of jobs)
      insert.run(
        j.id,
        j.status,
        j.priority,
        j.runAt,
        j.createdAt,
        j.version,
        j.priority - (0.1 * j.runAt) / 1000,
        JSON.stringify(j),
        j.mode,
        j.handler,
      );
    raw.prepare("UPDATE jobs SET data = '{\"limits\": broken' WHERE id = 'broken'").run();
    raw.close();
    const store = await openStore(path);
    const check = new Database(path, { readonly: true });
    const column = (id: string): unknown =>
      (check.prepare("SELECT flow_limits FROM jobs WHERE id = ?").get(id) as { flow_limits: string | null }).flow_limits;
    expect(JSON.parse(column("a00") as string)).toEqual([{ key: "api", units: 2 }]);
    expect(column("broken")).toBeNull();
    expect(column("free")).toBeNull();
    check.close();
    const r = await store.claimFlow({ owner: "e1", limit: 10, leaseMs: 1_000, flow: { limits: { api: { maxConcurrent: 1 } } } });
    expect(ids(r.claimed)).toEqual(["a00", "free"]);
    expect(r.refused).toBe(39);
    expect(store.corruptRecords.map((e) => e.jobId)).toEqual(["broken"]);
  });

  it("a file at migration 0009 keeps its rate window: the entries count, and the key's retention is recorded by the first claim", async () => {
    const path = tmp.file("v9-flow.db");
    await legacyStore(path, "0009_flow", []);
    const raw = new Database(path);
    raw.prepare("INSERT INTO flow_window (key, job_id, version, at, units) VALUES ('api', 'earlier', 1, 9600, 2)").run();
    raw.prepare("INSERT INTO flow_sums (key, units) VALUES ('api', 2)").run();
    raw.close();

    const store = await openStore(path);
    const job = createJob(parseJobSpec({ id: "next", handler: "work", limits: [{ key: "api", units: 1 }] }), 1_000);
    await store.commit({ insert: [job] });
    const flow = { limits: { api: { rate: { units: 2, perMs: 1_000 } } } };
    const refused = await store.claimFlow({ owner: "e1", limit: 1, leaseMs: 1_000, flow });
    expect(refused.claimed).toEqual([]);
    expect(refused.retryAt).toBe(10_600);
    const check = new Database(path, { readonly: true });
    expect(check.prepare("SELECT units, keep_ms FROM flow_sums WHERE key = 'api'").get()).toEqual({ units: 2, keep_ms: 1_000 });
    check.close();
    clock.set(10_600);
    expect(ids((await store.claimFlow({ owner: "e1", limit: 1, leaseMs: 1_000, flow })).claimed)).toEqual(["next"]);
  });
});

describe("window entries per claim (migration 0012)", () => {
  const limits = { api: { rate: { units: 100, perMs: 10_000 }, maxConcurrent: 2 }, tok: { rate: { units: 100, perMs: 10_000 } } };
  const read = (path: string, query: string): unknown[] => {
    const check = new Database(path, { readonly: true });
    try {
      return check.prepare(query).all();
    } finally {
      check.close();
    }
  };
  const windowRows = (path: string): unknown[] => read(path, "SELECT key, at, units FROM flow_window ORDER BY key, at");
  const sums = (path: string): unknown[] => read(path, "SELECT key, units FROM flow_sums ORDER BY key");

  it("a claim writes one entry per key however many jobs it admits; charges move it and the sum; a job that left running refuses them", async () => {
    const path = tmp.file("per-claim.db");
    const store = await openStore(path);
    const jobs = [3, 4, 5].map((units, i) =>
      createJob(
        parseJobSpec({
          id: `j${i}`,
          handler: "work",
          limits: [
            { key: "api", units },
            { key: "tok", units: 1 },
          ],
        }),
        1_000 + i,
      ),
    );
    await store.commit({ insert: jobs });
    const claimed = (await store.claimFlow({ owner: "e1", limit: 3, leaseMs: 5_000, flow: { limits } })).claimed;
    expect(ids(claimed)).toEqual(["j0", "j1"]); // maxConcurrent 2
    expect(windowRows(path)).toEqual([
      { key: "api", at: 10_000, units: 7 },
      { key: "tok", at: 10_000, units: 2 },
    ]);
    const [a, b] = claimed as [(typeof claimed)[0], (typeof claimed)[0]];
    // j0 used 1 unit of its 3: the entry and the sum lose 2; charging it again sets, not adds.
    expect(await store.chargeFlow({ jobId: a.job.id, version: a.lease.version, key: "api", units: 1 })).toBe(true);
    expect(await store.chargeFlow({ jobId: a.job.id, version: a.lease.version, key: "api", units: 1 })).toBe(true);
    expect(await store.chargeFlow({ jobId: b.job.id, version: b.lease.version, key: "tok", units: 6 })).toBe(true);
    expect(windowRows(path)).toEqual([
      { key: "api", at: 10_000, units: 5 },
      { key: "tok", at: 10_000, units: 7 },
    ]);
    expect(sums(path)).toEqual([
      { key: "api", units: 5 },
      { key: "tok", units: 7 },
    ]);
    // Fenced: another version, a key the job was not admitted under.
    expect(await store.chargeFlow({ jobId: a.job.id, version: a.lease.version + 1, key: "api", units: 0 })).toBe(false);
    expect(await store.chargeFlow({ jobId: a.job.id, version: a.lease.version, key: "gpu", units: 0 })).toBe(false);
    // j0 completes: its slot comes back (j2 is claimed), its window units stay, its charges are refused.
    await store.commit({ update: [{ job: transition(a.job, "completed", 10_100), expectedVersion: a.lease.version }] });
    expect(await store.chargeFlow({ jobId: a.job.id, version: a.lease.version, key: "api", units: 0 })).toBe(false);
    clock.set(10_200);
    expect(ids((await store.claimFlow({ owner: "e1", limit: 3, leaseMs: 5_000, flow: { limits } })).claimed)).toEqual(["j2"]);
    expect(windowRows(path)).toEqual([
      { key: "api", at: 10_000, units: 5 },
      { key: "api", at: 10_200, units: 5 },
      { key: "tok", at: 10_000, units: 7 },
      { key: "tok", at: 10_200, units: 1 },
    ]);
    // The window moves past the first claim: its entry goes with its (charged) units.
    clock.set(20_100);
    const next = createJob(parseJobSpec({ id: "late", handler: "work", limits: [{ key: "tok", units: 1 }] }), 1_010);
    await store.commit({ insert: [next] });
    expect(ids((await store.claimFlow({ owner: "e1", limit: 1, leaseMs: 5_000, flow: { limits } })).claimed)).toEqual(["late"]);
    // Only a key a claim counts is pruned: \`api\` keeps both entries until a candidate uses it.
    expect(sums(path)).toEqual([
      { key: "api", units: 10 },
      { key: "tok", units: 2 },
    ]);
  });

  it("a file at migration 0011 sums its entries per claim and keeps the charges of the jobs running then", async () => {
    const path = tmp.file("v11-flow.db");
    const running = (id: string, units: number): Job => ({
      ...transition(
        createJob(
          parseJobSpec({
            id,
            handler: "work",
            limits: [
              { key: "api", units },
              { key: "tok", units: 4 },
            ],
          }),
          1_000,
        ),
        "running",
        9_500,
        {
          attempts: 1,
        },
      ),
      version: 1,
    });
    const done = { ...transition(running("done", 3), "completed", 9_600), version: 2 };
    await legacyStore(path, "0011_flow_limits", [running("run", 5), running("run2", 2), done]);
    const raw = new Database(path);
    const entry = raw.prepare("INSERT INTO flow_window (key, job_id, version, at, units) VALUES (?, ?, ?, ?, ?)");
    entry.run("api", "done", 1, 9_000, 3);
    entry.run("api", "run", 1, 9_500, 5);
    entry.run("api", "run2", 1, 9_500, 2);
    entry.run("tok", "run", 1, 9_500, 4);
    const hold = raw.prepare("INSERT INTO flow_holds (key, job_id, version) VALUES (?, ?, ?)");
    hold.run("api", "run", 1);
    hold.run("api", "run2", 1);
    raw.prepare("INSERT INTO flow_sums (key, units, keep_ms) VALUES ('api', 10, 10000), ('tok', 4, 10000)").run();
    raw.close();

    const store = await openStore(path);
    expect(windowRows(path)).toEqual([
      { key: "api", at: 9_000, units: 3 },
      { key: "api", at: 9_500, units: 7 },
      { key: "tok", at: 9_500, units: 4 },
    ]);
    // Both slots of `api` are still held: a new job waits for them.
    const waiting = createJob(parseJobSpec({ id: "new", handler: "work", limits: [{ key: "api", units: 1 }] }), 1_005);
    await store.commit({ insert: [waiting] });
    const refused = await store.claimFlow({ owner: "e1", limit: 1, leaseMs: 5_000, flow: { limits } });
    expect(refused.claimed).toEqual([]);
    expect(refused.waiting).toEqual({ api: 1 });
    // The running jobs' charges land on their claim's entry; a finished job's are refused.
    expect(await store.chargeFlow({ jobId: "run", version: 1, key: "api", units: 1 })).toBe(true);
    expect(await store.chargeFlow({ jobId: "run", version: 1, key: "tok", units: 0 })).toBe(true);
    expect(await store.chargeFlow({ jobId: "done", version: 1, key: "api", units: 0 })).toBe(false);
    expect(windowRows(path)).toEqual([
      { key: "api", at: 9_000, units: 3 },
      { key: "api", at: 9_500, units: 3 },
      { key: "tok", at: 9_500, units: 0 },
    ]);
    expect(sums(path)).toEqual([
      { key: "api", units: 6 },
      { key: "tok", units: 0 },
    ]);
  });
});

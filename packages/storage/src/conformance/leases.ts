import assert from "node:assert/strict";
import { backoffDelay, MAX_ATTEMPT_ERRORS, type Job } from "@pyrexis/models";
import {
  hasClaims,
  MAX_CLAIM_LIMIT,
  MAX_RENEW_BATCH,
  type ClaimedJob,
  type ClaimsJobStore,
  type ReclaimRequest,
  type RenewRequest,
} from "../claims.js";
import { claimedRecord, releasedRecord } from "../claims-kit.js";
import type { JobStore } from "../job-store.js";
import { dueJob, LEASE_MS } from "./claim-data.js";
import { bump, makeResult } from "./data.js";
import { claimsTest, plain, rejectsWith, snapshot, type ClaimsHarness, type JobStoreFactory, type TestApi } from "./harness.js";

const RENEW: RenewRequest = { owner: "engine-a", leaseMs: LEASE_MS, leases: [] };

const BAD_RENEWALS: [string, unknown][] = [
  ["null", null],
  ["an array", []],
  ["no owner", { leaseMs: LEASE_MS, leases: [] }],
  ["empty owner", { ...RENEW, owner: "" }],
  ["leaseMs 0", { ...RENEW, leaseMs: 0 }],
  ["leaseMs as a string", { ...RENEW, leaseMs: "1000" }],
  ["no leases", { owner: "a", leaseMs: LEASE_MS }],
  ["leases not an array", { ...RENEW, leases: { jobId: "x", version: 1 } }],
  [
    `${MAX_RENEW_BATCH + 1} leases`,
    { ...RENEW, leases: Array.from({ length: MAX_RENEW_BATCH + 1 }, (_, i) => ({ jobId: `j${i}`, version: 1 })) },
  ],
  ["a null lease", { ...RENEW, leases: [null] }],
  ["a lease with an empty jobId", { ...RENEW, leases: [{ jobId: "", version: 1 }] }],
  ["a lease with a numeric jobId", { ...RENEW, leases: [{ jobId: 1, version: 1 }] }],
  ["a lease with a negative version", { ...RENEW, leases: [{ jobId: "x", version: -1 }] }],
  ["a lease with a fractional version", { ...RENEW, leases: [{ jobId: "x", version: 1.5 }] }],
  ["a lease without a version", { ...RENEW, leases: [{ jobId: "x" }] }],
];

const BAD_RECLAIMS: [string, unknown][] = [
  ["null", null],
  ["a string", "all"],
  ["no limit", {}],
  ["limit 0", { limit: 0 }],
  [`limit ${MAX_CLAIM_LIMIT + 1}`, { limit: MAX_CLAIM_LIMIT + 1 }],
  ["limit 2.5", { limit: 2.5 }],
  ["deadOwners a string", { limit: 1, deadOwners: "engine-a" }],
  ["deadOwners with an empty name", { limit: 1, deadOwners: [""] }],
  ["deadOwners with a number", { limit: 1, deadOwners: [3] }],
];

/** Claims `jobs` (inserted now) for `owner` and returns the claims by job id. */
async function insertAndClaim(store: ClaimsJobStore, jobs: Job[], owner: string, leaseMs = LEASE_MS): Promise<ClaimedJob[]> {
  await store.commit({ insert: jobs });
  const claimed = await store.claim({ owner, limit: jobs.length, leaseMs });
  assert.equal(claimed.length, jobs.length, "every inserted due job is claimed");
  return claimed;
}

/** Reopens `store` through the harness; the reopened store must still have the claims methods. */
async function reopenClaims(h: ClaimsHarness, store: JobStore): Promise<ClaimsJobStore> {
  const next = await h.reopen(store);
  assert.ok(hasClaims(next), "the reopened store must still have the claims capability");
  return next;
}

/**
 * A failed attempt's history entry: the job's earlier history (at most `MAX_ATTEMPT_ERRORS − 1`
 * of it) and then `{ attempt, at: now, error: lastError }` for the attempt that just failed.
 */
export function assertHistory(history: Job["attemptErrors"], before: Job, now: number, lastError: Job["lastError"], what: string): void {
  const earlier = before.attemptErrors ?? [];
  const expected = [
    ...earlier.slice(Math.max(0, earlier.length - MAX_ATTEMPT_ERRORS + 1)),
    { attempt: before.attempts, at: now, error: lastError },
  ];
  assert.deepStrictEqual(plain(history), plain(expected), `${what} appends the failed attempt to attemptErrors`);
}

/** The record a reclaim must write, by the rules of `recordFailure` with an `InterruptedError` (no jitter). */
function assertInterrupted(actual: Job | undefined, claimed: Job, now: number, willRetry: boolean): void {
  assert.ok(actual !== undefined, `job ${claimed.id} is gone`);
  const { lastError, attemptErrors, ...rest } = plain(actual);
  assert.equal(lastError?.code, "INTERRUPTED", "a reclaim records the attempt as interrupted (lastError.code INTERRUPTED)");
  assert.equal(typeof lastError.message, "string");
  assertHistory(attemptErrors, claimed, now, lastError, "a reclaim");
  const expected: Partial<Job> = plain(claimed);
  delete expected.lastError;
  delete expected.attemptErrors;
  const next = willRetry
    ? { ...expected, status: "retrying", runAt: now + backoffDelay(claimed.backoff, claimed.attempts) }
    : { ...expected, status: "failed" };
  assert.deepStrictEqual(
    rest,
    { ...next, updatedAt: now, version: claimed.version + 1 },
    "the attempt stays counted; version + 1, updatedAt = now",
  );
}

/** Renewal, reclaim, fencing, release, lease owners, change marks, close and persistence of claims stores. */
export function leases(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: (h: ClaimsHarness) => Promise<void>): void => claimsTest(api, factory, seed, title, body);

  t("malformed renewLeases and reclaimExpired requests reject with ValidationError and change nothing", async ({ store, clock }) => {
    const [held] = await insertAndClaim(store, [dueJob(clock)], "engine-a", 1000);
    const id = held!.job.id;
    clock.advance(5000);
    const before = await snapshot(store, [id]);
    // A held lease before a malformed one: the whole request is refused, the held one not extended.
    const mixed: [string, unknown][] = [["a held lease, then a null one", { ...RENEW, leaseMs: 60_000, leases: [held!.lease, null] }]];
    for (const [what, request] of [...BAD_RENEWALS, ...mixed]) {
      await rejectsWith(store.renewLeases(request as RenewRequest), "ValidationError", "VALIDATION", `renewLeases with ${what}`);
    }
    for (const [what, request] of BAD_RECLAIMS) {
      await rejectsWith(store.reclaimExpired(request as ReclaimRequest), "ValidationError", "VALIDATION", `reclaimExpired with ${what}`);
    }
    assert.deepStrictEqual(await snapshot(store, [id]), before, "a rejected request must write nothing");
    assert.deepEqual(await store.leaseOwners(), ["engine-a"]);
    assert.deepEqual(
      (await store.reclaimExpired({ limit: 10 })).retried.map((j) => j.id),
      [id],
      "the lease is still expired: no rejected renewal extended it",
    );
  });

  t("the bounds of renewLeases and reclaimExpired requests are accepted", async ({ store }) => {
    assert.deepStrictEqual(plain(await store.renewLeases(RENEW)), { renewed: [], lost: [], cancelled: [] }, "no leases: three empty lists");
    const many = Array.from({ length: MAX_RENEW_BATCH }, (_, i) => ({ jobId: `unknown-${i}`, version: 0 }));
    const report = await store.renewLeases({ ...RENEW, leases: many });
    assert.equal(report.lost.length, MAX_RENEW_BATCH, "unknown ids are lost");
    for (const request of [{ limit: MAX_CLAIM_LIMIT }, { limit: 1, deadOwners: [] }, { limit: 1, deadOwners: ["x"] }]) {
      assert.deepStrictEqual(plain(await store.reclaimExpired(request)), { retried: [], failed: [] });
    }
  });

  t("renewal extends a held lease to now + leaseMs and leaves the job as it is", async ({ store, clock }) => {
    const [held] = await insertAndClaim(store, [dueJob(clock)], "engine-a", 1000);
    const { job, lease } = held!;
    clock.advance(600);
    const report = await store.renewLeases({ owner: "engine-a", leaseMs: 1000, leases: [lease] });
    assert.deepEqual(report.lost, []);
    assert.deepEqual(report.cancelled, []);
    assert.equal(report.renewed.length, 1);
    const renewed = report.renewed[0]!;
    assert.deepEqual([renewed.jobId, renewed.owner, renewed.version], [job.id, "engine-a", lease.version]);
    assert.equal(renewed.expiresAt, clock.now() + 1000, "the new expiry is now + leaseMs");
    assert.deepStrictEqual(plain(await store.getJob(job.id)), plain(job), "renewal writes no new version of the job");
    clock.advance(999); // past the first expiry, before the renewed one
    assert.deepStrictEqual(plain(await store.reclaimExpired({ limit: 10 })), { retried: [], failed: [] });
    clock.advance(1);
    assert.deepEqual(
      (await store.reclaimExpired({ limit: 10 })).retried.map((j) => j.id),
      [job.id],
      "the renewed lease expires at its new expiresAt",
    );
  });

  t("an expired lease that was not reclaimed yet still renews", async ({ store, clock }) => {
    const [held] = await insertAndClaim(store, [dueJob(clock)], "engine-a", 1000);
    clock.advance(10_000);
    const report = await store.renewLeases({ owner: "engine-a", leaseMs: 2000, leases: [held!.lease] });
    assert.deepEqual(
      report.renewed.map((l) => [l.jobId, l.expiresAt]),
      [[held!.job.id, clock.now() + 2000]],
    );
    assert.deepStrictEqual(plain(await store.reclaimExpired({ limit: 10 })), { retried: [], failed: [] }, "renewed: nothing to reclaim");
  });

  t("renewal reports lost (and extends nothing) for another owner, a wrong version, another writer's change, an unknown id", async (h) => {
    const { store, clock } = h;
    const [mine, other, changed] = await insertAndClaim(store, [dueJob(clock), dueJob(clock), dueJob(clock)], "engine-a", 1000);
    // Another writer commits a new version of a running job: the holder's version is stale.
    await store.commit({ update: [{ job: bump(changed!.job, { payload: { edited: true } }), expectedVersion: changed!.lease.version }] });
    const report = await store.renewLeases({
      owner: "engine-b",
      leaseMs: 60_000,
      leases: [other!.lease],
    });
    assert.deepEqual(plain(report), { renewed: [], lost: [other!.job.id], cancelled: [] }, "another owner's lease is lost to engine-b");
    const mineReport = await store.renewLeases({
      owner: "engine-a",
      leaseMs: 60_000,
      leases: [{ jobId: mine!.job.id, version: mine!.lease.version - 1 }, changed!.lease, { jobId: "no-such-job", version: 1 }],
    });
    assert.deepEqual(mineReport.renewed, []);
    assert.deepEqual(mineReport.cancelled, []);
    assert.deepEqual([...mineReport.lost].sort(), [mine!.job.id, changed!.job.id, "no-such-job"].sort());
    clock.advance(1000);
    const reclaimed = await store.reclaimExpired({ limit: 10 });
    assert.deepEqual(
      reclaimed.retried.map((j) => j.id).sort(),
      [mine!.job.id, other!.job.id, changed!.job.id].sort(),
      "no lost lease was extended: all expire at their first expiry",
    );
  });

  t("renewal reports cancelled for a job another writer cancelled", async ({ store, clock }) => {
    const [held, kept] = await insertAndClaim(store, [dueJob(clock), dueJob(clock)], "engine-a");
    await store.commit({ update: [{ job: bump(held!.job, { status: "cancelled" }), expectedVersion: held!.lease.version }] });
    const report = await store.renewLeases({ owner: "engine-a", leaseMs: LEASE_MS, leases: [held!.lease, kept!.lease] });
    assert.deepEqual(report.cancelled, [held!.job.id]);
    assert.deepEqual(report.lost, []);
    assert.deepEqual(
      report.renewed.map((l) => l.jobId),
      [kept!.job.id],
    );
  });

  t("every requested lease lands in exactly one list of the renewal report (seeded mix)", async ({ store, clock, rng }) => {
    const claimed = await insertAndClaim(
      store,
      Array.from({ length: 40 }, () => dueJob(clock)),
      "engine-a",
      1000,
    );
    const expected = { renewed: [] as string[], lost: [] as string[], cancelled: [] as string[] };
    for (const { job, lease } of claimed) {
      const fate = rng.int(4);
      if (fate === 0) expected.renewed.push(job.id);
      else if (fate === 1) {
        await store.commit({ update: [{ job: bump(job, { status: "cancelled" }), expectedVersion: lease.version }] });
        expected.cancelled.push(job.id);
      } else if (fate === 2) {
        await store.commit({ update: [{ job: bump(job, { status: "completed" }), expectedVersion: lease.version }] });
        expected.lost.push(job.id);
      } else {
        await store.commit({ update: [{ job: releasedRecord(job, clock.now()), expectedVersion: lease.version }] });
        expected.lost.push(job.id);
      }
    }
    clock.advance(500);
    const report = await store.renewLeases({ owner: "engine-a", leaseMs: 1000, leases: claimed.map((c) => c.lease) });
    assert.deepStrictEqual(
      {
        renewed: report.renewed.map((l) => l.jobId).sort(),
        lost: [...report.lost].sort(),
        cancelled: [...report.cancelled].sort(),
      },
      { renewed: expected.renewed.sort(), lost: expected.lost.sort(), cancelled: expected.cancelled.sort() },
    );
  });

  t("reclaim: nothing before the lease expires; at expiresAt the job is retrying, INTERRUPTED, with backoff", async ({ store, clock }) => {
    const [held] = await insertAndClaim(store, [dueJob(clock, { maxAttempts: 3 })], "engine-a", 1000);
    const pending = dueJob(clock, { runAt: clock.now() + 500 });
    await store.commit({ insert: [pending] });
    clock.advance(999);
    assert.deepStrictEqual(plain(await store.reclaimExpired({ limit: 10 })), { retried: [], failed: [] }, "1 ms before expiry");
    clock.advance(1);
    const report = await store.reclaimExpired({ limit: 10 });
    assert.deepEqual(report.failed, []);
    assert.deepEqual(
      report.retried.map((j) => j.id),
      [held!.job.id],
      "only the running job, never a pending one",
    );
    assertInterrupted(report.retried[0], held!.job, clock.now(), true);
    assertInterrupted(await store.getJob(held!.job.id), held!.job, clock.now(), true);
    assert.equal(await store.getResult(held!.job.id), undefined, "a retried job has no result");
    assert.deepStrictEqual(plain(await store.reclaimExpired({ limit: 10 })), { retried: [], failed: [] }, "reclaimed once");
    assert.deepEqual(await store.leaseOwners(), [], "the reclaimed lease is gone");
  });

  t("a reclaimed job is claimed again when its backoff is over, its attempt counted again", async ({ store, clock }) => {
    const [held] = await insertAndClaim(store, [dueJob(clock)], "engine-a", 1000);
    clock.advance(1000);
    const [retried] = (await store.reclaimExpired({ limit: 1 })).retried;
    assert.ok(retried !== undefined);
    assert.deepEqual(await store.claim({ owner: "engine-b", limit: 10, leaseMs: LEASE_MS }), [], "not before its backoff runAt");
    clock.set(retried.runAt);
    const [again] = await store.claim({ owner: "engine-b", limit: 10, leaseMs: LEASE_MS });
    assert.deepStrictEqual(plain(again?.job), plain(claimedRecord(retried, clock.now())));
    assert.equal(again?.job.attempts, held!.job.attempts + 1);
  });

  t("reclaim with the attempts used up: failed with INTERRUPTED and exactly one result", async ({ store, clock }) => {
    const [held] = await insertAndClaim(store, [dueJob(clock, { maxAttempts: 1 })], "engine-a", 1000);
    clock.advance(1000);
    const report = await store.reclaimExpired({ limit: 10 });
    assert.deepEqual(report.retried, []);
    assert.deepEqual(
      report.failed.map((j) => j.id),
      [held!.job.id],
    );
    assertInterrupted(report.failed[0], held!.job, clock.now(), false);
    assertInterrupted(await store.getJob(held!.job.id), held!.job, clock.now(), false);
    const result = await store.getResult(held!.job.id);
    assert.ok(result !== undefined, "the failed job has its result");
    assert.deepEqual([result.jobId, result.status, result.error?.code, result.attempts], [held!.job.id, "failed", "INTERRUPTED", 1]);
    await rejectsWith(store.commit({ results: [makeResult(held!.job.id)] }), "ResultExistsError", "RESULT_EXISTS", "a second result");
    assert.deepStrictEqual(plain(await store.reclaimExpired({ limit: 10 })), { retried: [], failed: [] });
    assert.deepEqual((await store.countByStatus()).failed, 1);
  });

  t("deadOwners: the named owners' leases count as expired now, the others' do not", async ({ store, clock }) => {
    const [a1, a2] = await insertAndClaim(store, [dueJob(clock), dueJob(clock)], "engine-a");
    const [b1] = await insertAndClaim(store, [dueJob(clock)], "engine-b");
    const report = await store.reclaimExpired({ limit: 10, deadOwners: ["engine-a", "engine-z"] });
    assert.deepEqual(report.retried.map((j) => j.id).sort(), [a1!.job.id, a2!.job.id].sort());
    assert.equal((await store.getJob(b1!.job.id))?.status, "running");
    assert.deepEqual(await store.leaseOwners(), ["engine-b"]);
  });

  t("reclaimExpired takes at most limit jobs per call", async ({ store, clock }) => {
    const claimed = await insertAndClaim(
      store,
      Array.from({ length: 5 }, () => dueJob(clock)),
      "engine-a",
      1000,
    );
    clock.advance(1000);
    const sizes: number[] = [];
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { retried, failed } = await store.reclaimExpired({ limit: 2 });
      sizes.push(retried.length + failed.length);
      seen.push(...retried.map((j) => j.id));
    }
    assert.deepEqual(sizes, [2, 2, 1, 0]);
    assert.deepEqual(seen.sort(), claimed.map((c) => c.job.id).sort());
  });

  t("a running job written by a plain commit (no lease) is reclaimable at once", async ({ store, clock }) => {
    const job = dueJob(clock);
    await store.commit({ insert: [job] });
    const running = claimedRecord(job, clock.now());
    await store.commit({ update: [{ job: running, expectedVersion: job.version }] });
    const inserted = dueJob(clock, { status: "running", attempts: 1 });
    await store.commit({ insert: [inserted] });
    assert.deepEqual(await store.leaseOwners(), [], "nobody holds a lease");
    assert.deepEqual(await store.claim({ owner: "a", limit: 10, leaseMs: LEASE_MS }), [], "claim never hands out a running job");
    const report = await store.reclaimExpired({ limit: 10 });
    assert.deepEqual(report.retried.map((j) => j.id).sort(), [job.id, inserted.id].sort());
    assertInterrupted(await store.getJob(job.id), running, clock.now(), true);
  });

  t("fencing: after a reclaim the old holder's writes are refused with StaleVersionError and change nothing", async (h) => {
    const { store, clock } = h;
    const [held] = await insertAndClaim(
      store,
      [dueJob(clock, { maxAttempts: 5, backoff: { baseMs: 0, maxMs: 0, jitter: 0 } })],
      "engine-a",
      1000,
    );
    const { job, lease } = held!;
    clock.advance(1000);
    await store.reclaimExpired({ limit: 10 });
    const late = (): Promise<void> =>
      store.commit({
        update: [{ job: bump(job, { status: "completed", updatedAt: clock.now() }), expectedVersion: lease.version }],
        results: [makeResult(job.id, { attempts: job.attempts })],
      });
    const before = await snapshot(store, [job.id]);
    await rejectsWith(late(), "StaleVersionError", "STALE_VERSION", "the old holder completes after the reclaim");
    assert.deepStrictEqual(await snapshot(store, [job.id]), before, "the refused write changed nothing (job, result, counts)");
    // Claimed again by another engine: the old holder is still fenced, the new one writes.
    const [taken] = await store.claim({ owner: "engine-b", limit: 1, leaseMs: LEASE_MS });
    assert.equal(taken?.job.id, job.id);
    const beforeB = await snapshot(store, [job.id]);
    await rejectsWith(late(), "StaleVersionError", "STALE_VERSION", "the old holder completes after another engine claimed");
    assert.deepStrictEqual(await snapshot(store, [job.id]), beforeB);
    assert.deepEqual((await store.renewLeases({ owner: "engine-a", leaseMs: LEASE_MS, leases: [lease] })).lost, [job.id]);
    await store.commit({
      update: [{ job: bump(taken.job, { status: "completed" }), expectedVersion: taken.lease.version }],
      results: [makeResult(job.id, { attempts: taken.job.attempts })],
    });
    assert.equal((await store.getResult(job.id))?.attempts, 2);
  });

  t("release: committing releasedRecord with the lease version ends the lease; claimable at once, attempt uncounted", async (h) => {
    const { store, clock } = h;
    const [held] = await insertAndClaim(store, [dueJob(clock)], "engine-a");
    const { job, lease } = held!;
    assert.equal(job.attempts, 1);
    clock.advance(50);
    await store.commit({ update: [{ job: releasedRecord(job, clock.now()), expectedVersion: lease.version }] });
    const stored = await store.getJob(job.id);
    assert.deepEqual([stored?.status, stored?.attempts, stored?.runAt], ["retrying", 0, clock.now()]);
    assert.deepEqual(await store.leaseOwners(), [], "the released lease is gone");
    assert.deepEqual((await store.renewLeases({ owner: "engine-a", leaseMs: LEASE_MS, leases: [lease] })).lost, [job.id]);
    const [again] = await store.claim({ owner: "engine-b", limit: 1, leaseMs: LEASE_MS });
    assert.equal(again?.job.id, job.id, "claimable at once, without waiting for the lease");
    assert.equal(again?.job.attempts, 1, "the released attempt was not counted");
  });

  t("committing a claimed job out of running ends its lease: not renewed, not reclaimed", async ({ store, clock }) => {
    const [held] = await insertAndClaim(store, [dueJob(clock)], "engine-a", 1000);
    const done = bump(held!.job, { status: "completed" });
    await store.commit({ update: [{ job: done, expectedVersion: held!.lease.version }], results: [makeResult(done.id)] });
    assert.deepEqual(await store.leaseOwners(), []);
    clock.advance(5000);
    assert.deepStrictEqual(plain(await store.reclaimExpired({ limit: 10 })), { retried: [], failed: [] });
    assert.deepEqual((await store.renewLeases({ owner: "engine-a", leaseMs: 1000, leases: [held!.lease] })).lost, [done.id]);
    assert.deepStrictEqual(plain(await store.getJob(done.id)), plain(done));
  });

  t("leaseOwners lists the owners holding leases, expired ones included, and drops them when their jobs leave running", async (h) => {
    const { store, clock } = h;
    assert.deepEqual(await store.leaseOwners(), []);
    const [a1, a2] = await insertAndClaim(store, [dueJob(clock), dueJob(clock)], "engine-a", 1000);
    const [b1] = await insertAndClaim(store, [dueJob(clock)], "engine-b", 60_000);
    const owners = async (): Promise<string[]> => (await store.leaseOwners()).sort();
    assert.deepEqual(await owners(), ["engine-a", "engine-b"], "each owner once");
    clock.advance(1000);
    assert.deepEqual(await owners(), ["engine-a", "engine-b"], "an expired lease that is not reclaimed still counts");
    await store.commit({ update: [{ job: bump(a1!.job, { status: "completed" }), expectedVersion: a1!.lease.version }] });
    assert.deepEqual(await owners(), ["engine-a", "engine-b"], "engine-a still holds a2");
    await store.reclaimExpired({ limit: 10 });
    assert.equal((await store.getJob(a2!.job.id))?.status, "retrying");
    assert.deepEqual(await owners(), ["engine-b"]);
    await store.commit({ update: [{ job: releasedRecord(b1!.job, clock.now()), expectedVersion: b1!.lease.version }] });
    assert.deepEqual(await owners(), []);
  });

  t("changeMark, when the store has it, changes after a commit, a claim and a reclaim", async ({ store, clock }) => {
    const changeMark = store.changeMark?.bind(store);
    assert.ok(changeMark === undefined || typeof changeMark === "function", "changeMark is optional, a method when present");
    if (changeMark === undefined) return;
    const marks = [await changeMark()];
    const next = async (what: string): Promise<void> => {
      const mark = await changeMark();
      assert.ok(typeof mark === "string" || typeof mark === "number", "a mark is a string or a number");
      assert.notEqual(mark, marks[marks.length - 1], `changeMark must change after ${what}`);
      marks.push(mark);
    };
    await store.commit({ insert: [dueJob(clock)] });
    await next("a commit");
    await store.claim({ owner: "a", limit: 1, leaseMs: 1000 });
    await next("a claim");
    clock.advance(1000);
    await store.reclaimExpired({ limit: 1 });
    await next("a reclaim");
  });

  t("after close() every claims method rejects with StoreClosedError, even with bad arguments", async ({ store, clock }) => {
    await insertAndClaim(store, [dueJob(clock)], "engine-a");
    await store.close();
    const calls: [string, (s: ClaimsJobStore) => Promise<unknown>][] = [
      ["claim", (s) => s.claim({ owner: "a", limit: 1, leaseMs: LEASE_MS })],
      ["claim (bad request)", (s) => s.claim(null as never)],
      ["renewLeases", (s) => s.renewLeases(RENEW)],
      ["renewLeases (bad request)", (s) => s.renewLeases(null as never)],
      ["reclaimExpired", (s) => s.reclaimExpired({ limit: 1 })],
      ["reclaimExpired (bad request)", (s) => s.reclaimExpired(null as never)],
      ["leaseOwners", (s) => s.leaseOwners()],
    ];
    if (store.changeMark !== undefined) calls.push(["changeMark", (s) => s.changeMark!()]);
    for (const [name, call] of calls) await rejectsWith(call(store), "StoreClosedError", "STORE_CLOSED", name);
  });

  if (factory.reopen) {
    t("leases survive reopen: the holder still renews, claims skip the job, expiry still reclaims it", async (h) => {
      const { clock } = h;
      const [held] = await insertAndClaim(h.store, [dueJob(clock), dueJob(clock)], "engine-a", 1000);
      const store = await reopenClaims(h, h.store);
      const { job, lease } = held!;
      assert.deepStrictEqual(plain(await store.getJob(job.id)), plain(job), "the claimed record survives");
      assert.deepEqual((await store.leaseOwners()).sort(), ["engine-a"]);
      assert.deepEqual(await store.claim({ owner: "engine-b", limit: 10, leaseMs: LEASE_MS }), [], "a held job is not claimable");
      clock.advance(500);
      const report = await store.renewLeases({ owner: "engine-a", leaseMs: 1000, leases: [lease] });
      assert.deepEqual(
        report.renewed.map((l) => [l.jobId, l.version, l.expiresAt]),
        [[job.id, lease.version, clock.now() + 1000]],
      );
      const again = await reopenClaims(h, store);
      clock.advance(999);
      const first = await again.reclaimExpired({ limit: 10 });
      assert.equal(first.retried.length, 1, "only the lease that was not renewed has expired");
      assert.notEqual(first.retried[0]?.id, job.id);
      clock.advance(1);
      assert.deepEqual(
        (await again.reclaimExpired({ limit: 10 })).retried.map((j) => j.id),
        [job.id],
        "the renewed expiry survived reopen",
      );
    });
  }
}

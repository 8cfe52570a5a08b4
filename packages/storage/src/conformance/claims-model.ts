import assert from "node:assert/strict";
import { backoffDelay, JOB_STATUSES, type Job, type JobStatus } from "@pyrexis/models";
import type { LeaseRef } from "../claims.js";
import { claimedRecord, compareClaimOrder, releasedRecord } from "../claims-kit.js";
import { bump, makeJob, makeResult } from "./data.js";
import { plain, rejectsWith, type ClaimsHarness } from "./harness.js";
import { assertHistory } from "./leases.js";

// A seeded random run of claims, renewals, reclaims, holders' writes, other writers' writes and
// clock moves, checked step by step against a model built from the contract's rules and the
// kit's records. It finds what examples miss: a claim index that keeps a stale entry, a lease that
// outlives its job's status, counts that drift.

interface ModelEntry {
  job: Job;
  /** Present while the job is running under a claim. */
  lease?: { owner: string; version: number; expiresAt: number } | undefined;
  hasResult: boolean;
}

interface Holding extends LeaseRef {
  readonly owner: string;
}

const OWNERS = ["engine-a", "engine-b", "engine-c"];

function eligibleForReclaim(e: ModelEntry, now: number, dead: ReadonlySet<string>): boolean {
  return e.job.status === "running" && (e.lease === undefined || e.lease.expiresAt <= now || dead.has(e.lease.owner));
}

/** Runs `steps` random operations on `h.store`, checking each against the model. */
export async function runClaimsModel(h: ClaimsHarness, steps: number): Promise<void> {
  const { store, clock, rng, agingRate } = h;
  const model = new Map<string, ModelEntry>();
  const holdings: Holding[] = [];
  const log: string[] = [];
  const at = (): string => `step ${log.length} (${log.slice(-4).join("; ")})`;

  const insert = async (): Promise<void> => {
    const now = clock.now();
    const jobs = Array.from({ length: 1 + rng.int(6) }, () => {
      const maxAttempts = 1 + rng.int(3);
      const retrying = maxAttempts > 1 && rng.chance(0.3);
      return makeJob({
        priority: rng.int(11),
        mode: rng.pick(["async", "thread"]),
        handler: rng.pick(["echo", "embed"]),
        maxAttempts,
        runAt: rng.chance(0.7) ? now - rng.int(60_000) : now + 1 + rng.int(20_000),
        ...(retrying ? { status: "retrying" as const, attempts: 1, lastError: { name: "Error", message: "earlier" } } : {}),
      });
    });
    log.push(`insert ${jobs.length}`);
    await store.commit({ insert: jobs });
    for (const job of jobs) model.set(job.id, { job, hasResult: false });
  };

  const claim = async (): Promise<void> => {
    const now = clock.now();
    const owner = rng.pick(OWNERS);
    const limit = 1 + rng.int(5);
    const leaseMs = rng.pick([1000, 5000]);
    const modes = rng.chance(0.3) ? [rng.pick(["async", "thread"])] : undefined;
    const handlers = rng.chance(0.3) ? [rng.pick(["echo", "embed"])] : undefined;
    log.push(`claim ${owner} limit ${limit}${modes ? ` modes ${modes[0]}` : ""}${handlers ? ` handlers ${handlers[0]}` : ""}`);
    const expected = [...model.values()]
      .filter(
        (e) =>
          (e.job.status === "pending" || e.job.status === "retrying") &&
          e.job.runAt <= now &&
          (modes === undefined || modes.includes(e.job.mode)) &&
          (handlers === undefined || handlers.includes(e.job.handler)),
      )
      .map((e) => e.job)
      .sort((a, b) => compareClaimOrder(a, b, agingRate))
      .slice(0, limit);
    const claimed = await store.claim({ owner, limit, leaseMs, modes, handlers });
    assert.deepEqual(
      claimed.map((c) => c.job.id),
      expected.map((j) => j.id),
      `${at()}: the claimed jobs`,
    );
    for (const [i, { job, lease }] of claimed.entries()) {
      const want = claimedRecord(expected[i]!, now);
      assert.deepStrictEqual(plain(job), plain(want), `${at()}: the claimed record of ${job.id}`);
      assert.deepEqual(
        [lease.owner, lease.version, lease.expiresAt],
        [owner, want.version, now + leaseMs],
        `${at()}: the lease of ${job.id}`,
      );
      model.set(job.id, { job: want, lease: { owner, version: want.version, expiresAt: now + leaseMs }, hasResult: false });
      holdings.push({ jobId: job.id, version: lease.version, owner });
    }
  };

  const renew = async (): Promise<void> => {
    const now = clock.now();
    const owner = rng.pick(OWNERS);
    const leaseMs = rng.pick([1000, 5000]);
    const byId = new Map<string, LeaseRef>();
    for (const hd of holdings) if (rng.chance(0.4)) byId.set(hd.jobId, { jobId: hd.jobId, version: hd.version });
    if (rng.chance(0.2)) byId.set("no-such-job", { jobId: "no-such-job", version: 1 });
    const leases = [...byId.values()];
    log.push(`renew ${owner} ${leases.length}`);
    const want = { renewed: [] as string[], lost: [] as string[], cancelled: [] as string[] };
    for (const ref of leases) {
      const e = model.get(ref.jobId);
      if (e !== undefined && e.job.status === "running" && e.job.version === ref.version && e.lease?.owner === owner) {
        want.renewed.push(ref.jobId);
        e.lease.expiresAt = now + leaseMs;
      } else if (e?.job.status === "cancelled") want.cancelled.push(ref.jobId);
      else want.lost.push(ref.jobId);
    }
    const report = await store.renewLeases({ owner, leaseMs, leases });
    for (const l of report.renewed) assert.equal(l.expiresAt, now + leaseMs, `${at()}: renewed expiry of ${l.jobId}`);
    assert.deepEqual(
      { renewed: report.renewed.map((l) => l.jobId).sort(), lost: [...report.lost].sort(), cancelled: [...report.cancelled].sort() },
      { renewed: want.renewed.sort(), lost: want.lost.sort(), cancelled: want.cancelled.sort() },
      `${at()}: the renewal report`,
    );
  };

  const reclaim = async (): Promise<void> => {
    const now = clock.now();
    const limit = 1 + rng.int(4);
    const deadOwners = rng.chance(0.2) ? [rng.pick(OWNERS)] : undefined;
    log.push(`reclaim limit ${limit}${deadOwners ? ` dead ${deadOwners[0]}` : ""}`);
    const dead = new Set(deadOwners ?? []);
    const eligible = new Set([...model.values()].filter((e) => eligibleForReclaim(e, now, dead)).map((e) => e.job.id));
    const { retried, failed } = await store.reclaimExpired({ limit, deadOwners });
    const taken = [...retried, ...failed];
    assert.equal(taken.length, Math.min(limit, eligible.size), `${at()}: reclaimed count (eligible ${eligible.size})`);
    assert.equal(new Set(taken.map((j) => j.id)).size, taken.length, `${at()}: a job reclaimed twice in one call`);
    for (const job of taken) {
      assert.ok(eligible.has(job.id), `${at()}: reclaimed ${job.id}, which is not running with an expired lease`);
      const before = model.get(job.id)!.job;
      const retries = before.attempts < before.maxAttempts;
      assert.equal(retried.includes(job), retries, `${at()}: ${job.id} in ${retries ? "retried" : "failed"}`);
      const { lastError, attemptErrors, ...rest } = plain(job);
      assert.equal(lastError?.code, "INTERRUPTED", `${at()}: lastError of ${job.id}`);
      assertHistory(attemptErrors, before, now, lastError, `${at()}: the reclaim of ${job.id}`);
      const next: Partial<Job> = { ...plain(before), status: retries ? "retrying" : "failed", updatedAt: now, version: before.version + 1 };
      delete next.lastError;
      delete next.attemptErrors;
      if (retries) next.runAt = now + backoffDelay(before.backoff, before.attempts);
      assert.deepStrictEqual(rest, next, `${at()}: the reclaimed record of ${job.id}`);
      model.set(job.id, { job: plain(job), hasResult: !retries });
    }
  };

  const holderWrites = async (): Promise<void> => {
    if (holdings.length === 0) return;
    const hd = rng.pick(holdings);
    const e = model.get(hd.jobId)!;
    const now = clock.now();
    const current = e.job.status === "running" && e.job.version === hd.version;
    if (!current) {
      log.push(`stale write ${hd.jobId}`);
      const late = { ...e.job, status: "completed" as const, version: hd.version + 1, updatedAt: now };
      await rejectsWith(
        store.commit({ update: [{ job: late, expectedVersion: hd.version }] }),
        "StaleVersionError",
        "STALE_VERSION",
        `${at()}: a holder whose job moved on`,
      );
      return;
    }
    if (rng.chance(0.5)) {
      log.push(`complete ${hd.jobId}`);
      const done = bump(e.job, { status: "completed", updatedAt: now });
      await store.commit({
        update: [{ job: done, expectedVersion: hd.version }],
        results: [makeResult(hd.jobId, { attempts: done.attempts })],
      });
      model.set(hd.jobId, { job: done, hasResult: true });
    } else {
      log.push(`release ${hd.jobId}`);
      const released = releasedRecord(e.job, now);
      await store.commit({ update: [{ job: released, expectedVersion: hd.version }] });
      model.set(hd.jobId, { job: released, hasResult: false });
    }
  };

  const otherWriter = async (): Promise<void> => {
    const open = [...model.values()].filter((e) => !["completed", "failed", "cancelled"].includes(e.job.status));
    if (open.length === 0) return;
    const e = rng.pick(open);
    const now = clock.now();
    let next: Job;
    // A running job is only cancelled: whether another writer's update that keeps a job running
    // keeps its lease until expiry is not a rule of the contract, so the model does not depend on it.
    if (rng.chance(0.4) || e.job.status === "running") next = bump(e.job, { status: "cancelled", updatedAt: now });
    else {
      // Postponed, brought forward, reprioritized, moved to another mode or handler.
      const changes: Partial<Job> = { priority: rng.int(11), runAt: now + rng.int(3) * 2000 - 2000, updatedAt: now };
      if (rng.chance(0.3)) changes.mode = rng.pick(["async", "thread"]);
      if (rng.chance(0.3)) changes.handler = rng.pick(["echo", "embed"]);
      next = bump(e.job, changes);
    }
    log.push(`other writer ${e.job.id} ${e.job.status} → ${next.status}`);
    await store.commit({ update: [{ job: next, expectedVersion: e.job.version }] });
    model.set(e.job.id, { job: next, hasResult: false });
  };

  const check = async (full: boolean): Promise<void> => {
    const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    const owners = new Set<string>();
    for (const e of model.values()) {
      counts[e.job.status]++;
      if (e.job.status === "running" && e.lease !== undefined) owners.add(e.lease.owner);
    }
    assert.deepEqual(await store.countByStatus(), counts, `${at()}: countByStatus`);
    assert.deepEqual((await store.leaseOwners()).sort(), [...owners].sort(), `${at()}: leaseOwners`);
    if (!full) return;
    for (const [id, e] of model) {
      assert.deepStrictEqual(plain(await store.getJob(id)), plain(e.job), `${at()}: job ${id}`);
      assert.equal((await store.getResult(id)) !== undefined, e.hasResult, `${at()}: result of ${id}`);
    }
  };

  for (let step = 0; step < steps; step++) {
    const op = rng.int(10);
    if (op < 2) await insert();
    else if (op < 5) await claim();
    else if (op < 6) await renew();
    else if (op < 7) await reclaim();
    else if (op < 8) await holderWrites();
    else if (op < 9) await otherWriter();
    else {
      const ms = rng.int(3000);
      log.push(`advance ${ms}`);
      clock.advance(ms);
    }
    await check(step % 25 === 24 || step === steps - 1);
  }
}

import assert from "node:assert/strict";
import type { Job, ManualClock } from "@pyrexis/models";
import type { ClaimedJob, ClaimsJobStore } from "../claims.js";
import { claimKey } from "../claims-kit.js";
import { makeJob } from "./data.js";
import type { Rng } from "./harness.js";

// Test data and small steps shared by the claims and shared cases.

/** Lease length of the claims cases unless a case says otherwise. */
export const LEASE_MS = 30_000;

/** A `pending` job due now by `clock` (`runAt = now`), with `overrides`. */
export function dueJob(clock: ManualClock, overrides: Partial<Job> = {}): Job {
  return makeJob({ runAt: clock.now(), ...overrides });
}

/** The ids of claimed jobs, in the order they were handed out. */
export function idsOf(claimed: readonly ClaimedJob[]): string[] {
  return claimed.map((c) => c.job.id);
}

/** Claims with `owner` until a claim hands out nothing; every claim asks for `1 + rng.int(maxLimit)` jobs. */
export async function claimUntilEmpty(store: ClaimsJobStore, owner: string, rng: Rng, maxLimit = 7): Promise<ClaimedJob[]> {
  const out: ClaimedJob[] = [];
  for (;;) {
    const limit = 1 + rng.int(maxLimit);
    const batch = await store.claim({ owner, limit, leaseMs: LEASE_MS });
    assert.ok(batch.length <= limit, `a claim with limit ${limit} handed out ${batch.length} jobs`);
    if (batch.length === 0) return out;
    out.push(...batch);
  }
}

/** Asserts no id repeats in `ids`; `what` says where they came from. */
export function assertDistinct(ids: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const id of ids) {
    assert.ok(!seen.has(id), `${what}: job ${id} was handed out twice`);
    seen.add(id);
  }
}

const ID_CHARS = "ABCabc019-_";

/**
 * Jobs with seeded random priorities (0–10), modes and `runAt`s (up to two minutes before `now`;
 * `futureShare` of them up to 30 s after), in random insertion order. Some repeat another job's
 * priority and `runAt` exactly, so their order is decided by id; ids mix case so a
 * case-insensitive collation shows. Two jobs whose keys differ by less than 1e-6 without being
 * exact repeats are never made: their order would depend on floating-point rounding.
 */
export function randomClaimJobs(rng: Rng, now: number, agingRate: number, count: number, futureShare = 0): Job[] {
  const jobs: Job[] = [];
  while (jobs.length < count) {
    const twin = jobs.length > 0 && rng.chance(0.2) ? rng.pick(jobs) : undefined;
    const priority = twin?.priority ?? rng.int(11);
    const runAt = twin?.runAt ?? (rng.chance(futureShare) ? now + 1 + rng.int(30_000) : now - rng.int(120_000));
    const key = claimKey({ priority, runAt }, agingRate);
    const nearTie = jobs.some((j) => (j.priority !== priority || j.runAt !== runAt) && Math.abs(claimKey(j, agingRate) - key) < 1e-6);
    if (nearTie) continue;
    let suffix = "";
    for (let i = 0; i < 4; i++) suffix += rng.pick([...ID_CHARS]);
    const base = makeJob();
    jobs.push({ ...base, id: `${base.id}${suffix}`, priority, runAt, mode: rng.pick(["async", "thread", "process"]) });
  }
  // Insertion order is not claim order, nor id order.
  for (let i = jobs.length - 1; i > 0; i--) {
    const k = rng.int(i + 1);
    [jobs[i], jobs[k]] = [jobs[k]!, jobs[i]!];
  }
  return jobs;
}

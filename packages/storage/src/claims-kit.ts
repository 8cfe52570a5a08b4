import {
  createResult,
  InterruptedError,
  recordFailure,
  startAttempt,
  transition,
  ValidationError,
  type Job,
  type RandomSource,
  type Result,
} from "@pyrexis/models";
import {
  MAX_CLAIM_LIMIT,
  MAX_LEASE_MS,
  MAX_RENEW_BATCH,
  MIN_LEASE_MS,
  type ClaimRequest,
  type ReclaimRequest,
  type RenewRequest,
} from "./claims.js";

// Helpers for stores with the claims capability: the checks and records every store must
// produce alike, so each store writes only its own storage.

/** Aging rate a store uses for claim order when none is configured (the scheduler's default). */
export const DEFAULT_CLAIM_AGING_RATE = 0.1;

function invalid(message: string, path: (string | number)[]): ValidationError {
  return new ValidationError(message, [{ path, message }]);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkInt(v: unknown, name: string, min: number, max: number, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(`${what}: ${name} must be an integer ${min}–${max}, got ${String(v)}`, [name]);
  }
  return v;
}

function checkOwner(v: unknown, what: string): string {
  if (typeof v !== "string" || v.length === 0 || v.length > 256) {
    throw invalid(`${what}: owner must be a non-empty string of at most 256 characters`, ["owner"]);
  }
  return v;
}

function checkNames(v: unknown, name: "modes" | "handlers" | "ids", what: string): readonly string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0 || v.some((s) => typeof s !== "string" || s.length === 0)) {
    throw invalid(`${what}: ${name} must be a non-empty array of non-empty strings when given`, [name]);
  }
  return v as readonly string[];
}

/** Checks a {@link ClaimRequest}; throws `ValidationError` naming the bad field. */
export function checkClaimRequest(request: unknown): ClaimRequest {
  const what = "claim";
  if (!isObject(request)) throw invalid(`${what}: the request must be an object`, []);
  return {
    owner: checkOwner(request.owner, what),
    limit: checkInt(request.limit, "limit", 1, MAX_CLAIM_LIMIT, what),
    leaseMs: checkInt(request.leaseMs, "leaseMs", MIN_LEASE_MS, MAX_LEASE_MS, what),
    modes: checkNames(request.modes, "modes", what),
    handlers: checkNames(request.handlers, "handlers", what),
    ids: checkNames(request.ids, "ids", what),
  };
}

/** Checks a {@link RenewRequest}; throws `ValidationError` naming the bad field. */
export function checkRenewRequest(request: unknown): RenewRequest {
  const what = "renewLeases";
  if (!isObject(request)) throw invalid(`${what}: the request must be an object`, []);
  const owner = checkOwner(request.owner, what);
  const leaseMs = checkInt(request.leaseMs, "leaseMs", MIN_LEASE_MS, MAX_LEASE_MS, what);
  const leases = request.leases;
  if (!Array.isArray(leases) || leases.length > MAX_RENEW_BATCH) {
    throw invalid(`${what}: leases must be an array of at most ${MAX_RENEW_BATCH} { jobId, version }`, ["leases"]);
  }
  for (let i = 0; i < leases.length; i++) {
    const l: unknown = leases[i];
    if (
      !isObject(l) ||
      typeof l.jobId !== "string" ||
      l.jobId.length === 0 ||
      typeof l.version !== "number" ||
      !Number.isSafeInteger(l.version) ||
      l.version < 0
    ) {
      throw invalid(`${what}: leases[${i}] must be { jobId: non-empty string, version: integer >= 0 }`, ["leases", i]);
    }
  }
  return { owner, leaseMs, leases: leases as RenewRequest["leases"] };
}

/** Checks a {@link ReclaimRequest}; throws `ValidationError` naming the bad field. */
export function checkReclaimRequest(request: unknown): ReclaimRequest {
  const what = "reclaimExpired";
  if (!isObject(request)) throw invalid(`${what}: the request must be an object`, []);
  const limit = checkInt(request.limit, "limit", 1, MAX_CLAIM_LIMIT, what);
  const dead = request.deadOwners;
  if (dead !== undefined && (!Array.isArray(dead) || dead.some((s) => typeof s !== "string" || s.length === 0))) {
    throw invalid(`${what}: deadOwners must be an array of non-empty strings when given`, ["deadOwners"]);
  }
  return { limit, deadOwners: dead as readonly string[] | undefined };
}

/**
 * The claim-order key of a job: `priority − agingRate · runAt / 1000`, higher first (the
 * scheduler's aging key with `readyAt = runAt`).
 */
export function claimKey(job: Pick<Job, "priority" | "runAt">, agingRate: number): number {
  return job.priority - (agingRate * job.runAt) / 1000;
}

/** Compares two jobs in claim order: key descending, then id ascending (code units). Negative when `a` goes first. */
export function compareClaimOrder(
  a: Pick<Job, "priority" | "runAt" | "id">,
  b: Pick<Job, "priority" | "runAt" | "id">,
  agingRate: number,
): number {
  const ka = claimKey(a, agingRate);
  const kb = claimKey(b, agingRate);
  if (ka !== kb) return ka > kb ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** True for a job a claim may hand out at `now`: `pending` or `retrying`, due. */
export function isClaimable(job: Pick<Job, "status" | "runAt">, now: number): boolean {
  return (job.status === "pending" || job.status === "retrying") && job.runAt <= now;
}

/** The record a claim writes: `running`, the attempt counted, `updatedAt = now`, version + 1. */
export function claimedRecord(job: Job, now: number): Job {
  return startAttempt(job, now);
}

/**
 * The record that releases a claimed job its holder will not run (e.g. on shutdown): back to
 * `retrying`, due at once, the attempt uncounted. Commit it with the lease's version.
 */
export function releasedRecord(job: Job, now: number, lastError?: Job["lastError"]): Job {
  return transition(job, "retrying", now, {
    attempts: Math.max(0, job.attempts - 1),
    runAt: now,
    ...(lastError === undefined ? {} : { lastError }),
  });
}

/** What a reclaim writes for one expired job: its next record, and its result when it failed. */
export interface Reclaimed {
  readonly job: Job;
  readonly result: Result | undefined;
}

/**
 * The records a reclaim writes for a `running` job whose lease expired: the attempt counts as
 * interrupted (`recordFailure` with an `InterruptedError`), so it is `retrying` with backoff, or
 * `failed` with its result when the attempts are used up.
 */
export function reclaimedRecord(job: Job, now: number, random: RandomSource = Math.random): Reclaimed {
  const outcome = recordFailure(
    job,
    new InterruptedError(job.id, "its lease expired (the engine running it stopped or lost the store)"),
    now,
    random,
  );
  if (outcome.willRetry) return { job: outcome.job, result: undefined };
  const result = createResult({
    jobId: job.id,
    status: "failed",
    startedAt: job.updatedAt,
    endedAt: now,
    attempts: outcome.job.attempts,
    error: outcome.error,
  });
  return { job: outcome.job, result };
}

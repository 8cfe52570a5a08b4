import type { Job } from "@pyrexis/models";
import type { JobStore } from "./job-store.js";

// The claims capability: how many engines share one store without running a job twice.
//
// A claim hands a due job to exactly one engine, durably: in one store operation the job is
// marked `running`, its attempt is counted and a lease (owner, expiry) is recorded. The job's
// `version` after the claim identifies the holding: every later write about the job by its
// holder is a compare-and-set on that version (`JobStore.commit`'s `expectedVersion`), so once
// another engine has reclaimed the job (a new version), the old holder's update or result is
// refused with `StaleVersionError` and writes nothing. Leases are judged by the store's clock.

/** Which holding of a job: its id and the `version` its claim wrote. */
export interface LeaseRef {
  readonly jobId: string;
  /** The job's version when it was claimed (unchanged while the holder renews). */
  readonly version: number;
}

/** A claimed job's lease. */
export interface Lease extends LeaseRef {
  /** Who holds it (an engine's owner id). */
  readonly owner: string;
  /** When it expires, epoch ms by the store's clock. */
  readonly expiresAt: number;
}

/** A job handed out by {@link ClaimMethods.claim}: its `running` record and its lease. */
export interface ClaimedJob {
  readonly job: Job;
  readonly lease: Lease;
}

/** What {@link ClaimMethods.claim} hands out. Any malformed field rejects with `ValidationError`. */
export interface ClaimRequest {
  /** The claimant: a non-empty string of at most 256 characters, unique per engine. */
  readonly owner: string;
  /** Most jobs to claim, an integer 1–{@link MAX_CLAIM_LIMIT}. */
  readonly limit: number;
  /** Lease length, an integer {@link MIN_LEASE_MS}–{@link MAX_LEASE_MS} ms. */
  readonly leaseMs: number;
  /** Only jobs of these modes (a non-empty array); all modes when absent. */
  readonly modes?: readonly string[] | undefined;
  /** Only jobs of these handlers (a non-empty array); all handlers when absent. */
  readonly handlers?: readonly string[] | undefined;
  /** Only these jobs (a non-empty array of ids), e.g. to run a job again once its backoff is over; all jobs when absent. */
  readonly ids?: readonly string[] | undefined;
}

/** What {@link ClaimMethods.renewLeases} extends. */
export interface RenewRequest {
  /** The holder: leases of other owners are reported lost, never extended. */
  readonly owner: string;
  /** New lease length from the store's now, as in {@link ClaimRequest.leaseMs}. */
  readonly leaseMs: number;
  /** The holdings to extend (at most {@link MAX_RENEW_BATCH}; may be empty). */
  readonly leases: readonly LeaseRef[];
}

/** The answer of {@link ClaimMethods.renewLeases}: every requested job lands in exactly one list. */
export interface RenewReport {
  /** Extended leases, with their new expiry. */
  readonly renewed: readonly Lease[];
  /** Job ids no longer held by the caller: reclaimed, released, changed by another writer, or gone. */
  readonly lost: readonly string[];
  /** Job ids another writer cancelled (stored status `cancelled`): stop the handler, write nothing. */
  readonly cancelled: readonly string[];
}

/** What {@link ClaimMethods.reclaimExpired} takes back. */
export interface ReclaimRequest {
  /** Most jobs to reclaim, an integer 1–{@link MAX_CLAIM_LIMIT}. */
  readonly limit: number;
  /**
   * Owners the caller knows are dead (e.g. a process of this machine that no longer exists):
   * their leases count as expired now. Optional.
   */
  readonly deadOwners?: readonly string[] | undefined;
}

/** The answer of {@link ClaimMethods.reclaimExpired}. */
export interface ReclaimReport {
  /** Jobs whose interrupted attempt leaves attempts to spare: now `retrying` with backoff. */
  readonly retried: readonly Job[];
  /** Jobs whose attempts are used up: now `failed` with `INTERRUPTED`, each with its one result. */
  readonly failed: readonly Job[];
}

/** Largest {@link ClaimRequest.limit} and {@link ReclaimRequest.limit}. */
export const MAX_CLAIM_LIMIT = 1000;
/** Largest number of leases one {@link ClaimMethods.renewLeases} call takes. */
export const MAX_RENEW_BATCH = 10_000;
/** Shortest lease. */
export const MIN_LEASE_MS = 10;
/** Longest lease (one day). */
export const MAX_LEASE_MS = 86_400_000;

/**
 * The methods of a store with the `claims` capability ({@link StoreCapabilities.claims}).
 *
 * Rules (the conformance suite checks each):
 * - **Due jobs** are `pending` or `retrying` with `runAt <= now` (the store's clock).
 * - **Claim order** is the scheduler's: aging key `priority − agingRate · runAt / 1000`
 *   descending (the store's `agingRate`, default 0.1 per second), then id ascending.
 * - **A claim is atomic and exclusive**: concurrent claimers (in one process or many) never
 *   receive the same job; each claimed job is written `running` with `attempts + 1`,
 *   `updatedAt = now`, `version + 1` (as `startAttempt` does) and a lease expiring at
 *   `now + leaseMs`, before `claim` resolves.
 * - **Fencing**: a holder writes about its job with `commit` and `expectedVersion` = the lease's
 *   version. Any committed update that moves a claimed job out of `running` ends its lease (this
 *   is how a holder completes, retries, fails, or **releases** a job it will not run:
 *   back to `retrying` with the attempt uncounted; see `releasedRecord` in the store kit).
 * - **Renewal** extends leases the owner still holds (same version, still `running`, same
 *   owner) to `now + leaseMs`, even when they had expired but were not yet reclaimed; reports
 *   the others as `cancelled` (stored status `cancelled`) or `lost`.
 * - **Reclaim**: a `running` job whose lease expired (or that has no lease, e.g. written by a
 *   single-process engine, or whose owner is named dead) counts its attempt as interrupted, by
 *   the rules of `recordFailure` with an `InterruptedError`: `retrying` with backoff, or `failed`
 *   with its result when the attempts are used up. Only `reclaimExpired` does this; `claim`
 *   never hands out a running job.
 * - **Persistence**: a persistent store keeps leases across reopen.
 */
export interface ClaimMethods {
  /** Claims up to `limit` due jobs, in claim order (see the rules above). Resolves with them in that order. */
  claim(request: ClaimRequest): Promise<ClaimedJob[]>;
  /** Extends many leases at once and reports the ones the caller lost. */
  renewLeases(request: RenewRequest): Promise<RenewReport>;
  /** Takes back up to `limit` jobs whose lease expired (or whose owner is dead), counting the interrupted attempt. */
  reclaimExpired(request: ReclaimRequest): Promise<ReclaimReport>;
  /** Distinct owners that hold a lease now (expired or not). */
  leaseOwners(): Promise<string[]>;
  /**
   * Optional: a value that changes whenever the store's data may have changed (a commit, a
   * claim, a reclaim), through this instance or any other connection or process — at once for
   * this instance's own writes, and soon (e.g. when a notification arrives) for others'. Cheap
   * (no transaction), false alarms allowed: engines poll it to notice work and results written
   * elsewhere without claiming on every poll.
   */
  changeMark?(): Promise<string | number>;
  /**
   * Optional: the aging rate this store orders claims by (priority points per second of waiting:
   * the `agingRate` it was opened with). An engine given an `agingRate` of its own refuses a store
   * that reports another one, whose claim order would not keep the engine's starvation bound; an
   * engine given none adopts it for its own queues.
   */
  readonly claimAgingRate?: number | undefined;
}

/** A store with the claims capability. */
export type ClaimsJobStore = JobStore & ClaimMethods;

/** True when `store` declares the `claims` capability and has its methods. */
export function hasClaims(store: JobStore): store is ClaimsJobStore {
  const s = store as Partial<ClaimMethods> & JobStore;
  return (
    store.capabilities.claims === true &&
    typeof s.claim === "function" &&
    typeof s.renewLeases === "function" &&
    typeof s.reclaimExpired === "function" &&
    typeof s.leaseOwners === "function"
  );
}

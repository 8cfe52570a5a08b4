import { hasClaims, type ClaimedJob, type ClaimRequest, type ClaimsJobStore } from "./claims.js";
import type { JobStore } from "./job-store.js";

// The flow capability: limits, concurrency keys and group shares that hold across every engine
// sharing a store. Their state lives in the store and changes inside the claim, so a job is
// claimed (its attempt counted) only once its limits have room, and a killed engine's slots come
// back when its leases expire.

/** A rate: at most `units` units admitted in any window of `perMs` ms (store clock). */
export interface FlowRate {
  /** A positive integer. */
  readonly units: number;
  /** A positive integer, ms. */
  readonly perMs: number;
}

/** One named limit as the claimant defines it: a rate, a concurrency cap, or both. */
export interface FlowLimit {
  readonly rate?: FlowRate | undefined;
  /** At most this many claimed jobs that use the limit are `running`, across every engine. */
  readonly maxConcurrent?: number | undefined;
}

/** What a claim applies: the claimant's limits and group weights. */
export interface FlowClaimOptions {
  /** Limits by key. A job's limit whose key is not here is not applied by this claim. */
  readonly limits: Readonly<Record<string, FlowLimit>>;
  /** Dispatch shares of groups (positive numbers); a group not named weighs 1. */
  readonly groupWeights?: Readonly<Record<string, number>> | undefined;
}

/** A claim that admits jobs by their limits and picks among groups by their shares. */
export interface FlowClaimRequest extends ClaimRequest {
  readonly flow: FlowClaimOptions;
}

/** The answer of {@link FlowMethods.claimFlow}. */
export interface FlowClaimResult {
  /** The claimed jobs, in the order they were picked. */
  readonly claimed: ClaimedJob[];
  /** Due jobs this claim looked at and left unclaimed because a limit had no room. */
  readonly refused: number;
  /**
   * Those refused jobs per limit key: a job counts under each key it uses that the request
   * defines (it waits for all of them, as the engine's own gate counts its waiting jobs); `{}`
   * when none was refused. The engine reports it as `flow.limit_waiting`. Optional in the type
   * so stores written before it still compile; the conformance suite requires it.
   */
  readonly waiting?: Readonly<Record<string, number>> | undefined;
  /**
   * When a job refused by a rate fits its window again (store clock, epoch ms): claim again
   * then. Absent when no job was refused by a rate (a concurrency cap frees when a job ends).
   */
  readonly retryAt?: number | undefined;
}

/** A handler's real usage of a rate limit (`ctx.charge`), for the admission its claim wrote. */
export interface FlowCharge {
  readonly jobId: string;
  /** The version of the claim that admitted the job (the lease's version). */
  readonly version: number;
  /** The limit key; must be one the claim admitted the job under with a rate. */
  readonly key: string;
  /** The units the call really used: a non-negative integer. */
  readonly units: number;
}

/** Most due jobs one flow claim looks at and leaves unclaimed (refused by a limit) before it stops. */
export const MAX_FLOW_SCAN = 2000;

/**
 * The methods of a store with the `flow` capability ({@link StoreCapabilities.flow}), which
 * requires `claims`.
 *
 * Rules (the conformance suite checks each):
 * - **Admission.** A job is claimed only when every limit it names that the request defines has
 *   room at the store's now: for a rate, the units admitted in the window `(now − perMs, now]`
 *   plus the job's units stay ≤ `units`; for `maxConcurrent`, fewer jobs that the flow claims
 *   admitted under the key are still `running` with that claim's version. A job
 *   that does not fit is left `pending`/`retrying`, its attempt not counted.
 * - **Slots come back when the job leaves `running`**: its committed end, a cancel, a release, or
 *   the reclaim of its expired lease (a killed engine's slots return at the reclaim that follows
 *   the expiry, not at the expiry itself: the store never counts leases on the claim's path).
 * - **No starvation of heavy jobs.** Once a job is refused by a limit, every limit it names is
 *   held for the rest of that claim: no later job that uses one of them is admitted.
 * - **Over capacity.** A job whose units on a limit exceed the rate's `units` can never fit: it is
 *   claimed without admission (the engine fails it with `LimitCapacityError` without running it),
 *   so it cannot hold its limit forever.
 * - **Groups.** Among a mode's groups with due jobs (a job without `group` is in group `""`), the
 *   next job comes from the group with the smallest start tag `max(V, finish_g)`, ties to the
 *   group served least recently (never served first, then by name); the pick sets
 *   `V = start` and `finish_g = start + 1 / weight_g`. Tags live in the store per mode, so
 *   every engine's claims share one fair order, and a group that just got due work is served
 *   before any backlogged group is served twice. Inside a group, claim order (aging).
 * - **Charges** set the units of a job's window entry (the admission stays at the claim's time).
 *   A charge applies while the job is `running` with the admitting version (the engine charges
 *   only then); once the job has left `running` a store may resolve `false` and change nothing.
 * - **One key, different windows.** Claimants may define one key with different `perMs` (a
 *   rolling change of configuration): each counts the admissions of every claimant inside its
 *   own window, and the store keeps a key's entries for the longest `perMs` of any flow claim
 *   that defined the key (whether or not it found a job using it), so a claim with a shorter
 *   window never drops entries a longer one counts. A claimant that moves to a longer window
 *   counts, in its first window, only what the shorter retention had kept. The retention never
 *   shrinks.
 * - **Bounded work.** A claim looks at no more than {@link MAX_FLOW_SCAN} refused jobs.
 */
export interface FlowMethods {
  /** Claims up to `limit` due jobs that fit their limits, picking among groups by their shares. */
  claimFlow(request: FlowClaimRequest): Promise<FlowClaimResult>;
  /**
   * Applies a charge; resolves `false` (and changes nothing) when the store has no such admission
   * of the job: another version or key, and (a store may treat these so too) a job that has left
   * `running` or an admission its window has already dropped.
   */
  chargeFlow(charge: FlowCharge): Promise<boolean>;
}

/** A store with the flow capability. */
export type FlowJobStore = ClaimsJobStore & FlowMethods;

/** True when `store` declares the `flow` capability (and `claims`) and has the methods. */
export function hasFlow(store: JobStore): store is FlowJobStore {
  const s = store as Partial<FlowMethods> & JobStore;
  return hasClaims(store) && store.capabilities.flow === true && typeof s.claimFlow === "function" && typeof s.chargeFlow === "function";
}

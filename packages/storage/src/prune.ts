import { TERMINAL_STATUSES, ValidationError, type Job, type JobStatus } from "@pyrexis/models";
import type { JobStore } from "./job-store.js";

// The prune capability: deleting finished work, so a store that runs for weeks does not grow
// forever. Only terminal jobs (completed, failed, cancelled) can ever be named by a request: the
// checks refuse any other status, and every store's delete filters by status again, so a
// running or pending job is never deleted whatever its age. The checks and the reference
// selection (`selectPrunable`) live here so every store gives the same errors and deletes the
// same jobs.

/** A status a job never leaves: the only statuses {@link PruneMethods.pruneFinished} deletes. */
export type FinishedStatus = "completed" | "failed" | "cancelled";

/** Largest {@link PruneRequest.limit}. */
export const MAX_PRUNE_LIMIT = 10_000;

/** Largest {@link PruneRequest.keepLatest} (2³¹ − 1). */
export const MAX_PRUNE_KEEP = 2_147_483_647;

/**
 * What {@link PruneMethods.pruneFinished} deletes. Any malformed field rejects with
 * `ValidationError` and deletes nothing.
 *
 * A job's *finish time* is the `updatedAt` of its terminal record (the moment it completed,
 * failed or was cancelled; a terminal job is never written again). At least one of
 * `finishedBefore` and `keepLatest` must be given, so that "delete everything" is never the
 * meaning of a forgotten field.
 */
export interface PruneRequest {
  /** Only jobs in this status (or these; a non-empty array of terminal statuses). Default: all three. */
  readonly status?: FinishedStatus | readonly FinishedStatus[] | undefined;
  /** Only jobs that finished before this epoch ms (exclusive). */
  readonly finishedBefore?: number | undefined;
  /**
   * Spare the newest `keepLatest` finished jobs (by finish time, then id) among all jobs of the
   * given statuses taken together; an integer 0–{@link MAX_PRUNE_KEEP}. Call once per status to
   * keep a count per status.
   */
  readonly keepLatest?: number | undefined;
  /** Most jobs this call deletes, an integer 1–{@link MAX_PRUNE_LIMIT}. Required: every call is bounded. */
  readonly limit: number;
}

/** The answer of {@link PruneMethods.pruneFinished}. */
export interface PruneReport {
  /** Ids of the jobs deleted by this call (with their results), oldest finish first; at most `limit`. */
  readonly deleted: readonly string[];
  /** True when more jobs matched than `limit` allowed: call again for the next batch. */
  readonly more: boolean;
}

/**
 * The method of a store that declares `capabilities.prune`.
 *
 * Rules (checked by `describePrune` of `@pyrexis/storage/conformance`, which `describeJobStore`
 * runs when the capability is declared):
 * - **Only finished work**: a job is deleted only when its stored status is `completed`,
 *   `failed` or `cancelled`. `created`, `pending`, `running` (claimed or not) and `retrying`
 *   jobs are never deleted, whatever their timestamps. A request naming another status is a
 *   `ValidationError`.
 * - **Selection**: the candidates are exactly those of {@link selectPrunable} (the definition),
 *   taken oldest finish first (`updatedAt`, then id); the first `limit` are deleted.
 * - **Results go with their jobs**, in the same transaction: after the call neither the job nor
 *   its result exists, and no result is ever left without its job.
 * - **Bounded**: one call deletes at most `limit` jobs, and reports `more` when candidates remain.
 * - **Idempotent and concurrent-safe**: a job already deleted (by this or another handle or
 *   process) is simply not deleted again; concurrent calls never fail because of each other and
 *   never report the same id twice.
 * - **Paging stays consistent**: a `listJobs`/`queryJobs` walk with pruning between its pages
 *   returns every surviving job exactly once (keyset cursors do not depend on deleted rows).
 * - `ValidationError` for a malformed request ({@link normalizePruneRequest} is the
 *   definition); `StoreClosedError` after `close()`.
 *
 * @example
 * ```ts
 * if (hasPrune(store)) {
 *   const weekAgo = Date.now() - 7 * 86_400_000;
 *   for (;;) {
 *     const { more } = await store.pruneFinished({ status: "completed", finishedBefore: weekAgo, limit: 500 });
 *     if (!more) break;
 *   }
 * }
 * ```
 */
export interface PruneMethods {
  /** Deletes up to `limit` finished jobs matching `request`, with their results, in one transaction. */
  pruneFinished(request: PruneRequest): Promise<PruneReport>;
}

/** A {@link JobStore} with the `prune` capability. */
export type PruneJobStore = JobStore & PruneMethods;

/** True when `store` declares `capabilities.prune` and has the method. */
export function hasPrune(store: JobStore): store is PruneJobStore {
  return store.capabilities.prune === true && typeof (store as Partial<PruneMethods>).pruneFinished === "function";
}

/** A {@link PruneRequest} checked, with its statuses deduplicated in a fixed order. */
export interface NormalizedPruneRequest {
  /** Non-empty, terminal, in `TERMINAL_STATUSES` order. */
  readonly statuses: readonly FinishedStatus[];
  readonly finishedBefore: number | undefined;
  readonly keepLatest: number | undefined;
  readonly limit: number;
}

const REQUEST_KEYS: ReadonlySet<string> = new Set(["status", "finishedBefore", "keepLatest", "limit"]);
const FINISHED: ReadonlySet<string> = new Set(TERMINAL_STATUSES);

function invalid(message: string, field: string): ValidationError {
  return new ValidationError(message, [{ path: [field], message }]);
}

/** True for `completed`, `failed` and `cancelled`. */
export function isFinishedStatus(status: unknown): status is FinishedStatus {
  return typeof status === "string" && FINISHED.has(status);
}

/**
 * Checks a prune request: throws `ValidationError` for a non-object, an unknown key, a status
 * that is not terminal (or an empty list), a non-finite `finishedBefore`, a `keepLatest` that is
 * not an integer 0–{@link MAX_PRUNE_KEEP}, a `limit` that is not an integer
 * 1–{@link MAX_PRUNE_LIMIT}, or neither `finishedBefore` nor `keepLatest`.
 */
export function normalizePruneRequest(request: unknown): NormalizedPruneRequest {
  if (typeof request !== "object" || request === null || Array.isArray(request)) {
    throw invalid("pruneFinished request must be an object { status?, finishedBefore?, keepLatest?, limit }", "request");
  }
  const r = request as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!REQUEST_KEYS.has(key)) throw invalid(`pruneFinished: unknown field "${key}"`, key);
  let statuses: readonly FinishedStatus[] = TERMINAL_STATUSES as readonly FinishedStatus[];
  if (r.status !== undefined) {
    const list: readonly unknown[] = Array.isArray(r.status) ? r.status : [r.status];
    if (list.length === 0) throw invalid("pruneFinished status must not be an empty array", "status");
    for (const s of list) {
      if (!isFinishedStatus(s)) {
        throw invalid(
          `pruneFinished deletes only finished jobs (completed, failed, cancelled); status ${JSON.stringify(s)} is not one`,
          "status",
        );
      }
    }
    statuses = (TERMINAL_STATUSES as readonly FinishedStatus[]).filter((s) => list.includes(s));
  }
  const { finishedBefore, keepLatest, limit } = r;
  if (finishedBefore !== undefined && (typeof finishedBefore !== "number" || !Number.isFinite(finishedBefore))) {
    throw invalid(`pruneFinished finishedBefore must be a finite epoch ms, got ${JSON.stringify(finishedBefore)}`, "finishedBefore");
  }
  if (
    keepLatest !== undefined &&
    (typeof keepLatest !== "number" || !Number.isInteger(keepLatest) || keepLatest < 0 || keepLatest > MAX_PRUNE_KEEP)
  ) {
    throw invalid(`pruneFinished keepLatest must be an integer 0–${MAX_PRUNE_KEEP}, got ${JSON.stringify(keepLatest)}`, "keepLatest");
  }
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_PRUNE_LIMIT) {
    throw invalid(`pruneFinished limit must be an integer 1–${MAX_PRUNE_LIMIT}, got ${JSON.stringify(limit)}`, "limit");
  }
  if (finishedBefore === undefined && keepLatest === undefined) {
    throw invalid("pruneFinished needs finishedBefore or keepLatest (or both): it never deletes everything by default", "request");
  }
  return {
    statuses,
    finishedBefore: finishedBefore,
    keepLatest: keepLatest,
    limit,
  };
}

/** Finish order: `updatedAt` ascending, then id in code-unit order (how every store deletes). */
export function compareFinishOrder(a: Pick<Job, "updatedAt" | "id">, b: Pick<Job, "updatedAt" | "id">): number {
  if (a.updatedAt !== b.updatedAt) return a.updatedAt - b.updatedAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The definition of what a prune request deletes, over every job of a store: the jobs in one of
 * `statuses`, minus the newest `keepLatest` of them, that finished before `finishedBefore`,
 * oldest finish first. A store deletes the first `limit` of this list in one call (`more` when
 * the list is longer). Jobs in any other status are never in it.
 */
export function selectPrunable(jobs: Iterable<Job>, request: NormalizedPruneRequest): Job[] {
  const statuses: ReadonlySet<JobStatus> = new Set(request.statuses);
  const finished: Job[] = [];
  for (const job of jobs) if (statuses.has(job.status)) finished.push(job);
  finished.sort(compareFinishOrder);
  const spared = request.keepLatest === undefined ? finished : finished.slice(0, Math.max(0, finished.length - request.keepLatest));
  const before = request.finishedBefore;
  return before === undefined ? spared : spared.filter((j) => j.updatedAt < before);
}

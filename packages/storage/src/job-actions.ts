// Operator actions on a stored job, written once for every caller that works on a store without
// holding the job (the engine for jobs it does not hold, the dashboard, the CLI):
// - cancel: one compare-and-set commit of the `cancelled` record and its result, re-read and
//   tried again while another writer keeps changing the job;
// - redrive: a NEW job with the spec of a failed or cancelled one (results are write-once, so a
//   finished job is never reused). Its id names the job it redrives, `<first id>.retry-<n>`,
//   where `<first id>` started the chain and n counts along it: the record has no free field for
//   the link and the payload belongs to the user. The id is deterministic, so a redrive repeated
//   after a crash, a double click or by two operators creates one job.
import {
  CancelledError,
  createJob,
  createResult,
  IllegalTransitionError,
  isPyrexisError,
  isTerminal,
  JobNotFoundError,
  NotRedrivableError,
  serializeError,
  transition,
  type Job,
  type JobSpec,
  type JobStatus,
  type Result,
} from "@pyrexis/models";
import type { JobStore } from "./job-store.js";

/** Tries of a cancel's compare-and-set before it gives up with the last `StaleVersionError`. */
export const MAX_CANCEL_TRIES = 8;
/** Longest job id (the models' limit), which a redrive id must fit. */
const MAX_ID_LENGTH = 256;
const REDRIVE_ID = /^(.*)\.retry-(\d{1,6})$/;

/** True when `job` can still be cancelled (it has not finished). */
export function canCancel(job: Job): boolean {
  return !isTerminal(job.status);
}

/** True when `job` can be redriven: it ended `failed` or `cancelled`. */
export function canRedrive(job: Job): boolean {
  return job.status === "failed" || job.status === "cancelled";
}

/** Where a job stands in its redrive chain: the first job's id and this job's number in it (0 for the first). */
export function redriveChain(id: string): { readonly first: string; readonly n: number } {
  const m = REDRIVE_ID.exec(id);
  return m === null ? { first: id, n: 0 } : { first: m[1]!, n: Number(m[2]) };
}

/** The id the redrive of job `id` gets. */
export function redriveIdOf(id: string): string {
  const { first, n } = redriveChain(id);
  return `${first}.retry-${n + 1}`;
}

/** The id of the job that job `id` redrives, or `undefined` for the first of a chain. */
export function redrivenFrom(id: string): string | undefined {
  const { first, n } = redriveChain(id);
  if (n === 0) return undefined;
  return n === 1 ? first : `${first}.retry-${n - 1}`;
}

/** The spec of a new job that runs `job` again: same handler, payload, priority, mode, attempts, backoff, timeout, limits, group. */
export function redriveSpec(job: Job): JobSpec {
  const spec: JobSpec = {
    id: redriveIdOf(job.id),
    handler: job.handler,
    payload: job.payload,
    priority: job.priority,
    mode: job.mode,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff,
  };
  if (job.timeoutMs !== undefined) spec.timeoutMs = job.timeoutMs;
  if (job.limits !== undefined) spec.limits = job.limits;
  if (job.group !== undefined) spec.group = job.group;
  return spec;
}

/**
 * Checks that `job` can be redriven and returns its redrive's spec; `NotRedrivableError` when it
 * is not failed or cancelled, or when the chain's id would exceed the id length limit.
 */
export function checkedRedriveSpec(job: Job): JobSpec {
  if (!canRedrive(job)) throw new NotRedrivableError(job.id, job.status);
  const spec = redriveSpec(job);
  if (spec.id!.length > MAX_ID_LENGTH) {
    throw new NotRedrivableError(job.id, job.status, `its redrive's id would be longer than ${MAX_ID_LENGTH} characters`);
  }
  return spec;
}

/** What {@link cancelStoredJob} did. */
export interface CancelOutcome {
  /** The job as written, `cancelled`. */
  readonly job: Job;
  /** Its `cancelled` result, as written. */
  readonly result: Result;
  /** The status it was cancelled from. */
  readonly from: JobStatus;
}

/** Options of {@link cancelStoredJob}. */
export interface CancelStoredOptions {
  /** The time to stamp (epoch ms). */
  readonly now: () => number;
  /** Why, for the result's `CancelledError` message (e.g. "cancelled from the dashboard"). */
  readonly reason?: string | undefined;
}

/**
 * Cancels job `id` in `store`: writes it `cancelled` with a `cancelled` result in one
 * compare-and-set commit, reading it again when another writer changed it meanwhile, up to
 * {@link MAX_CANCEL_TRIES} times (then the last `StaleVersionError`). A running job is only
 * marked: an engine holding it under a claim sees `cancelled` at its next renewal and aborts the
 * attempt; an engine without claims finds out when its next write is refused as stale.
 * `JobNotFoundError` for an unknown id; `IllegalTransitionError` (from the job's status) when it
 * already finished — check `error.from === "cancelled"` to treat a repeated cancel as done.
 */
export async function cancelStoredJob(store: JobStore, id: string, options: CancelStoredOptions): Promise<CancelOutcome> {
  for (let tries = 1; ; tries++) {
    const job = await store.getJob(id);
    if (job === undefined) throw new JobNotFoundError(id);
    if (!canCancel(job)) {
      const e = new IllegalTransitionError(id, job.status, "cancelled");
      e.message = `job ${id} already finished (${job.status}); there is nothing to cancel`;
      throw e;
    }
    const at = options.now();
    const cancelled = transition(job, "cancelled", at);
    const result = createResult({
      jobId: id,
      status: "cancelled",
      error: serializeError(new CancelledError(id, options.reason)),
      startedAt: at,
      endedAt: at,
      attempts: cancelled.attempts,
    });
    try {
      await store.commit({ update: [{ job: cancelled, expectedVersion: job.version }], results: [result] });
      return { job: cancelled, result, from: job.status };
    } catch (e) {
      if (isPyrexisError(e, "STALE_VERSION") && tries < MAX_CANCEL_TRIES) continue;
      throw e;
    }
  }
}

/** What {@link redriveStoredJob} did. */
export interface RedriveOutcome {
  /** The new job (or, when `created` is false, the one an earlier redrive created). */
  readonly job: Job;
  /** False when the job had been redriven already (its redrive job is returned, nothing written). */
  readonly created: boolean;
  /** The failed or cancelled job that was redriven; it and its result stay as they are. */
  readonly of: Job;
}

/**
 * Redrives job `id`: inserts a new `pending` job with its spec ({@link redriveSpec}) under the
 * id {@link redriveIdOf} gives. Redriving it again returns the existing redrive job with
 * `created: false`. `JobNotFoundError` for an unknown id; `NotRedrivableError` for a job that
 * is not failed or cancelled.
 */
export async function redriveStoredJob(store: JobStore, id: string, options: { readonly now: () => number }): Promise<RedriveOutcome> {
  const of = await store.getJob(id);
  if (of === undefined) throw new JobNotFoundError(id);
  const fresh = createJob(checkedRedriveSpec(of), options.now());
  try {
    await store.commit({ insert: [fresh] });
    return { job: fresh, created: true, of };
  } catch (e) {
    if (!isPyrexisError(e, "DUPLICATE_JOB")) throw e;
    const existing = await store.getJob(fresh.id);
    if (existing === undefined) throw e;
    return { job: existing, created: false, of };
  }
}

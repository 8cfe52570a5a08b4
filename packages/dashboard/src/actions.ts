// The dashboard's actions on jobs: cancel (compare-and-set, retried on a stale version) and retry
// (a NEW job with the same spec: results are write-once, so a finished job is never reused).
//
// A retry's id names the job it retries: `<first id>.retry-<n>`, where `<first id>` is the job
// the chain started from and n counts up along the chain. The id is the only link (a job record
// has no free field for it, and the payload belongs to the user); it is deterministic, so retrying
// the same job twice (a double click, two operators) creates one job and the second gets
// 409 `conflict` with `details.retriedAs`.
import {
  CancelledError,
  createJob,
  createResult,
  isPyrexisError,
  isTerminal,
  serializeError,
  transition,
  type Job,
  type JobSpec,
} from "@pyrexis/models";
import type { JobStore } from "@pyrexis/storage";
import { HttpError } from "./errors.js";

/** Attempts of a cancel's compare-and-set before it gives up with 409 (the job keeps changing). */
export const MAX_CANCEL_TRIES = 8;
/** Longest job id (the models' limit), which a retry id must fit. */
const MAX_ID_LENGTH = 256;

const RETRY_ID = /^(.*)\.retry-(\d{1,6})$/;

/** Where a job stands in its retry chain: the first job's id and this job's number in the chain (0 for the first). */
export function retryChain(id: string): { readonly first: string; readonly n: number } {
  const m = RETRY_ID.exec(id);
  return m === null ? { first: id, n: 0 } : { first: m[1]!, n: Number(m[2]) };
}

/** The id the retry of job `id` gets. */
export function retryIdOf(id: string): string {
  const { first, n } = retryChain(id);
  return `${first}.retry-${n + 1}`;
}

/** The id of the job that job `id` retried, or `undefined` for the first of a chain. */
export function retriedFrom(id: string): string | undefined {
  const { first, n } = retryChain(id);
  if (n === 0) return undefined;
  return n === 1 ? first : `${first}.retry-${n - 1}`;
}

/** Statuses a job can be cancelled from. */
export function canCancel(job: Job): boolean {
  return !isTerminal(job.status);
}

/** Statuses a job can be retried from. */
export function canRetry(job: Job): boolean {
  return job.status === "failed" || job.status === "cancelled";
}

function isCode(e: unknown, code: string): boolean {
  return isPyrexisError(e) && e.code === code;
}

/** What a cancel did. */
export interface CancelOutcome {
  readonly job: Job;
  /** The status the job was cancelled from. */
  readonly from: Job["status"];
}

/**
 * Cancels job `id`: writes it `cancelled` with a `cancelled` result in one compare-and-set
 * commit, re-reading and trying again when the job changed meanwhile (a worker moved it), up
 * to {@link MAX_CANCEL_TRIES} times. A running job is only marked: an engine holding it under a
 * claim sees `cancelled` at its next lease renewal and aborts the attempt; an engine without
 * claims finds out when its next write of the job is refused as stale, and drops it.
 */
export async function cancelJob(store: JobStore, id: string, now: () => number): Promise<CancelOutcome> {
  for (let tries = 0; tries < MAX_CANCEL_TRIES; tries++) {
    const job = await store.getJob(id);
    if (job === undefined) throw new HttpError("not_found", `no job ${id}`);
    if (!canCancel(job))
      throw new HttpError("conflict", `job ${id} already finished (${job.status}); there is nothing to cancel`, { status: job.status });
    const at = now();
    const cancelled = transition(job, "cancelled", at);
    const result = createResult({
      jobId: id,
      status: "cancelled",
      error: serializeError(new CancelledError(id, "cancelled from the dashboard")),
      startedAt: at,
      endedAt: at,
      attempts: cancelled.attempts,
    });
    try {
      await store.commit({ update: [{ job: cancelled, expectedVersion: job.version }], results: [result] });
      return { job: cancelled, from: job.status };
    } catch (e) {
      if (isCode(e, "STALE_VERSION")) continue;
      if (isCode(e, "RESULT_EXISTS")) throw new HttpError("conflict", `job ${id} finished meanwhile; there is nothing to cancel`);
      throw e;
    }
  }
  throw new HttpError("conflict", `job ${id} kept changing; try again`);
}

/** The spec of a new job that runs `job` again: same handler, payload, priority, mode, attempts, backoff, timeout. */
export function retrySpec(job: Job): JobSpec {
  const spec: JobSpec = {
    id: retryIdOf(job.id),
    handler: job.handler,
    payload: job.payload,
    priority: job.priority,
    mode: job.mode,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff,
  };
  if (job.timeoutMs !== undefined) spec.timeoutMs = job.timeoutMs;
  return spec;
}

/** Submits a new `pending` job with the spec of failed or cancelled job `id` (see the file header for its id). */
export async function retryJob(store: JobStore, id: string, now: () => number): Promise<Job> {
  const job = await store.getJob(id);
  if (job === undefined) throw new HttpError("not_found", `no job ${id}`);
  if (!canRetry(job))
    throw new HttpError("conflict", `job ${id} is ${job.status}; only failed or cancelled jobs can be retried`, { status: job.status });
  const spec = retrySpec(job);
  if (spec.id!.length > MAX_ID_LENGTH)
    throw new HttpError("conflict", `job ${id}: the retry id would be longer than ${MAX_ID_LENGTH} characters`);
  const fresh = createJob(spec, now());
  try {
    await store.commit({ insert: [fresh] });
  } catch (e) {
    if (isCode(e, "DUPLICATE_JOB")) throw new HttpError("conflict", `job ${id} was already retried as ${spec.id}`, { retriedAs: spec.id });
    throw e;
  }
  return fresh;
}

import { IllegalTransitionError } from "./errors.js";
import type { Job, JobStatus } from "./schemas.js";

/**
 * The job state machine: for each status, the statuses it may move to.
 *
 * ```
 * created  → pending | cancelled
 * pending  → running | cancelled
 * running  → completed | failed | retrying | cancelled
 * retrying → running | failed | cancelled
 * completed, failed, cancelled: terminal
 * ```
 */
export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = Object.freeze({
  created: Object.freeze(["pending", "cancelled"] as const),
  pending: Object.freeze(["running", "cancelled"] as const),
  running: Object.freeze(["completed", "failed", "retrying", "cancelled"] as const),
  retrying: Object.freeze(["running", "failed", "cancelled"] as const),
  completed: Object.freeze([] as const),
  failed: Object.freeze([] as const),
  cancelled: Object.freeze([] as const),
});

/** True when the state machine allows `from → to`. */
export function canTransition(from: JobStatus, to: JobStatus): boolean {
  // hasOwn: a corrupt status such as "constructor" must answer false, not throw.
  return Object.hasOwn(TRANSITIONS, from) && TRANSITIONS[from].includes(to);
}

/**
 * Returns a new job in status `to` (the input is not changed), with `updatedAt = now` and
 * `version + 1`. Throws {@link IllegalTransitionError} for a move the state machine forbids.
 * `patch` sets other fields in the same step (e.g. `attempts`, `runAt`, `lastError`).
 */
export function transition(job: Job, to: JobStatus, now: number, patch?: Partial<Omit<Job, "status" | "id">>): Job {
  if (!canTransition(job.status, to)) throw new IllegalTransitionError(job.id, job.status, to);
  return { ...job, ...patch, status: to, updatedAt: now, version: job.version + 1 };
}

/** Moves a `pending` or `retrying` job to `running` and counts the attempt it starts. */
export function startAttempt(job: Job, now: number): Job {
  return transition(job, "running", now, { attempts: job.attempts + 1 });
}

import { IllegalTransitionError } from "./errors.js";
import type { Job, JobStatus } from "./schemas.js";

/**
 * The job state machine: for each status, the statuses it may move to.
 *
 * ```
 * created  → waiting | pending | cancelled
 * waiting  → pending | failed | cancelled   (its parents completed, or one failed or was cancelled)
 * pending  → running | cancelled
 * running  → completed | failed | retrying | cancelled
 * retrying → running | failed | cancelled
 * completed, failed, cancelled: terminal
 * ```
 */
export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = Object.freeze({
  created: Object.freeze(["waiting", "pending", "cancelled"] as const),
  waiting: Object.freeze(["pending", "failed", "cancelled"] as const),
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
  // An explicit literal (not a spread): this runs several times per job on the engine's hot
  // path, and a literal with a fixed shape is far cheaper to build and to read afterwards.
  const next: Job = {
    id: job.id,
    handler: job.handler,
    payload: job.payload,
    priority: job.priority,
    mode: job.mode,
    maxAttempts: job.maxAttempts,
    backoff: job.backoff,
    status: to,
    attempts: job.attempts,
    createdAt: job.createdAt,
    updatedAt: now,
    runAt: job.runAt,
    version: job.version + 1,
  };
  // Optional fields stay absent when absent (stores round-trip records exactly).
  if (job.timeoutMs !== undefined) next.timeoutMs = job.timeoutMs;
  if (job.lastError !== undefined) next.lastError = job.lastError;
  if (job.traceContext !== undefined) next.traceContext = job.traceContext;
  if (job.dependsOn !== undefined) next.dependsOn = job.dependsOn;
  if (job.attemptErrors !== undefined) next.attemptErrors = job.attemptErrors;
  if (job.limits !== undefined) next.limits = job.limits;
  if (job.group !== undefined) next.group = job.group;
  if (patch) {
    const target = next as unknown as Record<string, unknown>;
    for (const key of Object.keys(patch) as (keyof typeof patch)[]) {
      // The move itself decides these; a patch cannot override them.
      if (key === "updatedAt" || key === "version" || (key as string) === "status" || (key as string) === "id") continue;
      const value = patch[key];
      if (value === undefined) delete target[key];
      else target[key] = value;
    }
  }
  return next;
}

/** Moves a `pending` or `retrying` job to `running` and counts the attempt it starts. */
export function startAttempt(job: Job, now: number): Job {
  // Set after the move, not through a patch: once per attempt on the engine's hot path, and a
  // patch costs an object and an Object.keys walk.
  const next = transition(job, "running", now);
  next.attempts = job.attempts + 1;
  return next;
}

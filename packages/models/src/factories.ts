import { generateJobId } from "./ids.js";
import type { Job, JobSpec, Result } from "./schemas.js";

/**
 * Builds the record of a validated spec: `pending`, or `waiting` when it names jobs it depends
 * on; id generated when absent, `runAt` from `runAt`/`delayMs` (or `now`), `attempts` 0, `version` 0.
 */
export function createJob(spec: JobSpec, now: number): Job {
  const job: Job = {
    id: spec.id ?? generateJobId(),
    handler: spec.handler,
    payload: spec.payload,
    priority: spec.priority,
    mode: spec.mode,
    maxAttempts: spec.maxAttempts,
    backoff: spec.backoff,
    status: spec.dependsOn === undefined ? "pending" : "waiting",
    attempts: 0,
    createdAt: now,
    updatedAt: now,
    runAt: spec.runAt ?? now + (spec.delayMs ?? 0),
    version: 0,
  };
  if (spec.timeoutMs !== undefined) job.timeoutMs = spec.timeoutMs;
  if (spec.dependsOn !== undefined) job.dependsOn = spec.dependsOn;
  if (spec.limits !== undefined) job.limits = spec.limits;
  if (spec.group !== undefined) job.group = spec.group;
  return job;
}

/** Creates a frozen {@link Result} (`durationMs` derived from the two times). */
export function createResult(fields: Omit<Result, "durationMs">): Readonly<Result> {
  // A fixed-shape literal (one per finished job on the engine's hot path), optional fields only when present.
  const result: Result = {
    jobId: fields.jobId,
    status: fields.status,
    startedAt: fields.startedAt,
    endedAt: fields.endedAt,
    durationMs: Math.max(0, fields.endedAt - fields.startedAt),
    attempts: fields.attempts,
  };
  if (fields.output !== undefined) result.output = fields.output;
  if (fields.error !== undefined) result.error = Object.freeze(fields.error);
  return Object.freeze(result);
}

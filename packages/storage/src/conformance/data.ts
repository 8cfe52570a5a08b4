import type { Job, JsonValue, Result } from "@pyrexis/models";

let sequence = 0;
const RUN = Math.floor(Math.random() * 36 ** 4)
  .toString(36)
  .padStart(4, "0");

/** Base of the `createdAt` values {@link makeJob} hands out (2023-11-14T22:13:20Z). */
export const BASE_TIME = 1_700_000_000_000;

/**
 * A valid `pending` job record (it passes `parseJob`). Each call gets a new id and a later
 * `createdAt` than the previous call, so jobs made in sequence list in that order.
 *
 * @example
 * ```ts
 * const job = makeJob({ status: "running", attempts: 1, payload: { url: "https://…" } });
 * ```
 */
export function makeJob(overrides: Partial<Job> = {}): Job {
  const n = ++sequence;
  const createdAt = overrides.createdAt ?? BASE_TIME + n;
  const job: Job = {
    id: `job-${RUN}-${String(n).padStart(6, "0")}`,
    handler: "echo",
    payload: { n },
    priority: 5,
    mode: "async",
    maxAttempts: 3,
    backoff: { baseMs: 1000, maxMs: 300_000, jitter: 0 },
    status: "pending",
    attempts: 0,
    createdAt,
    updatedAt: createdAt,
    runAt: createdAt,
    version: 0,
    ...overrides,
  };
  return job;
}

/**
 * The next version of `job`: the given fields changed, `version + 1`, `updatedAt` later.
 * Use it with `{ job: bump(j, { status: "running" }), expectedVersion: j.version }`.
 */
export function bump(job: Job, changes: Partial<Job> = {}): Job {
  return { ...job, updatedAt: job.updatedAt + 1, ...changes, version: changes.version ?? job.version + 1 };
}

/**
 * A valid result record for `jobId` (it passes `parseResult`): `completed` with a small output
 * unless overridden.
 */
export function makeResult(jobId: string, overrides: Partial<Result> = {}): Result {
  const output: JsonValue = { ok: true };
  return {
    jobId,
    status: "completed",
    output,
    startedAt: BASE_TIME,
    endedAt: BASE_TIME + 25,
    durationMs: 25,
    attempts: 1,
    ...overrides,
  };
}

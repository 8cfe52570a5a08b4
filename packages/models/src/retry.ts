import { nonRetryableCode } from "./errors.js";
import { serializeError } from "./error-serialization.js";
import { MAX_ATTEMPT_ERRORS, type AttemptError, type Backoff, type Job, type SerializedError } from "./schemas.js";
import { transition } from "./state-machine.js";

/** A source of uniform random numbers in [0, 1); injected so jitter is testable. */
export type RandomSource = () => number;

/**
 * The delay before the next attempt after `attempts` attempts have failed:
 * `min(maxMs, baseMs · 2^attempts)`, then reduced by a random share of up to `jitter`.
 * With the defaults: 2 s, 4 s, 8 s … capped at `maxMs`.
 */
export function backoffDelay(backoff: Backoff, attempts: number, random: RandomSource = Math.random): number {
  // baseMs 0 times 2^attempts overflowing to Infinity is NaN; a zero base means no delay.
  const raw = backoff.baseMs <= 0 ? 0 : Math.min(backoff.maxMs, backoff.baseMs * 2 ** attempts);
  if (backoff.jitter <= 0) return raw;
  // Rounding up keeps the result inside [raw · (1 − jitter), raw]: Math.round could fall below.
  return Math.ceil(raw * (1 - backoff.jitter * random()));
}

/** What {@link recordFailure} decided. */
export interface FailureOutcome {
  /** The job in `retrying` (with `runAt` set) or `failed`. */
  job: Job;
  /** True when the job will run again. */
  willRetry: boolean;
  /** The backoff delay in ms (0 when not retrying). */
  delayMs: number;
  /** The error as stored in `lastError`. */
  error: SerializedError;
}

/**
 * Applies a failed attempt to a `running` job. `attempts` already counts the
 * failed attempt (it is counted when the attempt starts). The job retries when
 * `attempts < maxAttempts` and the error is not non-retryable (`isNonRetryable`); otherwise it fails.
 * Pure: time and randomness are arguments.
 */
export function recordFailure(job: Job, error: unknown, now: number, random: RandomSource = Math.random): FailureOutcome {
  const serialized = serializeError(error);
  // Recorded with the code that explains why the job was not retried (a wrapped NonRetryableError
  // inside a pipeline stage error: NON_RETRYABLE; an unknown handler keeps HANDLER_NOT_FOUND), as
  // it is when it crosses a worker boundary.
  const stopCode = nonRetryableCode(error);
  if (stopCode !== undefined) serialized.code = stopCode;
  const attemptErrors = withAttemptError(job.attemptErrors, { attempt: Math.max(1, job.attempts), at: now, error: serialized });
  if (stopCode === undefined && job.attempts < job.maxAttempts) {
    const delayMs = backoffDelay(job.backoff, job.attempts, random);
    return {
      job: transition(job, "retrying", now, { lastError: serialized, runAt: now + delayMs, attemptErrors }),
      willRetry: true,
      delayMs,
      error: serialized,
    };
  }
  return { job: transition(job, "failed", now, { lastError: serialized, attemptErrors }), willRetry: false, delayMs: 0, error: serialized };
}

/** `history` with `entry` appended, keeping the last {@link MAX_ATTEMPT_ERRORS} (a new array: records are immutable). */
function withAttemptError(history: readonly AttemptError[] | undefined, entry: AttemptError): AttemptError[] {
  if (history === undefined) return [entry];
  const kept = history.length >= MAX_ATTEMPT_ERRORS ? history.slice(history.length - MAX_ATTEMPT_ERRORS + 1) : history.slice();
  kept.push(entry);
  return kept;
}

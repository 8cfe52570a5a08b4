import {
  findJsonProblem,
  recordFailure,
  serializeError,
  transition,
  ValidationError,
  type Job,
  type JsonValue,
  type RandomSource,
  type SerializedError,
} from "@pyrexis/models";

/** Why a running attempt was aborted; `lost`: the store's record changed elsewhere (or the lease could not be kept). */
export type AbortKind = "cancel" | "timeout" | "shutdown" | "lost";

/** What became of an attempt whose handler is done. */
export interface AttemptEnd {
  /** The `running` record of the attempt. */
  readonly job: Job;
  /** True when the handler returned (`value` is its output); false when it threw (`value` is the error). */
  readonly ok: boolean;
  readonly value: unknown;
  /** Why the attempt was aborted first, if it was. */
  readonly abortKind: AbortKind | undefined;
  /** The reason of that abort. */
  readonly abortReason: unknown;
  /** `cancelJob` asked for it (wins over a timeout that came first). */
  readonly cancelRequested: boolean;
  readonly now: number;
  readonly random: RandomSource;
}

/**
 * The engine's decision about one ended attempt:
 * - `complete`: the handler returned a JSON output and nothing aborted it;
 * - `retry` / `fail`: it failed (threw, timed out, returned non-JSON) with attempts left or not;
 * - `cancel`: it was cancelled (also when a timeout came first);
 * - `requeue`: a shutdown took it away: back to `retrying`, the attempt not counted;
 * - `lost`: another writer owns the job now: the store's record wins, write nothing.
 */
export type AttemptDecision =
  | { readonly kind: "complete"; readonly job: Job; readonly output: JsonValue }
  | { readonly kind: "retry"; readonly job: Job; readonly error: SerializedError; readonly delayMs: number }
  | { readonly kind: "fail"; readonly job: Job; readonly error: SerializedError }
  | { readonly kind: "cancel"; readonly job: Job; readonly error: SerializedError }
  | { readonly kind: "requeue"; readonly job: Job }
  | { readonly kind: "lost" };

/**
 * Decides what becomes of a job after an attempt. Pure: time and randomness are inputs, nothing
 * is written. Throws `IllegalTransitionError` only for a job that is not `running` (a bug).
 */
export function decideAttempt(end: AttemptEnd): AttemptDecision {
  const { job, now } = end;
  // Another writer wins over everything; a cancel request over a timeout that came first.
  const kind: AbortKind | undefined = end.abortKind === "lost" ? "lost" : end.cancelRequested ? "cancel" : end.abortKind;
  if (kind === "lost") return { kind: "lost" };
  let error: unknown;
  if (end.ok && kind === undefined) {
    // A handler that returns nothing produced `null` (JSON has no undefined).
    const output = end.value === undefined ? null : end.value;
    const problem = findJsonProblem(output);
    if (!problem) return { kind: "complete", job: transition(job, "completed", now), output: output as JsonValue };
    error = new ValidationError(
      `handler "${job.handler}" returned a non-JSON output at ${problem.path.join(".") || "(root)"}: ${problem.message}`,
    );
  } else {
    error = kind !== undefined ? end.abortReason : end.value;
  }
  if (kind === "cancel") {
    const serialized = serializeError(error);
    return { kind: "cancel", job: transition(job, "cancelled", now), error: serialized };
  }
  if (kind === "shutdown") {
    const back = transition(job, "retrying", now, {
      attempts: Math.max(0, job.attempts - 1),
      runAt: now,
      lastError: serializeError(error),
    });
    return { kind: "requeue", job: back };
  }
  const outcome = recordFailure(job, error, now, end.random);
  return outcome.willRetry
    ? { kind: "retry", job: outcome.job, error: outcome.error, delayMs: outcome.delayMs }
    : { kind: "fail", job: outcome.job, error: outcome.error };
}

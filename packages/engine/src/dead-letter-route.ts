// Dead-letter routing (`deadLetter` option): a job that ends `failed` gets a follow-up job for a
// handler of the user's choice (alert someone, park the input, open a ticket), written in the
// same store commit as the failure when the engine decides it, so a crash cannot separate them.
// Its id, `<failed id>.dead-letter`, makes every route idempotent: a failure the store decides
// (an expired lease on the last attempt, found by a reclaim) is routed afterwards by an
// insert-if-absent, and a repeat changes nothing. Jobs of the dead-letter handler itself are never
// routed (no loops).
import { createJob, MAX_PRIORITY, MIN_PRIORITY, parseJobSpec, ValidationError, type Job, type JsonValue } from "@pyrexis/models";

/** Where failed jobs are routed: the engine option `deadLetter`. */
export interface DeadLetterRoute {
  /** The handler that receives a job per failed job (its payload: {@link DeadLetterPayload}). */
  readonly handler: string;
  /** Its mode (default `"async"`). */
  readonly mode?: string | undefined;
  /** Its priority 0–10 (default: the failed job's). */
  readonly priority?: number | undefined;
  /** Its attempts (default 3). */
  readonly maxAttempts?: number | undefined;
}

/** The payload of a dead-letter job: the failed job's identity, input and why it failed. */
export interface DeadLetterPayload {
  readonly failedJob: {
    readonly id: string;
    readonly handler: string;
    readonly mode: string;
    readonly attempts: number;
    readonly payload: JsonValue;
  };
  readonly error: { readonly name: string; readonly message: string; readonly code?: string } | null;
}

/** The id suffix of a dead-letter job. */
export const DEAD_LETTER_SUFFIX = ".dead-letter";
const MAX_ID_LENGTH = 256;

function invalid(field: string, message: string): ValidationError {
  return new ValidationError(`invalid engine option: deadLetter.${field} ${message}`, [{ path: ["deadLetter", field], message }]);
}

/** Checks the `deadLetter` option; `ValidationError` naming the field. */
export function checkDeadLetterRoute(route: unknown): DeadLetterRoute | undefined {
  if (route === undefined) return undefined;
  if (typeof route !== "object" || route === null || Array.isArray(route)) {
    throw new ValidationError("invalid engine option: deadLetter must be an object { handler, mode?, priority?, maxAttempts? }");
  }
  const r = route as Record<string, unknown>;
  for (const key of Object.keys(r))
    if (!["handler", "mode", "priority", "maxAttempts"].includes(key)) throw invalid(key, "is not an option");
  if (typeof r.handler !== "string" || r.handler.length === 0 || r.handler.length > 256)
    throw invalid("handler", "must be a non-empty string");
  if (r.mode !== undefined && (typeof r.mode !== "string" || r.mode.length === 0)) throw invalid("mode", "must be a non-empty string");
  const int = (v: unknown, min: number, max: number): boolean => typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
  if (r.priority !== undefined && !int(r.priority, MIN_PRIORITY, MAX_PRIORITY))
    throw invalid("priority", `must be an integer ${MIN_PRIORITY}–${MAX_PRIORITY}`);
  if (r.maxAttempts !== undefined && !int(r.maxAttempts, 1, 1000)) throw invalid("maxAttempts", "must be an integer 1–1000");
  return r as unknown as DeadLetterRoute;
}

/**
 * The dead-letter job of `failed` (status `failed`), or `undefined` when it is not routed: it is
 * a job of the dead-letter handler itself, or its dead-letter id would exceed the id limit.
 */
export function deadLetterJobOf(route: DeadLetterRoute, failed: Job, now: number): Job | undefined {
  if (failed.handler === route.handler) return undefined;
  const id = `${failed.id}${DEAD_LETTER_SUFFIX}`;
  if (id.length > MAX_ID_LENGTH) return undefined;
  const e = failed.lastError;
  const payload: DeadLetterPayload = {
    failedJob: { id: failed.id, handler: failed.handler, mode: failed.mode, attempts: failed.attempts, payload: failed.payload },
    error: e === undefined ? null : { name: e.name, message: e.message, ...(e.code === undefined ? {} : { code: e.code }) },
  };
  return createJob(
    parseJobSpec({
      id,
      handler: route.handler,
      payload: payload as unknown as JsonValue,
      mode: route.mode ?? "async",
      priority: route.priority ?? failed.priority,
      ...(route.maxAttempts === undefined ? {} : { maxAttempts: route.maxAttempts }),
    }),
    now,
  );
}

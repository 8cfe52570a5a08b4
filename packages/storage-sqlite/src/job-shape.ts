import { JOB_STATUSES, MAX_PRIORITY, MIN_PRIORITY } from "@pyrexis/models";

const STATUSES: ReadonlySet<string> = new Set(JOB_STATUSES);
const KEYS: ReadonlySet<string> = new Set([
  "id",
  "handler",
  "payload",
  "priority",
  "mode",
  "maxAttempts",
  "backoff",
  "timeoutMs",
  "status",
  "attempts",
  "lastError",
  "createdAt",
  "updatedAt",
  "runAt",
  "version",
  "traceContext",
  "dependsOn",
  "attemptErrors",
  "limits",
  "group",
]);

const isInt = (v: unknown, min: number): boolean => typeof v === "number" && Number.isSafeInteger(v) && v >= min;
const isText = (v: unknown): boolean => typeof v === "string" && v.length > 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isLimits = (v: unknown): boolean =>
  Array.isArray(v) && v.length > 0 && v.every((l) => isObject(l) && isText(l.key) && isInt(l.units, 1));

function isAttemptError(v: unknown): boolean {
  return (
    isObject(v) &&
    isInt(v.attempt, 1) &&
    isInt(v.at, 0) &&
    isObject(v.error) &&
    typeof v.error.name === "string" &&
    typeof v.error.message === "string"
  );
}

/**
 * A cheap structural check of a value that came out of `JSON.parse`: true when it has the shape
 * of a `Job` (field types, status, integer bounds, no unknown keys). It skips what JSON already
 * guarantees (the payload is JSON) and the finer limits of the schema (string lengths, backoff
 * ranges), so it is several times faster than zod. Used by `readValidation: "shape"`.
 */
export function looksLikeJob(value: unknown): boolean {
  if (!isObject(value)) return false;
  for (const key in value) if (!KEYS.has(key)) return false;
  const { backoff, lastError, traceContext, limits, group } = value;
  return (
    isText(value.id) &&
    isText(value.handler) &&
    isText(value.mode) &&
    "payload" in value &&
    isInt(value.priority, MIN_PRIORITY) &&
    (value.priority as number) <= MAX_PRIORITY &&
    isInt(value.maxAttempts, 1) &&
    typeof value.status === "string" &&
    STATUSES.has(value.status) &&
    isInt(value.attempts, 0) &&
    isInt(value.createdAt, 0) &&
    isInt(value.updatedAt, 0) &&
    isInt(value.runAt, 0) &&
    isInt(value.version, 0) &&
    (value.timeoutMs === undefined || isInt(value.timeoutMs, 1)) &&
    isObject(backoff) &&
    typeof backoff.baseMs === "number" &&
    typeof backoff.maxMs === "number" &&
    typeof backoff.jitter === "number" &&
    (lastError === undefined || (isObject(lastError) && typeof lastError.name === "string" && typeof lastError.message === "string")) &&
    (traceContext === undefined || (isObject(traceContext) && typeof traceContext.traceparent === "string")) &&
    (value.dependsOn === undefined || (Array.isArray(value.dependsOn) && value.dependsOn.every(isText))) &&
    (value.attemptErrors === undefined || (Array.isArray(value.attemptErrors) && value.attemptErrors.every(isAttemptError))) &&
    (limits === undefined || isLimits(limits)) &&
    (group === undefined || isText(group))
  );
}

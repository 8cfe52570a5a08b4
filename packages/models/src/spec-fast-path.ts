import { findJsonProblem, type JsonValue } from "./json.js";
import {
  DEFAULT_BACKOFF,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PRIORITY,
  MAX_JOB_LIMITS,
  MAX_LIMIT_UNITS,
  MAX_PRIORITY,
  MIN_PRIORITY,
  type JobLimit,
  type JobSpec,
} from "./schemas.js";

// The common job spec ({ handler, payload } plus a few scalar options) checked by hand. zod's
// parse of such a spec cost ~0.8 µs and ~1.9 KB of garbage per job on the engine's submit path;
// this check is a few property reads. It only ever *accepts*: anything it does not recognise as
// valid (another key, a backoff, a runAt, any out-of-range value) returns `undefined`, and the
// zod schema then parses the spec and words the error. Its output equals the schema's output,
// key for key (a property test checks this against `JobSpecSchema`).

const MAX_INT32 = 2_147_483_647;
const MAX_ATTEMPTS_LIMIT = 1000;
const FAST_KEYS: ReadonlySet<string> = new Set([
  "id",
  "handler",
  "payload",
  "priority",
  "mode",
  "maxAttempts",
  "backoff",
  "timeoutMs",
  "runAt",
  "delayMs",
  "limits",
  "group",
]);
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

function intIn(v: unknown, min: number, max: number): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max;
}

function stringOf(v: unknown, max: number): v is string {
  return typeof v === "string" && v.length >= 1 && v.length <= max;
}

function nameOf(v: unknown): v is string {
  return stringOf(v, 128) && !CONTROL_CHARACTER.test(v);
}

/** The schema's output for plain, valid `limits` (new objects, weight 1 by default), else `undefined`. */
function fastLimits(v: unknown): JobLimit[] | undefined {
  if (!Array.isArray(v) || v.length < 1 || v.length > MAX_JOB_LIMITS) return undefined;
  // One limit is the common case: an array literal of one (pushing onto `[]` reserves 17 slots).
  if (v.length === 1) {
    const only = fastLimit(v[0]);
    return only === undefined ? undefined : [only];
  }
  const out: JobLimit[] = [];
  for (const l of v as unknown[]) {
    const limit = fastLimit(l);
    if (limit === undefined) return undefined;
    for (const o of out) if (o.key === limit.key) return undefined;
    out.push(limit);
  }
  return out;
}

/** One entry of a job's `limits` with its default weight, or `undefined` to let the schema decide. */
function fastLimit(l: unknown): JobLimit | undefined {
  if (typeof l !== "object" || l === null || Object.getPrototypeOf(l) !== Object.prototype) return undefined;
  for (const key in l) if (key !== "key" && key !== "units") return undefined;
  const { key, units } = l as Record<string, unknown>;
  if (!nameOf(key) || (units !== undefined && !intIn(units, 1, MAX_LIMIT_UNITS))) return undefined;
  return { key, units: units ?? 1 };
}

/** The spec `JobSpecSchema` would produce from `input`, or `undefined` to let the schema decide. */
export function fastJobSpec(input: unknown): JobSpec | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const proto: unknown = Object.getPrototypeOf(input);
  if (proto !== Object.prototype && proto !== null) return undefined;
  for (const key in input) if (!FAST_KEYS.has(key)) return undefined;
  const s = input as Record<string, unknown>;
  const { id, handler, payload, priority, mode, maxAttempts, timeoutMs, delayMs, group } = s;
  if (s.backoff !== undefined || s.runAt !== undefined) return undefined;
  if (!stringOf(handler, 256)) return undefined;
  if (id !== undefined && (!stringOf(id, 256) || CONTROL_CHARACTER.test(id))) return undefined;
  if (priority !== undefined && !intIn(priority, MIN_PRIORITY, MAX_PRIORITY)) return undefined;
  if (mode !== undefined && !stringOf(mode, 64)) return undefined;
  if (maxAttempts !== undefined && !intIn(maxAttempts, 1, MAX_ATTEMPTS_LIMIT)) return undefined;
  if (timeoutMs !== undefined && !intIn(timeoutMs, 1, MAX_INT32)) return undefined;
  if (delayMs !== undefined && !intIn(delayMs, 0, MAX_INT32)) return undefined;
  if (group !== undefined && !nameOf(group)) return undefined;
  const limits = s.limits === undefined ? undefined : fastLimits(s.limits);
  if (s.limits !== undefined && limits === undefined) return undefined;
  // findJsonProblem answers primitives without allocating.
  if (payload !== undefined && findJsonProblem(payload) !== undefined) return undefined;
  // Same keys, in the same order, as the schema's output: defaults always, optional keys when given.
  const spec: JobSpec = "id" in s ? ({ id } as JobSpec) : ({} as JobSpec);
  spec.handler = handler;
  spec.payload = payload === undefined ? null : (payload as JsonValue);
  spec.priority = priority ?? DEFAULT_PRIORITY;
  spec.mode = mode ?? "async";
  spec.maxAttempts = maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  spec.backoff = DEFAULT_BACKOFF;
  if ("timeoutMs" in s) spec.timeoutMs = timeoutMs;
  if ("runAt" in s) spec.runAt = undefined;
  if ("delayMs" in s) spec.delayMs = delayMs;
  if ("limits" in s) spec.limits = limits;
  if ("group" in s) spec.group = group;
  return spec;
}

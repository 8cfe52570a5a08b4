// The jobs list's query string, parsed into a store query: every parameter is checked, unknown
// ones are refused, and each refusal names the parameter (400 bad_request with `details.param`).
import { JOB_STATUSES, MAX_PRIORITY, MIN_PRIORITY, type JobStatus } from "@pyrexis/models";
import type { QueryJobsQuery } from "@pyrexis/storage";
import { HttpError } from "./errors.js";

/** Largest page the API hands out (the stores allow more; a page is for a person to read). */
export const MAX_PAGE_SIZE = 500;
/** Page size without `limit`. */
export const DEFAULT_PAGE_SIZE = 50;
/** Longest cursor accepted. */
export const MAX_CURSOR_LENGTH = 4096;

const PARAMS = [
  "status",
  "handler",
  "mode",
  "errorCode",
  "minPriority",
  "maxPriority",
  "createdFrom",
  "createdTo",
  "limit",
  "cursor",
  "order",
] as const;
const KNOWN: ReadonlySet<string> = new Set(PARAMS);
const STATUSES: ReadonlySet<string> = new Set(JOB_STATUSES);

function bad(param: string, message: string): HttpError {
  return new HttpError("bad_request", `${param}: ${message}`, { param });
}

function list(params: URLSearchParams, name: string): string[] | undefined {
  const values = params
    .getAll(name)
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
  if (params.has(name) && values.length === 0) throw bad(name, "must not be empty");
  if (values.length > 100) throw bad(name, "at most 100 values");
  for (const v of values) if (v.length > 256) throw bad(name, "a value is longer than 256 characters");
  return values.length === 0 ? undefined : values;
}

function single(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name);
  if (all.length > 1) throw bad(name, "given more than once");
  return all[0];
}

function integer(params: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = single(params, name);
  if (raw === undefined || raw === "") return undefined;
  if (!/^-?\d+$/.test(raw)) throw bad(name, `must be an integer ${min}–${max}, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw bad(name, `must be an integer ${min}–${max}, got ${raw}`);
  return n;
}

/** Epoch ms, from digits or an ISO-8601 date-time (with Z or an offset). */
function time(params: URLSearchParams, name: string): number | undefined {
  const raw = single(params, name);
  if (raw === undefined || raw === "") return undefined;
  if (/^\d{1,15}$/.test(raw)) return Number(raw);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(raw)) {
    const ms = Date.parse(raw);
    if (Number.isFinite(ms)) return ms;
  }
  throw bad(name, `must be epoch ms or an ISO-8601 date-time with Z or an offset, got ${JSON.stringify(raw)}`);
}

/**
 * Parses `GET /api/jobs`'s parameters: `status`, `handler`, `mode`, `errorCode` (the last
 * error's code, or its name; comma-separated or repeated), `minPriority`, `maxPriority`, `createdFrom`, `createdTo` (epoch ms or ISO-8601),
 * `limit` (1–{@link MAX_PAGE_SIZE}), `cursor`, `order` (`desc`, the default, or `asc`).
 * Throws {@link HttpError} `bad_request` naming the parameter.
 */
export function parseJobsParams(params: URLSearchParams): QueryJobsQuery {
  for (const key of params.keys()) if (!KNOWN.has(key)) throw bad(key, `unknown parameter (known: ${PARAMS.join(", ")})`);
  const status = list(params, "status");
  for (const s of status ?? [])
    if (!STATUSES.has(s)) throw bad("status", `unknown status ${JSON.stringify(s)} (known: ${JOB_STATUSES.join(", ")})`);
  const order = single(params, "order") ?? "desc";
  if (order !== "asc" && order !== "desc") throw bad("order", `must be "asc" or "desc", got ${JSON.stringify(order)}`);
  const cursor = single(params, "cursor");
  if (cursor !== undefined && (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH))
    throw bad("cursor", "is not a cursor this API returned");
  const minPriority = integer(params, "minPriority", MIN_PRIORITY, MAX_PRIORITY);
  const maxPriority = integer(params, "maxPriority", MIN_PRIORITY, MAX_PRIORITY);
  if (minPriority !== undefined && maxPriority !== undefined && minPriority > maxPriority) throw bad("minPriority", "is above maxPriority");
  const createdFrom = time(params, "createdFrom");
  const createdTo = time(params, "createdTo");
  const query: { -readonly [K in keyof QueryJobsQuery]: QueryJobsQuery[K] } = {
    limit: integer(params, "limit", 1, MAX_PAGE_SIZE) ?? DEFAULT_PAGE_SIZE,
    order,
  };
  if (status !== undefined) query.status = status as JobStatus[];
  const handler = list(params, "handler");
  if (handler !== undefined) query.handler = handler;
  const mode = list(params, "mode");
  if (mode !== undefined) query.mode = mode;
  const errorCode = list(params, "errorCode");
  if (errorCode !== undefined) query.errorCode = errorCode;
  if (minPriority !== undefined) query.minPriority = minPriority;
  if (maxPriority !== undefined) query.maxPriority = maxPriority;
  if (createdFrom !== undefined) query.createdFrom = createdFrom;
  if (createdTo !== undefined) query.createdTo = createdTo;
  if (cursor !== undefined) query.cursor = cursor;
  return query;
}

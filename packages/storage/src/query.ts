import { MAX_PRIORITY, MIN_PRIORITY, ValidationError, type Job, type JobStatus } from "@pyrexis/models";
import type { JobStore, ListJobsPage } from "./job-store.js";
import { normalizeListQuery, type NormalizedListQuery } from "./store-kit.js";

// The queryJobs capability: listing with the filters an operator needs (handler, mode, priority,
// creation time) beside status. `listJobs` stays the contract every store keeps; a store that can
// filter on more fields declares `capabilities.queryJobs` and implements {@link QueryJobsMethods}.
// The checks (and the in-memory predicate) live here so every store gives the same errors.

/** Most values one `handler` or `mode` filter may list. */
export const MAX_QUERY_VALUES = 100;

/**
 * Query of {@link QueryJobsMethods.queryJobs}: every filter is optional and all given ones must
 * match. Ordering, `limit` and `cursor` are exactly those of `listJobs` (keyset by
 * `(createdAt, id)`); a cursor is valid only for the same filters. Any malformed field rejects
 * with `ValidationError`.
 */
export interface QueryJobsQuery {
  /** Only jobs in this status (or these statuses; a non-empty array). */
  readonly status?: JobStatus | readonly JobStatus[] | undefined;
  /** Only jobs of this handler (or these; a non-empty array of at most {@link MAX_QUERY_VALUES} non-empty strings). */
  readonly handler?: string | readonly string[] | undefined;
  /** Only jobs of this execution mode (or these), as for `handler`. */
  readonly mode?: string | readonly string[] | undefined;
  /** Only jobs with priority ≥ this (an integer 0–10). */
  readonly minPriority?: number | undefined;
  /** Only jobs with priority ≤ this (an integer 0–10). */
  readonly maxPriority?: number | undefined;
  /** Only jobs created at or after this epoch ms (inclusive). */
  readonly createdFrom?: number | undefined;
  /** Only jobs created before this epoch ms (exclusive). */
  readonly createdTo?: number | undefined;
  /**
   * Only jobs whose last error has this code (or one of these; as for `handler`); an error
   * without a code matches by its `name` (`"TypeError"`). With `status: "failed"` this is the
   * dead-letter view by cause (`TIMEOUT`, `WORKER_CRASHED`, a handler's own code).
   */
  readonly errorCode?: string | readonly string[] | undefined;
  /** Page size, an integer 1–10000. Default 100. */
  readonly limit?: number | undefined;
  /** Opaque cursor from the previous page of the same query. */
  readonly cursor?: string | undefined;
  /** `"asc"` (oldest first, default) or `"desc"` (newest first), by `(createdAt, id)`. */
  readonly order?: "asc" | "desc" | undefined;
}

/**
 * The optional method of a store that declares `capabilities.queryJobs`.
 *
 * Rules (checked by `describeQueryJobs` of `@pyrexis/storage/conformance`): the same order,
 * paging guarantees and cursor rules as `listJobs`; a job is listed exactly when it matches
 * every given filter ({@link matchesJobsQuery} is the definition); `ValidationError` for a
 * malformed query ({@link normalizeJobsQuery} is the definition).
 *
 * @example
 * ```ts
 * if (hasQueryJobs(store)) {
 *   const page = await store.queryJobs({ status: "failed", handler: "email", createdFrom: Date.now() - 3_600_000 });
 * }
 * ```
 */
export interface QueryJobsMethods {
  /** One page of the jobs matching every given filter, in `(createdAt, id)` order. */
  queryJobs(query?: QueryJobsQuery): Promise<ListJobsPage>;
}

/** A {@link JobStore} with the `queryJobs` capability. */
export type QueryJobStore = JobStore & QueryJobsMethods;

/** True when `store` declares `capabilities.queryJobs` and has the method. */
export function hasQueryJobs(store: JobStore): store is QueryJobStore {
  return store.capabilities.queryJobs === true && typeof (store as Partial<QueryJobsMethods>).queryJobs === "function";
}

/** A {@link QueryJobsQuery} with defaults applied and every field checked. */
export interface NormalizedJobsQuery extends NormalizedListQuery {
  readonly handlers: readonly string[] | undefined;
  readonly modes: readonly string[] | undefined;
  readonly minPriority: number | undefined;
  readonly maxPriority: number | undefined;
  readonly createdFrom: number | undefined;
  readonly createdTo: number | undefined;
  readonly errorCodes: readonly string[] | undefined;
}

function invalid(message: string, field: string): ValidationError {
  return new ValidationError(message, [{ path: [field], message }]);
}

function stringList(value: unknown, field: string): readonly string[] | undefined {
  if (value === undefined) return undefined;
  const list: readonly unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw invalid(`queryJobs ${field} filter must not be an empty array`, field);
  if (list.length > MAX_QUERY_VALUES) throw invalid(`queryJobs ${field} filter lists more than ${MAX_QUERY_VALUES} values`, field);
  for (const v of list) {
    if (typeof v !== "string" || v.length === 0) throw invalid(`queryJobs ${field} filter values must be non-empty strings`, field);
  }
  return [...new Set(list as string[])];
}

function priorityBound(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < MIN_PRIORITY || value > MAX_PRIORITY) {
    throw invalid(`queryJobs ${field} must be an integer ${MIN_PRIORITY}–${MAX_PRIORITY}, got ${JSON.stringify(value)}`, field);
  }
  return value;
}

function timeBound(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value))
    throw invalid(`queryJobs ${field} must be a finite epoch ms, got ${JSON.stringify(value)}`, field);
  return value;
}

const QUERY_KEYS: ReadonlySet<string> = new Set([
  "status",
  "handler",
  "mode",
  "minPriority",
  "maxPriority",
  "createdFrom",
  "createdTo",
  "errorCode",
  "limit",
  "cursor",
  "order",
]);

/**
 * Validates a `queryJobs` query and applies defaults: the `listJobs` checks (status, limit,
 * order, cursor) plus the filters of {@link QueryJobsQuery}. Throws `ValidationError` for an
 * unknown key, a malformed filter, or `minPriority > maxPriority`.
 */
export function normalizeJobsQuery(query: unknown): NormalizedJobsQuery {
  if (query !== undefined && (typeof query !== "object" || query === null || Array.isArray(query))) {
    throw invalid("queryJobs query must be an object", "query");
  }
  const q = (query ?? {}) as QueryJobsQuery;
  for (const key of Object.keys(q)) if (!QUERY_KEYS.has(key)) throw invalid(`queryJobs: unknown filter "${key}"`, key);
  const base = normalizeListQuery({ status: q.status, limit: q.limit, cursor: q.cursor, order: q.order });
  const minPriority = priorityBound(q.minPriority, "minPriority");
  const maxPriority = priorityBound(q.maxPriority, "maxPriority");
  if (minPriority !== undefined && maxPriority !== undefined && minPriority > maxPriority) {
    throw invalid(`queryJobs minPriority ${minPriority} is above maxPriority ${maxPriority}`, "minPriority");
  }
  return {
    ...base,
    handlers: stringList(q.handler, "handler"),
    modes: stringList(q.mode, "mode"),
    minPriority,
    maxPriority,
    createdFrom: timeBound(q.createdFrom, "createdFrom"),
    createdTo: timeBound(q.createdTo, "createdTo"),
    errorCodes: stringList(q.errorCode, "errorCode"),
  };
}

/** The code a job's last error is filtered by: its `code`, else its `name`; `undefined` without an error. */
export function errorCodeOf(job: Job): string | undefined {
  return job.lastError === undefined ? undefined : (job.lastError.code ?? job.lastError.name);
}

/** True when `job` matches every filter of `query` (the definition every store's `queryJobs` follows). */
export function matchesJobsQuery(job: Job, query: NormalizedJobsQuery): boolean {
  if (query.statuses !== undefined && !query.statuses.has(job.status)) return false;
  if (query.handlers !== undefined && !query.handlers.includes(job.handler)) return false;
  if (query.modes !== undefined && !query.modes.includes(job.mode)) return false;
  if (query.minPriority !== undefined && job.priority < query.minPriority) return false;
  if (query.maxPriority !== undefined && job.priority > query.maxPriority) return false;
  if (query.createdFrom !== undefined && job.createdAt < query.createdFrom) return false;
  if (query.createdTo !== undefined && job.createdAt >= query.createdTo) return false;
  if (query.errorCodes !== undefined && !query.errorCodes.includes(errorCodeOf(job) ?? "")) return false;
  return true;
}

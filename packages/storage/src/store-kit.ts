import {
  DuplicateJobError,
  JOB_STATUSES,
  JobNotFoundError,
  ResultExistsError,
  StaleVersionError,
  ValidationError,
  type Job,
  type JobLimit,
  type JobStatus,
  type Result,
} from "@pyrexis/models";
import type { CommitBatch, JobUpdate, ListJobsQuery } from "./job-store.js";

// Helpers shared by MemoryJobStore and the example stores. Third-party stores may use them to
// give exactly the errors the contract (and the conformance suite) expects.

/** Smallest page size {@link ListJobsQuery.limit} accepts. */
export const MIN_LIST_LIMIT = 1;
/** Largest page size {@link ListJobsQuery.limit} accepts. */
export const MAX_LIST_LIMIT = 10_000;
/** Page size of a {@link ListJobsQuery} without `limit`. */
export const DEFAULT_LIST_LIMIT = 100;

const STATUS_SET: ReadonlySet<string> = new Set(JOB_STATUSES);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isVersion(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function invalid(message: string, path: (string | number)[]): ValidationError {
  return new ValidationError(message, [{ path, message }]);
}

/** Throws `ValidationError` unless `id` is a non-empty string. For `getJob`/`getResult` arguments. */
export function assertJobId(id: unknown, what = "job id"): asserts id is string {
  if (typeof id !== "string" || id.length === 0) {
    throw invalid(`${what} must be a non-empty string, got ${describe(id)}`, []);
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "string" ? JSON.stringify(v) : typeof v;
}

/** What {@link checkCommit} needs to know about a stored job. */
export interface StoredJobInfo extends ImmutableJobFields {
  readonly version: number;
}

/**
 * The fields of a job that no update may change: `createdAt` (the listing order depends on it),
 * `group` and `limits` (stores index a job's flow identity at insert, and a claim's holds are
 * released by the limits the job had when it was claimed). Absent when the job has none; a
 * {@link CommitView} must return them when the job has them (a job record itself will do).
 */
export interface ImmutableJobFields {
  readonly createdAt: number;
  readonly group?: string | undefined;
  readonly limits?: readonly JobLimit[] | undefined;
}

/**
 * What an update's `job` changes of the stored job's {@link ImmutableJobFields}, as the
 * message of the `ValidationError` the contract requires, or `undefined` when it changes none.
 * Limits compare by key and units, in order. Stores that check in SQL call it to explain a miss.
 */
export function immutableChange(stored: ImmutableJobFields, job: Job): string | undefined {
  if (stored.createdAt !== job.createdAt) {
    return `job ${job.id}: createdAt is immutable (stored ${stored.createdAt}, update has ${job.createdAt})`;
  }
  if (stored.group !== job.group) {
    return `job ${job.id}: group is immutable (stored ${describeFlow(stored.group)}, update has ${describeFlow(job.group)})`;
  }
  if (!sameLimits(stored.limits, job.limits)) {
    return `job ${job.id}: limits are immutable (stored ${describeFlow(stored.limits)}, update has ${describeFlow(job.limits)})`;
  }
  return undefined;
}

/**
 * A stored job's {@link ImmutableJobFields} for {@link immutableChange}, in a store that keeps
 * the record as JSON text beside `group` and `limits` columns (the limits as JSON): from the
 * record where it parses (it is authoritative; the columns index it), else from the columns.
 */
export function immutableFieldsOfRow(row: {
  readonly createdAt: number;
  readonly data: string;
  readonly group: string | null;
  readonly limits: string | null;
}): ImmutableJobFields {
  let record: unknown;
  try {
    record = JSON.parse(row.data);
  } catch {
    record = undefined;
  }
  if (isObject(record)) {
    return { createdAt: row.createdAt, group: record.group as string | undefined, limits: record.limits as JobLimit[] | undefined };
  }
  return {
    createdAt: row.createdAt,
    group: row.group ?? undefined,
    limits: row.limits === null ? undefined : (JSON.parse(row.limits) as JobLimit[]),
  };
}

// Either side may be malformed (an update is only shape-checked): anything but two equal arrays
// of limits is a change, never a TypeError.
function sameLimits(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x: unknown = a[i];
    const y: unknown = b[i];
    if (!isObject(x) || !isObject(y) || x.key !== y.key || x.units !== y.units) return false;
  }
  return true;
}

function describeFlow(v: unknown): string {
  return v === undefined ? "none" : JSON.stringify(v);
}

/**
 * A synchronous view of the current data, used by {@link checkCommit}. Stores that can read
 * synchronously inside their write transaction (in memory, a file, better-sqlite3) implement it
 * with a few lookups.
 */
export interface CommitView<S extends StoredJobInfo = StoredJobInfo> {
  /** The stored job's version and creation time, or `undefined` when there is no such job. */
  job(id: string): S | undefined;
  /** True when a result for `jobId` is stored. */
  hasResult(jobId: string): boolean;
  /**
   * Optional: true when a result is stored for the job of `stored` (a record {@link job}
   * returned during this check). A store that keeps a job and its result together answers the
   * result check of a job updated in the same batch from that record, without a second lookup.
   */
  storedHasResult?(stored: S): boolean;
}

/**
 * Checks the shape of a batch without looking at stored data; throws `ValidationError` for
 * anything a well-behaved caller never sends (non-object batch, non-array lists, an update whose
 * `job.version` is not greater than `expectedVersion`, an insert and an update — or two updates —
 * of the same id in one batch), and `DuplicateJobError` / `ResultExistsError` for an id repeated
 * inside the batch. Returns the batch typed as a {@link CommitBatch}.
 */
export function checkCommitShape(batch: unknown): CommitBatch {
  return checkShape(batch).batch;
}

/** The batch and the ids it inserts and updates (reused by {@link checkCommit}). */
interface ShapeChecked {
  readonly batch: CommitBatch;
  readonly inserted: ReadonlySet<string>;
  /** Updated id → its index in `batch.update`. */
  readonly updated: ReadonlyMap<string, number>;
}

// Index loops and error paths built only on error: these checks run on every commit of the
// engine's hot path (thousands of records per batch).
function checkShape(batch: unknown): ShapeChecked {
  if (!isObject(batch)) throw invalid(`commit batch must be an object, got ${describe(batch)}`, []);
  const insert = listOf(batch, "insert");
  const update = listOf(batch, "update");
  const results = listOf(batch, "results");
  const inserted = new Set<string>();
  for (let i = 0; i < insert.length; i++) {
    const job = insert[i];
    checkJobShape(job, "insert", i);
    if (inserted.has(job.id)) throw new DuplicateJobError(job.id);
    inserted.add(job.id);
  }
  const updated = new Map<string, number>();
  for (let i = 0; i < update.length; i++) {
    const u = update[i];
    if (!isObject(u)) throw invalid(`update #${i} must be an object { job, expectedVersion }`, ["update", i]);
    const job = u.job;
    checkJobShape(job, "update", i);
    const id = job.id;
    if (!isVersion(u.expectedVersion)) {
      throw invalid(`update #${i} (job ${id}): expectedVersion must be an integer >= 0`, ["update", i, "expectedVersion"]);
    }
    if (job.version <= u.expectedVersion) {
      throw invalid(`update #${i} (job ${id}): job.version ${job.version} must be greater than expectedVersion ${u.expectedVersion}`, [
        "update",
        i,
        "job",
        "version",
      ]);
    }
    if (inserted.has(id)) throw invalid(`job ${id} is both inserted and updated in one batch`, ["update", i, "job", "id"]);
    if (updated.has(id)) throw invalid(`job ${id} is updated twice in one batch; coalesce the updates`, ["update", i, "job", "id"]);
    updated.set(id, i);
  }
  const resulted = new Set<string>();
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    if (!isObject(r) || typeof r.jobId !== "string" || r.jobId.length === 0) {
      throw invalid(`result #${i} must be an object with a non-empty string jobId`, ["results", i]);
    }
    if (resulted.has(r.jobId)) throw new ResultExistsError(r.jobId);
    resulted.add(r.jobId);
  }
  return { batch: batch, inserted, updated };
}

const NONE: readonly unknown[] = [];

function listOf(batch: Record<string, unknown>, key: "insert" | "update" | "results"): readonly unknown[] {
  const list = batch[key];
  if (list === undefined) return NONE;
  if (!Array.isArray(list)) throw invalid(`commit batch.${key} must be an array when given, got ${describe(list)}`, [key]);
  return list as unknown[];
}

function checkJobShape(job: unknown, list: "insert" | "update", i: number): asserts job is Job {
  if (!isObject(job)) throw jobInvalid(list, i, undefined, (where) => `${where} must be a job object, got ${describe(job)}`);
  const id = job.id;
  if (typeof id !== "string" || id.length === 0) throw jobInvalid(list, i, "id", (where) => `${where}.id must be a non-empty string`);
  if (!isVersion(job.version)) throw jobInvalid(list, i, "version", (where) => `${where} (job ${id}): version must be an integer >= 0`);
  if (typeof job.status !== "string" || !STATUS_SET.has(job.status)) {
    const status = job.status;
    throw jobInvalid(list, i, "status", (where) => `${where} (job ${id}): unknown status ${describe(status)}`);
  }
  if (typeof job.createdAt !== "number" || !Number.isFinite(job.createdAt)) {
    throw jobInvalid(list, i, "createdAt", (where) => `${where} (job ${id}): createdAt must be a finite number`);
  }
}

/** The error of a malformed job in a batch; its path is built only here, on the error path. */
function jobInvalid(list: "insert" | "update", i: number, field: string | undefined, message: (where: string) => string): ValidationError {
  const path: (string | number)[] = list === "insert" ? ["insert", i] : ["update", i, "job"];
  return invalid(message(path.join(".")), field === undefined ? path : [...path, field]);
}

/** What {@link checkCommit} found: the batch, typed, and the stored records it looked up. */
export interface CheckedCommit<S extends StoredJobInfo = StoredJobInfo> {
  readonly batch: CommitBatch;
  /** What `view.job` returned for each update, in order (a store that keeps whole records need not look them up again). */
  readonly stored: readonly S[];
  /** For each result, the stored record of its job when that job is updated in the batch, else `undefined`; in order. */
  readonly resultJobs: readonly (S | undefined)[];
}

/**
 * Checks a whole batch against the current data, in the order the contract applies it:
 * shape ({@link checkCommitShape}), then inserts (`DuplicateJobError`), then updates
 * (`StaleVersionError`; `ValidationError` when an update changes `createdAt`, `group` or
 * `limits`: {@link immutableChange}), then results
 * (`ResultExistsError`, `JobNotFoundError`). Throws the first violation; when it returns, the
 * batch can be applied in full.
 */
export function checkCommit<S extends StoredJobInfo = StoredJobInfo>(batch: unknown, view: CommitView<S>): CheckedCommit<S> {
  const { batch: b, inserted, updated } = checkShape(batch);
  const { insert, update, results } = b;
  const stored: S[] = [];
  const resultJobs: (S | undefined)[] = [];
  if (insert) {
    for (let i = 0; i < insert.length; i++) {
      const id = (insert[i] as Job).id;
      if (view.job(id) !== undefined) throw new DuplicateJobError(id);
    }
  }
  if (update) {
    for (let i = 0; i < update.length; i++) {
      const { job, expectedVersion } = update[i] as JobUpdate;
      const current = view.job(job.id);
      if (current === undefined || current.version !== expectedVersion) {
        throw new StaleVersionError(job.id, expectedVersion, current?.version);
      }
      if (current.createdAt !== job.createdAt || current.group !== job.group || current.limits !== job.limits) {
        const change = immutableChange(current, job);
        if (change !== undefined) throw invalid(change, ["update", i, "job"]);
      }
      stored.push(current);
    }
  }
  if (results) {
    for (let i = 0; i < results.length; i++) {
      const jobId = (results[i] as Result).jobId;
      const u = updated.get(jobId);
      const job = u === undefined ? undefined : stored[u];
      const exists = job !== undefined && view.storedHasResult ? view.storedHasResult(job) : view.hasResult(jobId);
      if (exists) throw new ResultExistsError(jobId);
      resultJobs.push(job);
      // A job inserted or updated in this batch was found above (or is being created).
      if (u === undefined && !inserted.has(jobId) && view.job(jobId) === undefined) throw new JobNotFoundError(jobId);
    }
  }
  return { batch: b, stored, resultJobs };
}

/** A position in the `(createdAt, id)` order of {@link JobStore.listJobs}. */
export interface ListPosition {
  readonly createdAt: number;
  readonly id: string;
}

/** Compares two jobs (or positions) by `(createdAt, id)`, ids in UTF-16 code-unit order. */
export function compareListPosition(a: ListPosition, b: ListPosition): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A {@link ListJobsQuery} with defaults applied and every field checked. */
export interface NormalizedListQuery {
  /** Statuses to keep; `undefined` keeps every job. */
  readonly statuses: ReadonlySet<JobStatus> | undefined;
  readonly limit: number;
  readonly order: "asc" | "desc";
  /** Exclusive start position (from the cursor). */
  readonly after: ListPosition | undefined;
}

/**
 * Validates a `listJobs` query and applies defaults. Throws `ValidationError` for a non-object
 * query, a `limit` outside 1–10000 or not an integer, an unknown or empty `status` filter, an
 * unknown `order`, and a cursor that {@link decodeListCursor} rejects.
 */
export function normalizeListQuery(query: unknown): NormalizedListQuery {
  if (query === undefined) return { statuses: undefined, limit: DEFAULT_LIST_LIMIT, order: "asc", after: undefined };
  if (!isObject(query)) throw invalid(`listJobs query must be an object, got ${describe(query)}`, []);
  const q = query as ListJobsQuery;
  const limit: unknown = q.limit === undefined ? DEFAULT_LIST_LIMIT : q.limit;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < MIN_LIST_LIMIT || limit > MAX_LIST_LIMIT) {
    throw invalid(`listJobs limit must be an integer from ${MIN_LIST_LIMIT} to ${MAX_LIST_LIMIT}, got ${String(limit)}`, ["limit"]);
  }
  const order: unknown = q.order === undefined ? "asc" : q.order;
  if (order !== "asc" && order !== "desc") throw invalid(`listJobs order must be "asc" or "desc", got ${describe(order)}`, ["order"]);
  let statuses: Set<JobStatus> | undefined;
  if (q.status !== undefined) {
    const list: readonly unknown[] = Array.isArray(q.status) ? q.status : [q.status];
    if (list.length === 0) throw invalid("listJobs status filter must not be an empty array", ["status"]);
    statuses = new Set();
    for (const s of list) {
      if (typeof s !== "string" || !STATUS_SET.has(s)) {
        throw invalid(`listJobs status filter: unknown status ${describe(s)} (known: ${JOB_STATUSES.join(", ")})`, ["status"]);
      }
      statuses.add(s as JobStatus);
    }
  }
  const after = q.cursor === undefined ? undefined : decodeListCursor(q.cursor, order);
  return { statuses, limit, order, after };
}

const CURSOR_PREFIX = "c1.";

/**
 * Encodes the position after which the next page starts. The order is part of the cursor, so a
 * cursor of an ascending listing cannot be replayed on a descending one.
 */
export function encodeListCursor(last: ListPosition, order: "asc" | "desc"): string {
  return CURSOR_PREFIX + Buffer.from(JSON.stringify([order, last.createdAt, last.id]), "utf8").toString("base64url");
}

/** Decodes a cursor of {@link encodeListCursor}; throws `ValidationError` when it is malformed or of the other order. */
export function decodeListCursor(cursor: unknown, order: "asc" | "desc"): ListPosition {
  const bad = (why: string): ValidationError => invalid(`listJobs cursor is not valid: ${why}`, ["cursor"]);
  if (typeof cursor !== "string" || !cursor.startsWith(CURSOR_PREFIX)) throw bad("not a cursor returned by this store");
  const body = cursor.slice(CURSOR_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw bad("not a cursor returned by this store");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    throw bad("not a cursor returned by this store");
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw bad("not a cursor returned by this store");
  const [o, createdAt, id] = parsed as unknown[];
  if (typeof createdAt !== "number" || !Number.isFinite(createdAt) || typeof id !== "string")
    throw bad("not a cursor returned by this store");
  if (o !== order) throw bad(`it belongs to a listing in "${String(o)}" order, not "${order}"`);
  return { createdAt, id };
}

/** A count of zero for every job status (the shape `countByStatus` returns). */
export function emptyStatusCounts(): Record<JobStatus, number> {
  const counts = {} as Record<JobStatus, number>;
  for (const s of JOB_STATUSES) counts[s] = 0;
  return counts;
}

/**
 * Freezes `value` and everything reachable from it, and returns it. The root is always walked
 * (so a frozen record with unfrozen parts, like `createResult`'s output, is completed), but a
 * nested object that is already frozen is trusted to be deeply frozen and skipped: re-freezing a
 * job that shares its payload with an earlier version then costs O(1) for the payload.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  Object.freeze(value);
  if (Array.isArray(value)) for (const item of value as unknown[]) freezeNested(item);
  else for (const key in value) freezeNested((value as Record<string, unknown>)[key]);
  return value;
}

function freezeNested(value: unknown): void {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  if (Array.isArray(value)) for (const item of value as unknown[]) freezeNested(item);
  else for (const key in value) freezeNested((value as Record<string, unknown>)[key]);
}

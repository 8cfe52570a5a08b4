import { CorruptRecordError, parseJob, parseResult, type Job, type Result } from "@pyrexis/models";
import { storedLimitsText } from "@pyrexis/storage/kit";

// How records travel between the JSON column and the domain objects. `status`, `attempts`,
// `updated_at` and `version` are columns that a claim writes without rewriting the JSON; a read
// lays them over the record, so a claimed job reads back as the kit's `claimedRecord`.

/** The columns every job read selects (see {@link JOB_COLUMNS}). */
export interface JobRow {
  readonly id: string;
  readonly status: string;
  readonly attempts: number;
  readonly updated_at: number;
  readonly version: number;
  readonly created_at: number;
  readonly data: unknown;
}

/** The select list of a {@link JobRow}; bigint columns as float8 (exact for epoch ms and versions). */
export const JOB_COLUMNS =
  "id, status, attempts, updated_at::float8 AS updated_at, version::float8 AS version, created_at::float8 AS created_at, data";

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Parses a job row; throws {@link CorruptRecordError} naming the job when it is not a valid job. */
export function readJob(row: JobRow): Job {
  if (typeof row.data !== "string") throw new CorruptRecordError(row.id, "data column is not text");
  let value: unknown;
  try {
    value = JSON.parse(row.data);
  } catch (e) {
    throw new CorruptRecordError(row.id, `data is not JSON: ${describe(e)}`, { cause: e });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CorruptRecordError(row.id, "data is not a JSON object");
  }
  const record = value as Record<string, unknown>;
  record.status = row.status;
  record.attempts = row.attempts;
  record.updatedAt = row.updated_at;
  record.version = row.version;
  let job: Job;
  try {
    job = parseJob(record, "stored job");
  } catch (e) {
    throw new CorruptRecordError(row.id, describe(e), { cause: e });
  }
  if (job.id !== row.id || job.createdAt !== row.created_at) {
    throw new CorruptRecordError(row.id, "record disagrees with its indexed columns (id or createdAt)");
  }
  return job;
}

/** Parses a result row of job `jobId`; throws {@link CorruptRecordError} when it is not valid. */
export function readResult(jobId: string, data: unknown): Result {
  let result: Result;
  try {
    if (typeof data !== "string") throw new TypeError("data column is not text");
    result = parseResult(JSON.parse(data), "stored result");
  } catch (e) {
    throw new CorruptRecordError(jobId, `result: ${describe(e)}`, { cause: e });
  }
  if (result.jobId !== jobId) throw new CorruptRecordError(jobId, `result names job ${result.jobId}`);
  return result;
}

/** The column values of a job, as parallel arrays for one `unnest` statement. */
export interface JobColumns {
  readonly id: string[];
  readonly status: string[];
  readonly mode: string[];
  readonly handler: string[];
  readonly priority: number[];
  readonly runAt: number[];
  readonly createdAt: number[];
  readonly updatedAt: number[];
  readonly attempts: number[];
  readonly version: number[];
  readonly agingKey: number[];
  readonly data: string[];
  /** The job's group, NULL without one (the `flow_group` column; immutable). */
  readonly group: (string | null)[];
  /** The job's limits as JSON, NULL without any (the `flow_limits` column; immutable). */
  readonly limits: (string | null)[];
}

/** The twelve column arrays of `c` in the order the insert and update statements take them ($1..$12). */
export function columnParams(c: JobColumns): unknown[] {
  return [c.id, c.status, c.mode, c.handler, c.priority, c.runAt, c.createdAt, c.updatedAt, c.attempts, c.version, c.agingKey, c.data];
}

/**
 * The parameters of the `updateJobs` statement for `c` (the new records' columns) and the
 * versions each update expects: the twelve column arrays, the expected versions, then the flow
 * groups and limits, which the statement compares with the stored ones (they are immutable).
 */
export function updateJobsParams(c: JobColumns, expected: readonly number[]): unknown[] {
  return [...columnParams(c), expected, c.group, c.limits];
}

/** Splits jobs into the parallel arrays of {@link JobColumns}. */
export function jobColumns(jobs: readonly Job[], agingRate: number): JobColumns {
  const n = jobs.length;
  const c: JobColumns = {
    id: new Array<string>(n),
    status: new Array<string>(n),
    mode: new Array<string>(n),
    handler: new Array<string>(n),
    priority: new Array<number>(n),
    runAt: new Array<number>(n),
    createdAt: new Array<number>(n),
    updatedAt: new Array<number>(n),
    attempts: new Array<number>(n),
    version: new Array<number>(n),
    agingKey: new Array<number>(n),
    data: new Array<string>(n),
    group: new Array<string | null>(n),
    limits: new Array<string | null>(n),
  };
  for (let i = 0; i < n; i++) {
    const job = jobs[i] as Job;
    c.id[i] = job.id;
    c.status[i] = job.status;
    c.mode[i] = job.mode;
    c.handler[i] = job.handler;
    c.priority[i] = job.priority;
    c.runAt[i] = job.runAt;
    c.createdAt[i] = job.createdAt;
    c.updatedAt[i] = job.updatedAt;
    c.attempts[i] = job.attempts;
    c.version[i] = job.version;
    // The kit's claimKey, so the claim order is the scheduler's.
    c.agingKey[i] = job.priority - (agingRate * job.runAt) / 1000;
    c.data[i] = JSON.stringify(job);
    c.group[i] = job.group ?? null;
    c.limits[i] = storedLimitsText(job.limits);
  }
  return c;
}

/**
 * Stable error codes of Pyrexis, grouped by theme. Codes never change meaning; messages may.
 * Every error class has a code of its own, a subclass too (`UsageError` is a `ValidationError`
 * with code `USAGE`), so `isPyrexisError(e, code)` names one class.
 *
 * @example
 * ```ts
 * try { await engine.submitJob(spec) } catch (e) {
 *   if (isPyrexisError(e, "DUPLICATE_JOB")) console.log("already submitted")
 * }
 * ```
 */
export const ErrorCode = {
  // Bad input.
  VALIDATION: "VALIDATION",
  USAGE: "USAGE",
  // Jobs and results in a store.
  ILLEGAL_TRANSITION: "ILLEGAL_TRANSITION",
  DUPLICATE_JOB: "DUPLICATE_JOB",
  JOB_CONFLICT: "JOB_CONFLICT",
  NOT_REDRIVABLE: "NOT_REDRIVABLE",
  JOB_NOT_FOUND: "JOB_NOT_FOUND",
  RESULT_EXISTS: "RESULT_EXISTS",
  STALE_VERSION: "STALE_VERSION",
  // Stores themselves.
  STORE_CLOSED: "STORE_CLOSED",
  STORE_MISSING: "STORE_MISSING",
  STORE_FAILURE: "STORE_FAILURE",
  CORRUPT_RECORD: "CORRUPT_RECORD",
  INCOMPATIBLE_STORE: "INCOMPATIBLE_STORE",
  // How an attempt ended.
  SHUTTING_DOWN: "SHUTTING_DOWN",
  TIMEOUT: "TIMEOUT",
  CANCELLED: "CANCELLED",
  INTERRUPTED: "INTERRUPTED",
  WORKER_CRASHED: "WORKER_CRASHED",
  NON_RETRYABLE: "NON_RETRYABLE",
  // Handlers and executors.
  HANDLER_NOT_FOUND: "HANDLER_NOT_FOUND",
  HANDLERS_LOAD_FAILED: "HANDLERS_LOAD_FAILED",
  EXECUTOR_CLOSED: "EXECUTOR_CLOSED",
  UNKNOWN_MODE: "UNKNOWN_MODE",
  // Cron schedules.
  INVALID_SCHEDULE: "INVALID_SCHEDULE",
  SCHEDULE_CONFLICT: "SCHEDULE_CONFLICT",
  // Dependencies between jobs.
  UNKNOWN_DEPENDENCY: "UNKNOWN_DEPENDENCY",
  DEPENDENCY_CYCLE: "DEPENDENCY_CYCLE",
  DEPENDENCY_FAILED: "DEPENDENCY_FAILED",
  // Flow control.
  UNKNOWN_LIMIT: "UNKNOWN_LIMIT",
  LIMIT_CAPACITY: "LIMIT_CAPACITY",
  // Batching handlers.
  INVALID_BATCH_OPTIONS: "INVALID_BATCH_OPTIONS",
  BATCH_OUTPUT_MISMATCH: "BATCH_OUTPUT_MISMATCH",
} as const;

/** One of the stable {@link ErrorCode} values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** Options accepted by every {@link PyrexisError} constructor. */
export interface PyrexisErrorOptions {
  cause?: unknown;
}

/**
 * The base class of every error Pyrexis throws on purpose. Branch on `code`, not on `message`.
 */
export class PyrexisError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: PyrexisErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = "PyrexisError";
  }
}

/**
 * True when `e` is a Pyrexis error (optionally with the given code). Checks `name` and `code`,
 * not only `instanceof`, so errors that crossed a thread/process boundary or came from a second
 * copy of the package are still recognized.
 */
export function isPyrexisError(e: unknown, code?: ErrorCode): e is PyrexisError {
  if (typeof e !== "object" || e === null) return false;
  const c = (e as { code?: unknown }).code;
  const n = (e as { name?: unknown }).name;
  if (typeof c !== "string" || !CODES.has(c)) return false;
  if (typeof n !== "string" || !(e instanceof PyrexisError || n.endsWith("Error"))) return false;
  return code === undefined || c === code;
}

/** One problem found by validation: where (a path into the input) and why. */
export interface ValidationIssue {
  path: (string | number)[];
  message: string;
}

/** Input failed validation. `issues` names each field that is wrong and why. */
export class ValidationError extends PyrexisError {
  readonly issues: readonly ValidationIssue[];
  constructor(message: string, issues: readonly ValidationIssue[] = [], options?: PyrexisErrorOptions) {
    super(ErrorCode.VALIDATION, message, options);
    this.name = "ValidationError";
    this.issues = issues;
  }
}

/** A state change the job state machine does not allow. */
export class IllegalTransitionError extends PyrexisError {
  readonly jobId: string;
  readonly from: string;
  readonly to: string;
  constructor(jobId: string, from: string, to: string) {
    super(ErrorCode.ILLEGAL_TRANSITION, `job ${jobId}: illegal transition ${from} → ${to}`);
    this.name = "IllegalTransitionError";
    this.jobId = jobId;
    this.from = from;
    this.to = to;
  }
}

/** A job with this id already exists; it was not overwritten. */
export class DuplicateJobError extends PyrexisError {
  readonly jobId: string;
  constructor(jobId: string) {
    super(ErrorCode.DUPLICATE_JOB, `job ${jobId} already exists`);
    this.name = "DuplicateJobError";
    this.jobId = jobId;
  }
}

/**
 * An idempotent submission (`ifExists: "return"`) named the id of an existing job whose handler,
 * mode or payload differ from the spec: the id was reused for other work, so returning the
 * existing job would be wrong. Nothing was written. `fields` lists what differs.
 */
export class JobConflictError extends PyrexisError {
  readonly jobId: string;
  readonly fields: readonly string[];
  constructor(jobId: string, fields: readonly string[]) {
    super(ErrorCode.JOB_CONFLICT, `job ${jobId} already exists with a different ${fields.join(", ")}`);
    this.name = "JobConflictError";
    this.jobId = jobId;
    this.fields = fields;
  }
}

/** A redrive named a job that is not `failed` or `cancelled` (only finished, unsuccessful work can be redriven). */
export class NotRedrivableError extends PyrexisError {
  readonly jobId: string;
  readonly status: string;
  constructor(jobId: string, status: string, reason?: string) {
    super(
      ErrorCode.NOT_REDRIVABLE,
      `job ${jobId} cannot be redriven: ${reason ?? `it is ${status}; only failed or cancelled jobs can be`}`,
    );
    this.name = "NotRedrivableError";
    this.jobId = jobId;
    this.status = status;
  }
}

/** No job with this id exists. */
export class JobNotFoundError extends PyrexisError {
  readonly jobId: string;
  constructor(jobId: string) {
    super(ErrorCode.JOB_NOT_FOUND, `job ${jobId} not found`);
    this.name = "JobNotFoundError";
    this.jobId = jobId;
  }
}

/** A result for this job was already written; results are write-once. */
export class ResultExistsError extends PyrexisError {
  readonly jobId: string;
  constructor(jobId: string) {
    super(ErrorCode.RESULT_EXISTS, `job ${jobId} already has a result`);
    this.name = "ResultExistsError";
    this.jobId = jobId;
  }
}

/** A compare-and-set update found a different version than expected (or no job). */
export class StaleVersionError extends PyrexisError {
  readonly jobId: string;
  readonly expectedVersion: number;
  readonly actualVersion: number | undefined;
  constructor(jobId: string, expectedVersion: number, actualVersion: number | undefined) {
    super(
      ErrorCode.STALE_VERSION,
      actualVersion === undefined
        ? `job ${jobId}: cannot update, job does not exist`
        : `job ${jobId}: expected version ${expectedVersion}, store has ${actualVersion}`,
    );
    this.name = "StaleVersionError";
    this.jobId = jobId;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** The store was closed; no further operations are possible. */
export class StoreClosedError extends PyrexisError {
  constructor(message = "store is closed") {
    super(ErrorCode.STORE_CLOSED, message);
    this.name = "StoreClosedError";
  }
}

/** A stored record could not be read back as a valid job or result. */
export class CorruptRecordError extends PyrexisError {
  readonly jobId: string;
  constructor(jobId: string, reason: string, options?: PyrexisErrorOptions) {
    super(ErrorCode.CORRUPT_RECORD, `job ${jobId}: corrupt record: ${reason}`, options);
    this.name = "CorruptRecordError";
    this.jobId = jobId;
  }
}

/** A database that is not a Pyrexis store, or one from a newer schema version. */
export class IncompatibleStoreError extends PyrexisError {
  constructor(message: string, options?: PyrexisErrorOptions) {
    super(ErrorCode.INCOMPATIBLE_STORE, message, options);
    this.name = "IncompatibleStoreError";
  }
}

/** The engine is shutting down and accepts no new work. */
export class ShuttingDownError extends PyrexisError {
  constructor(message = "engine is shutting down") {
    super(ErrorCode.SHUTTING_DOWN, message);
    this.name = "ShuttingDownError";
  }
}

/** An attempt ran longer than its `timeoutMs`. */
export class TimeoutError extends PyrexisError {
  readonly jobId: string;
  readonly timeoutMs: number;
  constructor(jobId: string, timeoutMs: number) {
    super(ErrorCode.TIMEOUT, `job ${jobId} timed out after ${timeoutMs} ms`);
    this.name = "TimeoutError";
    this.jobId = jobId;
    this.timeoutMs = timeoutMs;
  }
}

/** The job was cancelled while it ran. */
export class CancelledError extends PyrexisError {
  readonly jobId: string;
  constructor(jobId: string, reason = "cancelled") {
    super(ErrorCode.CANCELLED, `job ${jobId}: ${reason}`);
    this.name = "CancelledError";
    this.jobId = jobId;
  }
}

/** An attempt was interrupted by a crash or a forced shutdown. */
export class InterruptedError extends PyrexisError {
  readonly jobId: string;
  constructor(jobId: string, reason = "attempt interrupted (engine stopped while the job ran)") {
    super(ErrorCode.INTERRUPTED, `job ${jobId}: ${reason}`);
    this.name = "InterruptedError";
    this.jobId = jobId;
  }
}

/** Options of {@link HandlerNotFoundError}. */
export interface HandlerNotFoundOptions extends PyrexisErrorOptions {
  /**
   * Where the handler was looked up when a job ran (`"worker thread 3"`, `"this async executor"`):
   * the message then says that the attempt is not retried there.
   */
  where?: string;
}

/**
 * No handler is registered under this name. Never retried (see {@link isNonRetryable}): another
 * attempt would look it up in the same handlers and fail the same way.
 */
export class HandlerNotFoundError extends PyrexisError {
  readonly handler: string;
  readonly known: readonly string[];
  constructor(handler: string, known: readonly string[], options?: HandlerNotFoundOptions) {
    const list = known.length ? known.join(", ") : "(none)";
    super(
      ErrorCode.HANDLER_NOT_FOUND,
      options?.where === undefined
        ? `no handler named "${handler}"; known handlers: ${list}`
        : `no handler named "${handler}" is registered in ${options.where} (known handlers: ${list}); not retried: every attempt would fail the same way`,
      options,
    );
    this.name = "HandlerNotFoundError";
    this.handler = handler;
    this.known = known;
  }
}

/** The worker (thread or child process) running a job died mid-task. */
export class WorkerCrashedError extends PyrexisError {
  readonly jobId: string;
  constructor(jobId: string, detail: string, options?: PyrexisErrorOptions) {
    super(ErrorCode.WORKER_CRASHED, `job ${jobId}: worker crashed: ${detail}`, options);
    this.name = "WorkerCrashedError";
    this.jobId = jobId;
  }
}

/**
 * Throw this from a handler to fail the job at once, without retrying. A subclass may carry a
 * code of its own from {@link NON_RETRYABLE_CODES} (`HandlersLoadError`: `HANDLERS_LOAD_FAILED`).
 *
 * @example
 * ```ts
 * if (!payload.url) throw new NonRetryableError("payload.url is required")
 * ```
 */
export class NonRetryableError extends PyrexisError {
  constructor(message: string, options?: PyrexisErrorOptions) {
    super(ErrorCode.NON_RETRYABLE, message, options);
    this.name = "NonRetryableError";
  }
}

/** An executor was used after `close()`/`terminate()`. */
export class ExecutorClosedError extends PyrexisError {
  constructor(message = "executor is closed") {
    super(ErrorCode.EXECUTOR_CLOSED, message);
    this.name = "ExecutorClosedError";
  }
}

/** No executor is registered for a job's `mode`. */
export class UnknownModeError extends PyrexisError {
  readonly mode: string;
  constructor(mode: string, known: readonly string[]) {
    super(ErrorCode.UNKNOWN_MODE, `no executor for mode "${mode}"; known modes: ${known.join(", ")}`);
    this.name = "UnknownModeError";
    this.mode = mode;
  }
}

/**
 * A schedule's cron expression or timezone is not valid. A {@link ValidationError} (with code
 * `INVALID_SCHEDULE`) whose `field` is `"cron"` or `"timezone"` and whose `value` is what was given.
 */
export class InvalidScheduleError extends ValidationError {
  override readonly code: ErrorCode = ErrorCode.INVALID_SCHEDULE;
  readonly field: "cron" | "timezone";
  readonly value: string;
  constructor(field: "cron" | "timezone", value: string, reason: string, options?: PyrexisErrorOptions) {
    super(`invalid schedule ${field} ${JSON.stringify(value)}: ${reason}`, [{ path: [field], message: reason }], options);
    this.name = "InvalidScheduleError";
    this.field = field;
    this.value = value;
  }
}

/** A schedule of this name exists with another definition; nothing was written. */
export class ScheduleConflictError extends PyrexisError {
  readonly scheduleName: string;
  /** The fields whose values differ from the stored schedule's. */
  readonly fields: readonly string[];
  constructor(scheduleName: string, fields: readonly string[]) {
    super(
      ErrorCode.SCHEDULE_CONFLICT,
      `schedule "${scheduleName}" exists with a different ${fields.join(", ")}; remove it first to redefine it`,
    );
    this.name = "ScheduleConflictError";
    this.scheduleName = scheduleName;
    this.fields = fields;
  }
}

/**
 * A submitted job depends on a job that is neither in the store nor in the same submission.
 * A {@link ValidationError} with code `UNKNOWN_DEPENDENCY`; nothing of the submission was written.
 */
export class UnknownDependencyError extends ValidationError {
  override readonly code: ErrorCode = ErrorCode.UNKNOWN_DEPENDENCY;
  /** The job that names the missing parent. */
  readonly jobId: string;
  /** The id it names that no job has. */
  readonly parentId: string;
  constructor(jobId: string, parentId: string) {
    super(`job ${jobId} depends on job ${parentId}, which does not exist (submit a parent before, or together with, its dependents)`, [
      { path: ["dependsOn"], message: `unknown job ${parentId}` },
    ]);
    this.name = "UnknownDependencyError";
    this.jobId = jobId;
    this.parentId = parentId;
  }
}

/**
 * The jobs of one submission depend on each other in a cycle, so none of them could ever run.
 * A {@link ValidationError} with code `DEPENDENCY_CYCLE`; nothing of the submission was written.
 */
export class DependencyCycleError extends ValidationError {
  override readonly code: ErrorCode = ErrorCode.DEPENDENCY_CYCLE;
  /** The ids around the cycle, each depending on the next; the last depends on the first. */
  readonly cycle: readonly string[];
  constructor(cycle: readonly string[]) {
    super(`jobs depend on each other in a cycle: ${[...cycle, cycle[0]].join(" → ")}`, [
      { path: ["dependsOn"], message: "dependency cycle" },
    ]);
    this.name = "DependencyCycleError";
    this.cycle = cycle;
  }
}

/**
 * Why a job that never ran ended: a job it depends on ended `failed` (this one is then `failed`)
 * or `cancelled` (this one is then `cancelled`). Recorded as the job's `lastError` and its
 * result's `error` (code `DEPENDENCY_FAILED`); `parentId` is the direct parent, `originId` the
 * job whose own end started the chain (the same job when the parent itself failed or was cancelled).
 */
export class DependencyFailedError extends PyrexisError {
  readonly jobId: string;
  readonly parentId: string;
  readonly parentStatus: "failed" | "cancelled";
  readonly originId: string;
  constructor(jobId: string, parentId: string, parentStatus: "failed" | "cancelled", originId: string = parentId) {
    super(
      ErrorCode.DEPENDENCY_FAILED,
      `job ${jobId} did not run: its dependency ${parentId} ${parentStatus === "failed" ? "failed" : "was cancelled"}` +
        (originId === parentId ? "" : ` (the chain started at job ${originId})`),
    );
    this.name = "DependencyFailedError";
    this.jobId = jobId;
    this.parentId = parentId;
    this.parentStatus = parentStatus;
    this.originId = originId;
  }
}

/**
 * A job names a limit the engine does not have (code `UNKNOWN_LIMIT`): a {@link ValidationError},
 * raised at submit, nothing written. `known` lists the engine's limits.
 */
export class UnknownLimitError extends ValidationError {
  override readonly code: ErrorCode = ErrorCode.UNKNOWN_LIMIT;
  readonly limit: string;
  readonly known: readonly string[];
  constructor(limit: string, known: readonly string[], path: (string | number)[] = ["limits"]) {
    const list = known.length > 0 ? known.map((k) => JSON.stringify(k)).join(", ") : "(none configured)";
    super(`unknown limit ${JSON.stringify(limit)}; the engine's limits: ${list}`, [{ path, message: "unknown limit" }]);
    this.name = "UnknownLimitError";
    this.limit = limit;
    this.known = known;
  }
}

/**
 * A job's weight on a limit is larger than the limit's capacity, so it could never start (code
 * `LIMIT_CAPACITY`): a {@link ValidationError}, raised at submit, nothing written. A job written by
 * a process that could not check it (`pyrexis submit`, an engine with larger limits) fails with it
 * on its first attempt instead, without running (never retried: see {@link NON_RETRYABLE_CODES}).
 */
export class LimitCapacityError extends ValidationError {
  override readonly code: ErrorCode = ErrorCode.LIMIT_CAPACITY;
  readonly limit: string;
  readonly units: number;
  readonly capacity: number;
  constructor(limit: string, units: number, capacity: number, path: (string | number)[] = ["limits"]) {
    super(
      `a weight of ${units} units on limit ${JSON.stringify(limit)} exceeds its capacity of ${capacity} units: the job could never start`,
      [{ path, message: `exceeds the capacity of ${capacity}` }],
    );
    this.name = "LimitCapacityError";
    this.limit = limit;
    this.units = units;
    this.capacity = capacity;
  }
}

/**
 * A batching handler's `batch` options are not valid (code `INVALID_BATCH_OPTIONS`): `maxSize`
 * must be an integer ≥ 1, `maxWaitMs` a finite number ≥ 0, `key` a function when given. A
 * {@link ValidationError}, raised when the handler is defined; nothing is registered.
 */
export class InvalidBatchOptionsError extends ValidationError {
  override readonly code: ErrorCode = ErrorCode.INVALID_BATCH_OPTIONS;
  /** The handler whose options were refused. */
  readonly handler: string;
  constructor(handler: string, issues: { path: (string | number)[]; message: string }[]) {
    super(
      `batch options of handler ${JSON.stringify(handler)} are not valid: ${issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      issues,
    );
    this.name = "InvalidBatchOptionsError";
    this.handler = handler;
  }
}

/**
 * A batching handler returned a number of outputs other than the number of jobs it was given
 * (code `BATCH_OUTPUT_MISMATCH`). Each job of that batch fails its attempt with this error; the
 * attempt may be retried (the next batch may hold other jobs), as any handler error is.
 */
export class BatchOutputMismatchError extends PyrexisError {
  /** The handler that returned the wrong number of outputs. */
  readonly handler: string;
  /** How many jobs the batch held. */
  readonly expected: number;
  /** How many outputs the handler returned (-1 when it did not return an array). */
  readonly actual: number;
  constructor(handler: string, expected: number, actual: number) {
    super(
      ErrorCode.BATCH_OUTPUT_MISMATCH,
      actual < 0
        ? `batching handler ${JSON.stringify(handler)} did not return an array of outputs for a batch of ${expected} jobs`
        : `batching handler ${JSON.stringify(handler)} returned ${actual} outputs for a batch of ${expected} jobs (one per job, in order, is required)`,
    );
    this.name = "BatchOutputMismatchError";
    this.handler = handler;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A store operation failed for a reason outside the contract (I/O error, disk full, …). */
export class StoreFailureError extends PyrexisError {
  constructor(message: string, options?: PyrexisErrorOptions) {
    super(ErrorCode.STORE_FAILURE, message, options);
    this.name = "StoreFailureError";
  }
}

/**
 * Codes whose errors can never succeed on another attempt, by their nature: a handler thrown
 * `NonRetryableError`, a handler name the executor does not know, a handlers module that does not
 * load, a weight above a limit's capacity. {@link isNonRetryable} is true for errors with one of them.
 */
export const NON_RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.NON_RETRYABLE,
  ErrorCode.HANDLER_NOT_FOUND,
  ErrorCode.HANDLERS_LOAD_FAILED,
  // A weight above a limit's capacity (a job written by a process that could not check it).
  ErrorCode.LIMIT_CAPACITY,
]);

/**
 * The code that says why `e` must not be retried, or `undefined` when it may be. The first error
 * on its `cause` chain (bounded) that decides: its own code when that is one of
 * {@link NON_RETRYABLE_CODES}, else `NON_RETRYABLE` for an error marked `nonRetryable: true`.
 * Stores record this code in `lastError` and workers send it across their boundary, so a wrapped
 * cause (a pipeline stage error keeps the original there) still stops retries after it crossed.
 */
export function nonRetryableCode(e: unknown): ErrorCode | undefined {
  let current: unknown = e;
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    if (isPyrexisError(current) && NON_RETRYABLE_CODES.has(current.code)) return current.code;
    if ((current as { nonRetryable?: unknown }).nonRetryable === true) return ErrorCode.NON_RETRYABLE;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** True for errors that must not be retried: see {@link nonRetryableCode}. */
export function isNonRetryable(e: unknown): boolean {
  return nonRetryableCode(e) !== undefined;
}

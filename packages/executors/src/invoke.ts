import { findJsonProblem, HandlerNotFoundError, MAX_LIMIT_UNITS, ValidationError } from "@pyrexis/models";
import type { ExecutionTask } from "./executor.js";
import type { HandlerContext, HandlerMap, Logger, LogLevel } from "./handlers.js";

/** Where a running handler's side channels go (in-process or over a worker boundary). */
export interface InvokeSinks {
  /** Where handlers are looked up, for messages: `"worker thread 3"`, `"this async executor"`. */
  readonly where: string;
  readonly signal: AbortSignal;
  progress(value: unknown): void;
  charge(units: number, key: string | undefined): void;
  log(level: LogLevel, obj: Record<string, unknown>, msg: string | undefined): void;
}

/** Normalizes pino-style `(obj | msg, msg?)` arguments into an object plus a message. */
export function toLogRecord(objOrMsg: unknown, msg: string | undefined): { obj: Record<string, unknown>; msg: string | undefined } {
  if (typeof objOrMsg === "string") return { obj: {}, msg: objOrMsg };
  if (objOrMsg instanceof Error) return { obj: { err: objOrMsg }, msg: msg ?? objOrMsg.message };
  if (typeof objOrMsg === "object" && objOrMsg !== null) return { obj: { ...(objOrMsg as Record<string, unknown>) }, msg };
  return { obj: { value: objOrMsg }, msg };
}

/** Sends log records to `logger` with job bindings merged in. */
export function writeLog(
  logger: Logger,
  level: LogLevel,
  bindings: Record<string, unknown>,
  obj: Record<string, unknown>,
  msg: string | undefined,
): void {
  try {
    if (msg === undefined) logger[level]({ ...bindings, ...obj });
    else logger[level]({ ...bindings, ...obj }, msg);
  } catch {
    // A broken logger must not fail the job.
  }
}

function bindLogger(sinks: InvokeSinks): Logger {
  const at =
    (level: LogLevel) =>
    (objOrMsg: unknown, msg?: string): void => {
      const rec = toLogRecord(objOrMsg, msg);
      sinks.log(level, rec.obj, rec.msg);
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/**
 * Throws `ValidationError` when `value` is not JSON; `what` says which value, for the message.
 * (`findJsonProblem` answers primitives without allocating.)
 */
export function assertJson(value: unknown, what: string): void {
  const error = jsonError(value, what);
  if (error !== undefined) throw error;
}

/** The `ValidationError` {@link assertJson} would throw, or `undefined` when `value` is JSON. */
export function jsonError(value: unknown, what: string): ValidationError | undefined {
  const problem = findJsonProblem(value);
  if (problem === undefined) return undefined;
  const where = problem.path.length ? ` at ${problem.path.join(".")}` : "";
  return new ValidationError(`${what} is not a JSON value${where}: ${problem.message}`, [{ path: problem.path, message: problem.message }]);
}

/**
 * Throws the `ValidationError` of a bad `ctx.charge(units, key?)` of job `jobId`: `units` an
 * integer 0–`MAX_LIMIT_UNITS`, `key` absent or a non-empty string. Shared by every handler
 * context (the engine's batch context too), so all refuse the same inputs with the same words.
 */
export function assertChargeArgs(jobId: string, units: unknown, key: unknown): void {
  if (typeof units !== "number" || !Number.isSafeInteger(units) || units < 0 || units > MAX_LIMIT_UNITS) {
    const message = `must be an integer 0–${MAX_LIMIT_UNITS}`;
    throw new ValidationError(`ctx.charge of job ${jobId}: units ${message}, got ${String(units)}`, [{ path: ["units"], message }]);
  }
  if (key !== undefined && (typeof key !== "string" || key.length === 0)) {
    throw new ValidationError(`ctx.charge of job ${jobId}: key must be a non-empty string`, [
      { path: ["key"], message: "must be a non-empty string" },
    ]);
  }
}

/** Receives how one handler run ended: exactly one of the two is called, once. */
export interface InvokeOutcome {
  /** The handler's output, checked to be JSON (`undefined` already turned into `null`). */
  ok(output: unknown): void;
  /** What the handler threw or rejected with, or the `ValidationError` of a non-JSON output. */
  fail(error: unknown): void;
}

/**
 * Runs one handler with its context, checks its output is JSON, and reports to `outcome`'s
 * methods, so a caller that keeps one record per task (the async executor's run, the worker
 * entry's task) allocates no callbacks. Shared by every mode so all apply exactly the same rules.
 * A handler that returns a plain value or throws completes before this returns.
 */
export function invokeOn(handlers: HandlerMap, task: ExecutionTask, sinks: InvokeSinks, outcome: InvokeOutcome): void {
  const fn = Object.hasOwn(handlers, task.handler) ? handlers[task.handler] : undefined;
  // Non-retryable by its code: another attempt would look in the same handlers.
  if (typeof fn !== "function") return outcome.fail(new HandlerNotFoundError(task.handler, Object.keys(handlers), { where: sinks.where }));
  const ctx = new Context(task, sinks, outcome);
  let returned: unknown;
  try {
    returned = fn(task.payload, ctx);
  } catch (error) {
    return ctx.fail(error);
  }
  if (typeof (returned as PromiseLike<unknown> | null)?.then === "function") {
    (returned as PromiseLike<unknown>).then(
      (value) => ctx.finish(value),
      (error: unknown) => ctx.fail(error),
    );
  } else {
    ctx.finish(returned);
  }
}

/** A handler's `ctx`. Signal and logger are read from the sinks only when the handler uses them. */
class Context implements HandlerContext {
  readonly jobId: string;
  readonly attempt: number;
  #ended = false;
  readonly #handler: string;
  readonly #sinks: InvokeSinks;
  readonly #outcome: InvokeOutcome;
  #logger: Logger | undefined;
  #progress: ((value: unknown) => void) | undefined;

  constructor(task: ExecutionTask, sinks: InvokeSinks, outcome: InvokeOutcome) {
    this.jobId = task.jobId;
    this.attempt = task.attempt;
    this.#handler = task.handler;
    this.#sinks = sinks;
    this.#outcome = outcome;
  }

  get signal(): AbortSignal {
    return this.#sinks.signal;
  }

  get logger(): Logger {
    this.#logger ??= bindLogger(this.#sinks);
    return this.#logger;
  }

  /**
   * A function made on first use, so `const { progress } = ctx` keeps working and a handler that
   * reports no progress costs no closure.
   */
  get progress(): (value: unknown) => void {
    this.#progress ??= (value: unknown): void => {
      assertJson(value, `progress of job ${this.jobId}`);
      if (!this.#ended) this.#sinks.progress(value);
    };
    return this.#progress;
  }

  charge(units: number, key?: string): void {
    assertChargeArgs(this.jobId, units, key);
    if (!this.#ended) this.#sinks.charge(units, key);
  }

  finish(value: unknown): void {
    this.#ended = true;
    // A handler that returns nothing produced `null`: JSON has no undefined.
    const output = value === undefined ? null : value;
    try {
      assertJson(output, `output of handler "${this.#handler}" (job ${this.jobId})`);
    } catch (error) {
      return this.#outcome.fail(error);
    }
    this.#outcome.ok(output);
  }

  fail(error: unknown): void {
    this.#ended = true;
    this.#outcome.fail(error);
  }
}

import { findJsonProblem, HandlerNotFoundError, ValidationError } from "@pyrexis/models";
import type { ExecutionTask } from "./executor.js";
import type { HandlerContext, HandlerMap, Logger, LogLevel } from "./handlers.js";

/** Where a running handler's side channels go (in-process or over a worker boundary). */
export interface InvokeSinks {
  readonly signal: AbortSignal;
  progress(value: unknown): void;
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
export function writeLog(logger: Logger, level: LogLevel, bindings: Record<string, unknown>, obj: Record<string, unknown>, msg: string | undefined): void {
  try {
    if (msg === undefined) logger[level]({ ...bindings, ...obj });
    else logger[level]({ ...bindings, ...obj }, msg);
  } catch {
    // A broken logger must not fail the job.
  }
}

function bindLogger(sinks: InvokeSinks): Logger {
  const at = (level: LogLevel) => (objOrMsg: unknown, msg?: string): void => {
    const rec = toLogRecord(objOrMsg, msg);
    sinks.log(level, rec.obj, rec.msg);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** Throws `ValidationError` when `value` is not JSON; `what` says which value, for the message. */
export function assertJson(value: unknown, what: string): void {
  const problem = findJsonProblem(value);
  if (problem === undefined) return;
  const where = problem.path.length ? ` at ${problem.path.join(".")}` : "";
  throw new ValidationError(`${what} is not a JSON value${where}: ${problem.message}`, [
    { path: problem.path, message: problem.message },
  ]);
}

/**
 * Runs one handler with its context and checks its output is JSON. Shared by the async executor
 * and the worker entry so every mode applies exactly the same rules.
 */
export function invokeHandler(handlers: HandlerMap, task: ExecutionTask, sinks: InvokeSinks): Promise<unknown> {
  return new Promise((resolve, reject) => runHandler(handlers, task, sinks, resolve, reject));
}

/**
 * {@link invokeHandler} with callbacks: a handler that returns a plain value completes in the same
 * tick, without a promise (the async executor's hot path). Exactly one callback is called.
 */
export function runHandler(
  handlers: HandlerMap,
  task: ExecutionTask,
  sinks: InvokeSinks,
  onOutput: (output: unknown) => void,
  onError: (error: unknown) => void,
): void {
  const fn = Object.hasOwn(handlers, task.handler) ? handlers[task.handler] : undefined;
  if (typeof fn !== "function") return onError(new HandlerNotFoundError(task.handler, Object.keys(handlers)));
  const ctx = new Context(task, sinks);
  const finish = (value: unknown): void => {
    ctx.ended = true;
    // A handler that returns nothing produced `null`: JSON has no undefined.
    const output = value === undefined ? null : value;
    try {
      assertJson(output, `output of handler "${task.handler}" (job ${task.jobId})`);
    } catch (error) {
      return onError(error);
    }
    onOutput(output);
  };
  const fail = (error: unknown): void => {
    ctx.ended = true;
    onError(error);
  };
  let returned: unknown;
  try {
    returned = fn(task.payload, ctx);
  } catch (error) {
    return fail(error);
  }
  if (typeof (returned as PromiseLike<unknown> | null)?.then === "function") {
    (returned as PromiseLike<unknown>).then(finish, fail);
  } else {
    finish(returned);
  }
}

/** A handler's `ctx`. Signal and logger are read from the sinks only when the handler uses them. */
class Context implements HandlerContext {
  readonly jobId: string;
  readonly attempt: number;
  ended = false;
  readonly #sinks: InvokeSinks;
  #logger: Logger | undefined;

  constructor(task: ExecutionTask, sinks: InvokeSinks) {
    this.jobId = task.jobId;
    this.attempt = task.attempt;
    this.#sinks = sinks;
  }

  get signal(): AbortSignal {
    return this.#sinks.signal;
  }

  get logger(): Logger {
    this.#logger ??= bindLogger(this.#sinks);
    return this.#logger;
  }

  /** An own arrow function, so `const { progress } = ctx` keeps working. */
  readonly progress = (value: unknown): void => {
    assertJson(value, `progress of job ${this.jobId}`);
    if (!this.ended) this.#sinks.progress(value);
  };
}

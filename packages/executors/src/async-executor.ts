import { ExecutorClosedError, InterruptedError } from "@pyrexis/models";
import type { ExecutionOptions, ExecutionTask, Executor } from "./executor.js";
import { loadHandlersModule, silentLogger, type HandlerMap, type Logger } from "./handlers.js";
import { invokeHandler, writeLog } from "./invoke.js";

/** Options of {@link AsyncExecutor}. */
export interface AsyncExecutorOptions {
  /** Inline handlers, or the path / URL of a handlers module (imported on first run). */
  readonly handlers: HandlerMap | string | URL;
  /** Receives handlers' `ctx.logger` calls and executor diagnostics. Silent by default. */
  readonly logger?: Logger;
}

/**
 * Runs handlers on the caller's event loop: the right mode for I/O-bound work (HTTP calls to
 * model APIs, database queries), with no serialization cost.
 *
 * The event-loop limit: JavaScript cannot stop a function from outside. When the signal aborts,
 * `run` rejects with `signal.reason` at once and `ctx.signal` aborts, but a handler that ignores
 * it keeps running in the background until it returns (its result is discarded), and a
 * CPU-bound handler blocks every other job while it runs. Use the thread or process executor
 * for work that must be stoppable.
 *
 * @example
 * ```ts
 * const executor = new AsyncExecutor({ handlers: { hello: (p: { name: string }) => `hi ${p.name}` } });
 * await executor.run({ jobId: "j1", handler: "hello", payload: { name: "ada" }, attempt: 1 },
 *   { signal: new AbortController().signal, onProgress: () => {} });
 * ```
 */
export class AsyncExecutor implements Executor {
  readonly #source: HandlerMap | string | URL;
  readonly #logger: Logger;
  #handlers: Promise<HandlerMap> | undefined;
  #closed = false;
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #kill = new AbortController();

  constructor(options: AsyncExecutorOptions) {
    const source = options.handlers;
    if (!(typeof source === "string" || source instanceof URL || (typeof source === "object" && source !== null))) {
      throw new TypeError("AsyncExecutor: options.handlers must be a handler map, a module path or a URL");
    }
    this.#source = source;
    this.#logger = options.logger ?? silentLogger;
  }

  #load(): Promise<HandlerMap> {
    if (this.#handlers === undefined) {
      const source = this.#source;
      this.#handlers = typeof source === "string" || source instanceof URL ? loadHandlersModule(source) : Promise.resolve(source);
      // A failed import is not cached: the module may be fixed before the next attempt.
      this.#handlers.catch(() => {
        this.#handlers = undefined;
      });
    }
    return this.#handlers;
  }

  /** Runs one attempt on the event loop. See the class notes on aborting. */
  run(task: ExecutionTask, options: ExecutionOptions): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ExecutorClosedError("async executor is closed"));
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the contract: reject with signal.reason as given
    if (options.signal.aborted) return Promise.reject(options.signal.reason);
    const run = this.#run(task, options);
    this.#inflight.add(run);
    const forget = (): void => {
      this.#inflight.delete(run);
    };
    run.then(forget, forget);
    return run;
  }

  #run(task: ExecutionTask, options: ExecutionOptions): Promise<unknown> {
    const { signal } = options;
    const logger = this.#logger;
    const bindings = { jobId: task.jobId, attempt: task.attempt, handler: task.handler };
    return new Promise<unknown>((resolve, reject) => {
      const controller = new AbortController();
      let settled = false;
      const finish = (): boolean => {
        if (settled) return false;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        this.#kill.signal.removeEventListener("abort", onKill);
        return true;
      };
      const onAbort = (): void => {
        if (!finish()) return;
        controller.abort(signal.reason);
        reject(signal.reason as Error);
      };
      const onKill = (): void => {
        if (!finish()) return;
        const error = new InterruptedError(task.jobId, "executor terminated while the job ran");
        controller.abort(error);
        reject(error);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#kill.signal.addEventListener("abort", onKill, { once: true });
      const sinks = {
        signal: controller.signal,
        progress: (value: unknown): void => {
          if (settled) return;
          try {
            options.onProgress(value);
          } catch (error) {
            writeLog(logger, "warn", bindings, { err: error }, "onProgress threw; progress dropped");
          }
        },
        log: (level: "debug" | "info" | "warn" | "error", obj: Record<string, unknown>, msg: string | undefined): void =>
          writeLog(logger, level, bindings, obj, msg),
      };
      this.#load()
        .then((handlers) => invokeHandler(handlers, task, sinks))
        .then(
          (output) => {
            if (finish()) resolve(output);
          },
          (error: unknown) => {
            if (finish()) reject(error);
          },
        );
    });
  }

  /** Stops accepting runs and waits for in-flight ones to settle. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inflight]);
  }

  /**
   * Stops accepting runs; in-flight runs reject at once with `InterruptedError` and their
   * handlers' signals abort. Idempotent.
   */
  async terminate(): Promise<void> {
    this.#closed = true;
    this.#kill.abort();
  }
}

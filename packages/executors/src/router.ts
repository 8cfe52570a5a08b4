import { UnknownModeError } from "@pyrexis/models";
import { AsyncExecutor } from "./async-executor.js";
import type { Executor } from "./executor.js";
import type { HandlerMap, Logger } from "./handlers.js";
import type { PoolExecutorOptions } from "./pool-options.js";
import { ProcessExecutor } from "./process-executor.js";
import { ThreadExecutor } from "./thread-executor.js";

/**
 * Maps job modes (`"async"`, `"thread"`, `"process"` or your own names) to executors. Users add
 * or replace modes with {@link ExecutorRouter.set}.
 *
 * @example
 * ```ts
 * const router = new ExecutorRouter({ async: new AsyncExecutor({ handlers }), gpu: myGpuExecutor });
 * await router.get(job.mode).run(task, { signal, onProgress });
 * await router.close();
 * ```
 */
export class ExecutorRouter {
  readonly #executors = new Map<string, Executor>();

  constructor(executors: Readonly<Record<string, Executor | undefined>> = {}) {
    for (const [mode, executor] of Object.entries(executors)) if (executor !== undefined) this.set(mode, executor);
  }

  /** The executor of `mode`; throws `UnknownModeError` listing the known modes. */
  get(mode: string): Executor {
    const executor = this.#executors.get(mode);
    if (executor === undefined) throw new UnknownModeError(mode, this.modes);
    return executor;
  }

  /** True when `mode` has an executor. */
  has(mode: string): boolean {
    return this.#executors.has(mode);
  }

  /** Adds or replaces the executor of `mode` (the replaced one is not closed). */
  set(mode: string, executor: Executor): this {
    if (typeof mode !== "string" || mode.length === 0) throw new TypeError("ExecutorRouter.set: mode must be a non-empty string");
    if (typeof executor?.run !== "function" || typeof executor.close !== "function") {
      throw new TypeError(`ExecutorRouter.set: executor for "${mode}" must implement run() and close()`);
    }
    this.#executors.set(mode, executor);
    return this;
  }

  /** The registered mode names, in insertion order. */
  get modes(): string[] {
    return [...this.#executors.keys()];
  }

  /** Closes every executor (each once, in parallel); rethrows the first failure after all finished. */
  async close(): Promise<void> {
    await settleAll([...new Set(this.#executors.values())].map((e) => e.close()));
  }

  /** Terminates every executor (falls back to `close()` for those without `terminate`). */
  async terminate(): Promise<void> {
    await settleAll([...new Set(this.#executors.values())].map((e) => (e.terminate ? e.terminate() : e.close())));
  }
}

async function settleAll(promises: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === "rejected") throw r.reason as Error;
}

/** Options of {@link createExecutors}. */
export interface CreateExecutorsOptions {
  /** Handlers of the async mode: inline map or module path. Defaults to `handlersModule`. */
  readonly handlers?: HandlerMap | string | URL;
  /** Handlers module for the thread and process modes (without it, those modes are absent). */
  readonly handlersModule?: string | URL;
  readonly thread?: Omit<PoolExecutorOptions, "handlersModule">;
  readonly process?: Omit<PoolExecutorOptions, "handlersModule">;
  /** Default logger of all three executors. */
  readonly logger?: Logger;
}

/**
 * A router with the built-in modes: `async` always, `thread` and `process` when a handlers module
 * is known (`handlersModule`, or `handlers` given as a path). Worker pools start on first use,
 * so an engine that never runs a process job never spawns a child.
 *
 * @example
 * ```ts
 * const router = createExecutors({ handlersModule: new URL("./handlers.js", import.meta.url), thread: { maxWorkers: 2 } });
 * ```
 */
export function createExecutors(options: CreateExecutorsOptions): ExecutorRouter {
  const module =
    options.handlersModule ?? (typeof options.handlers === "string" || options.handlers instanceof URL ? options.handlers : undefined);
  const handlers = options.handlers ?? module;
  if (handlers === undefined) throw new TypeError("createExecutors: give handlers or handlersModule");
  const logger = options.logger === undefined ? {} : { logger: options.logger };
  const router = new ExecutorRouter({ async: new AsyncExecutor({ handlers, ...logger }) });
  if (module !== undefined) {
    router.set("thread", new ThreadExecutor({ ...logger, ...options.thread, handlersModule: module }));
    router.set("process", new ProcessExecutor({ ...logger, ...options.process, handlersModule: module }));
  }
  return router;
}

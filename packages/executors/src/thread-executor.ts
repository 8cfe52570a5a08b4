import type { PoolExecutorOptions } from "./pool-options.js";
import { PoolExecutor } from "./pool-executor.js";

/** Options of {@link ThreadExecutor}. */
export type ThreadExecutorOptions = PoolExecutorOptions;

/**
 * Runs handlers in a pool of worker threads (tinypool `worker_threads`): the mode for CPU-bound
 * JavaScript. Workers import `handlersModule` once and then run tasks; payloads and outputs are
 * copied (structured clone). A handler that ignores an abort for `abortGraceMs` is killed with its
 * thread (other tasks sharing that thread fail with `WorkerCrashedError`); a dead thread is replaced.
 * The pool starts on the first `run`.
 *
 * @example
 * ```ts
 * const executor = new ThreadExecutor({ handlersModule: new URL("./handlers.js", import.meta.url), maxWorkers: 2 });
 * const out = await executor.run(task, { signal, onProgress });
 * await executor.close();
 * ```
 */
export class ThreadExecutor extends PoolExecutor {
  constructor(options: ThreadExecutorOptions) {
    super("worker_threads", options);
  }
}

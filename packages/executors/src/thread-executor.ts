import type { ExecutionOptions, ExecutionTask, Executor } from "./executor.js";
import { WorkerPool, type PoolExecutorOptions } from "./pool.js";

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
export class ThreadExecutor implements Executor {
  readonly #pool: WorkerPool;

  constructor(options: ThreadExecutorOptions) {
    this.#pool = new WorkerPool("worker_threads", options);
  }

  /** Runs one attempt in a worker thread. */
  run(task: ExecutionTask, options: ExecutionOptions): Promise<unknown> {
    return this.#pool.run(task, options);
  }

  /** Stops accepting runs, waits for in-flight ones, then stops every thread. Idempotent. */
  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Rejects in-flight runs with `InterruptedError` and stops every thread now. Idempotent. */
  terminate(): Promise<void> {
    return this.#pool.terminate();
  }
}

import type { ExecutionOptions, ExecutionTask, Executor } from "./executor.js";
import { WorkerPool, type PoolExecutorOptions } from "./pool.js";

/** Options of {@link ProcessExecutor}. */
export type ProcessExecutorOptions = PoolExecutorOptions;

/**
 * Runs handlers in a pool of child processes (tinypool `child_process`): the mode for CPU-bound
 * work that must be isolated (a crash, leak or native fault kills only the child). Children import `handlersModule` once and then run tasks; payloads and outputs are
 * sent as JSON over IPC. A handler that ignores an abort for `abortGraceMs` is killed with its
 * process (SIGTERM, then SIGKILL; other tasks sharing that child fail with `WorkerCrashedError`); a dead child is replaced.
 * The pool starts on the first `run`.
 *
 * @example
 * ```ts
 * const executor = new ProcessExecutor({ handlersModule: new URL("./handlers.js", import.meta.url), maxWorkers: 2 });
 * const out = await executor.run(task, { signal, onProgress });
 * await executor.close();
 * ```
 */
export class ProcessExecutor implements Executor {
  readonly #pool: WorkerPool;

  constructor(options: ProcessExecutorOptions) {
    this.#pool = new WorkerPool("child_process", options);
  }

  /** Runs one attempt in a child process. */
  run(task: ExecutionTask, options: ExecutionOptions): Promise<unknown> {
    return this.#pool.run(task, options);
  }

  /** Stops accepting runs, waits for in-flight ones, then stops every child. Idempotent. */
  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Rejects in-flight runs with `InterruptedError` and stops every child now. Idempotent. */
  terminate(): Promise<void> {
    return this.#pool.terminate();
  }
}

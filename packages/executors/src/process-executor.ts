import type { PoolExecutorOptions } from "./pool-options.js";
import { PoolExecutor } from "./pool-executor.js";

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
export class ProcessExecutor extends PoolExecutor {
  constructor(options: ProcessExecutorOptions) {
    super("child_process", options);
  }
}

import type { ExecutionOptions, ExecutionTask, Executor } from "./executor.js";
import type { RunControl } from "./run-control.js";
import type { PoolExecutorOptions } from "./pool-options.js";
import { ProcessLink, type ProcessTask } from "./process-link.js";
import { ThreadLink, type ThreadTask } from "./thread-link.js";
import { WorkerPool } from "./worker-pool.js";

/** What the thread and process executors share: a {@link WorkerPool} of one runtime. */
export abstract class PoolExecutor implements Executor {
  readonly #pool: WorkerPool<ThreadTask> | WorkerPool<ProcessTask>;

  protected constructor(runtime: "worker_threads" | "child_process", options: PoolExecutorOptions) {
    this.#pool = runtime === "worker_threads" ? new WorkerPool(new ThreadLink(), options) : new WorkerPool(new ProcessLink(), options);
  }

  /** Runs one attempt in a worker. */
  run(task: ExecutionTask, options: ExecutionOptions): Promise<unknown> {
    return this.#pool.run(task, options);
  }

  /**
   * Runs one attempt like {@link run}, reporting the outcome to `control.settle` (once, never
   * inside this call) instead of returning a promise: what the engine calls.
   */
  start(task: ExecutionTask, control: RunControl): void {
    this.#pool.start(task, control);
  }

  /** Stops accepting runs, waits for in-flight ones, then stops every worker. Idempotent. */
  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Rejects in-flight runs with `InterruptedError` and stops every worker now. Idempotent. */
  terminate(): Promise<void> {
    return this.#pool.terminate();
  }
}

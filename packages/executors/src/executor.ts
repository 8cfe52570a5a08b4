import type { RunControl } from "./run-control.js";

/** One attempt of a job, as an executor sees it. */
export interface ExecutionTask {
  readonly jobId: string;
  /** Name of the handler to run. */
  readonly handler: string;
  /** JSON payload. */
  readonly payload: unknown;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

/** How the caller steers and watches one run. */
export interface ExecutionOptions {
  /**
   * Aborting it stops the run: the executor rejects with `signal.reason` (a `TimeoutError` or
   * `CancelledError` from the engine). Thread and process executors terminate a worker whose
   * handler ignores the abort after a grace period.
   */
  readonly signal: AbortSignal;
  /** Receives the handler's `ctx.progress(value)` calls, in order, while the job runs. */
  onProgress(value: unknown): void;
  /** Receives the handler's `ctx.charge(units, key)` calls, in order with its progress (optional). */
  onCharge?(units: number, key: string | undefined): void;
}

/**
 * Runs handlers. The engine routes each job to an executor by its `mode`.
 *
 * @example
 * ```ts
 * const output = await executor.run(
 *   { jobId: "j1", handler: "resize", payload: { w: 64 }, attempt: 1 },
 *   { signal: AbortSignal.timeout(5_000), onProgress: (p) => console.log(p) },
 * );
 * ```
 */
export interface Executor {
  /** Runs one attempt; resolves with the handler's JSON output or rejects with its error. */
  run(task: ExecutionTask, options: ExecutionOptions): Promise<unknown>;
  /**
   * Optional: runs one attempt like {@link run} but reports the outcome to `control.settle`
   * (exactly once, never synchronously inside this call) instead of returning a promise, which
   * saves a promise and its callbacks per run on a caller's hot path. Callers fall back to
   * `run` when an executor does not have it.
   */
  start?(task: ExecutionTask, control: RunControl): void;
  /** Finishes in-flight work, then releases workers. Idempotent. */
  close(): Promise<void>;
  /** Stops at once: in-flight runs reject, workers are killed. Idempotent. */
  terminate?(): Promise<void>;
}

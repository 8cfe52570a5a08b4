// Options of the thread and process executors, and their validation into the settings the pool
// and its runtime link use.
import { availableParallelism } from "node:os";
import { silentLogger, toModuleHref, type Logger } from "./handlers.js";

/** V8 limits of one worker thread (see `worker_threads` `resourceLimits`). */
export interface WorkerResourceLimits {
  /** Heap limit in MB; a thread above it dies (the attempt fails with `WorkerCrashedError`). */
  readonly maxOldGenerationSizeMb?: number;
  readonly maxYoungGenerationSizeMb?: number;
  readonly codeRangeSizeMb?: number;
  readonly stackSizeMb?: number;
}

/** Options shared by {@link ThreadExecutor} and {@link ProcessExecutor}. */
export interface PoolExecutorOptions {
  /** Path or URL of the ESM handlers module every worker imports. */
  readonly handlersModule: string | URL;
  /** Workers kept alive (default: `maxWorkers`, so a replaced worker is refilled at once). */
  readonly minWorkers?: number;
  /** Upper bound of workers (default: `os.availableParallelism()`). */
  readonly maxWorkers?: number;
  /** Tasks one worker runs at the same time (default 1; raise it for async handlers). */
  readonly concurrentTasksPerWorker?: number;
  /** How long a handler may ignore an abort before its worker is killed (default 1000 ms). */
  readonly abortGraceMs?: number;
  /** Replace a worker after it has run this many tasks (default: never). */
  readonly recycleAfterTasks?: number;
  /**
   * Replace a worker, once idle, whose memory is above this many MB after a task
   * (heapUsed for threads, rss for processes; default: never).
   */
  readonly maxMemoryMb?: number;
  /**
   * V8 limits per worker. Threads get all of them; processes honor `maxOldGenerationSizeMb`
   * (as `--max-old-space-size`).
   */
  readonly resourceLimits?: WorkerResourceLimits;
  /** Idle workers above `minWorkers` stop after this long (default 30 s). */
  readonly idleTimeoutMs?: number;
  /** Receives handlers' `ctx.logger` calls and pool diagnostics. Silent by default. */
  readonly logger?: Logger;
}

/** {@link PoolExecutorOptions} validated, with their defaults applied. Frozen. */
export interface PoolSettings {
  /** The executor's name for messages (`"ThreadExecutor"`). */
  readonly label: string;
  /** Href of the handlers module. */
  readonly module: string;
  readonly logger: Logger;
  readonly abortGraceMs: number;
  readonly minWorkers: number;
  readonly maxWorkers: number;
  readonly concurrency: number;
  /** 0: never. */
  readonly recycleAfterTasks: number;
  /** 0: never. */
  readonly maxMemoryBytes: number;
  readonly idleTimeoutMs: number;
  readonly resourceLimits: WorkerResourceLimits | undefined;
}

const COUNTS = [
  "minWorkers",
  "maxWorkers",
  "concurrentTasksPerWorker",
  "abortGraceMs",
  "recycleAfterTasks",
  "maxMemoryMb",
  "idleTimeoutMs",
] as const;

/**
 * Checks `options` of the executor named `label` and fills in the defaults. Throws `TypeError`
 * for a missing handlers module and `RangeError` for a number out of range (programmer errors).
 */
export function resolvePoolOptions(label: string, options: PoolExecutorOptions): PoolSettings {
  if (typeof options !== "object" || options === null) throw new TypeError(`${label}: options are required`);
  const module = options.handlersModule;
  if (!(typeof module === "string" && module.length > 0) && !(module instanceof URL)) {
    throw new TypeError(`${label}: options.handlersModule must be a module path or URL`);
  }
  for (const key of COUNTS) {
    const v = options[key];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0))
      throw new RangeError(`${label}: options.${key} must be a number >= 0, got ${String(v)}`);
  }
  if (options.maxWorkers !== undefined && options.maxWorkers < 1) throw new RangeError(`${label}: options.maxWorkers must be >= 1`);
  if (options.concurrentTasksPerWorker !== undefined && options.concurrentTasksPerWorker < 1) {
    throw new RangeError(`${label}: options.concurrentTasksPerWorker must be >= 1`);
  }
  const maxWorkers = Math.max(1, Math.floor(options.maxWorkers ?? availableParallelism()));
  return Object.freeze({
    label,
    module: toModuleHref(module),
    logger: options.logger ?? silentLogger,
    abortGraceMs: options.abortGraceMs ?? 1000,
    minWorkers: Math.min(maxWorkers, Math.max(1, Math.floor(options.minWorkers ?? maxWorkers))),
    maxWorkers,
    concurrency: Math.floor(options.concurrentTasksPerWorker ?? 1),
    recycleAfterTasks: options.recycleAfterTasks ?? 0,
    maxMemoryBytes: (options.maxMemoryMb ?? 0) * 1024 * 1024,
    idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
    resourceLimits: options.resourceLimits ? Object.freeze({ ...options.resourceLimits }) : undefined,
  });
}

// What a worker pool needs from one runtime (worker threads or child processes): how tasks reach
// a worker, how an abort does, and how the pool learns which worker holds a task. The pool keeps
// everything else (settling, progress order, resubmits, lifecycle) the same for both.
import type { Tinypool } from "tinypool";
import type { ExecutionTask } from "./executor.js";
import type { PoolSettings } from "./pool-options.js";
import type { PoolTask, TaskHost } from "./pool-task.js";
import type { TaskControl } from "./task-control.js";
import type { WireAnswer } from "./wire.js";
import type { WorkerWatch } from "./worker-watch.js";

/** The file tinypool loads in every worker, of either runtime. */
export const WORKER_ENTRY: URL = new URL("./worker-entry.js", import.meta.url);

/** The pool as a link sees it. */
export interface LinkHost<T extends PoolTask> extends TaskHost {
  /** The tasks in flight, by key. */
  readonly tasks: ReadonlyMap<number, T>;
}

/** What {@link WorkerLink.open} returns: the running pool and its watch. */
export interface OpenPool {
  readonly pool: Tinypool;
  readonly watch: WorkerWatch;
}

/** One runtime's way of running pool tasks. `T` is its task record. */
export interface WorkerLink<T extends PoolTask> {
  /** The executor's name, for messages (`"ThreadExecutor"`). */
  readonly label: string;
  /** How messages name a worker (`"worker thread"`, `"child process"`). */
  readonly kind: string;
  /** Starts tinypool for this runtime (on the executor's first run). */
  open(settings: PoolSettings, host: LinkHost<T>): OpenPool;
  /** The record of one run. */
  createTask(host: TaskHost, key: number, task: ExecutionTask, control: TaskControl): T;
  /** Hands `task` to tinypool (again, when it is resubmitted); settles with the worker's answer. */
  send(task: T): Promise<WireAnswer>;
  /** Tells the worker that holds `task`, if any, that the caller aborted it. */
  abort(task: T): void;
  /**
   * The worker to kill because `task`'s handler ignored its abort past the grace period, or
   * `undefined` when no worker runs it (it never started, or its worker will skip it).
   */
  workerToKill(task: T): number | undefined;
  /** The worker announced that `task`'s handler started (processes running several tasks at once). */
  onStarted(task: T): void;
  /** The worker that runs or ran `task`, if known. */
  workerOf(task: T): number | undefined;
  /**
   * True when `task` surely never started its handler although its worker stopped with `error`,
   * so it can run on another worker.
   */
  neverStarted(task: T, error: unknown): boolean;
  /** Why `task`'s worker died, for its `WorkerCrashedError`. */
  describeCrash(task: T, error: unknown): string;
  /** The first task in flight went out. */
  onBusy(): void;
  /** The last task in flight is done with. */
  onIdle(): void;
  /** `task` is done with: free what it held. */
  release(task: T): void;
  /** The pool was destroyed. */
  close(): void;
}

/**
 * The detail of a `WorkerCrashedError` from the error tinypool failed the task with: the worker's
 * kind and id, and the error's code and message (a message that already names the worker is kept).
 */
export function crashDetail(kind: string, id: number | undefined, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (message.startsWith(kind)) return message;
  const code = (error as { code?: unknown } | null)?.code;
  return `${kind}${id === undefined ? "" : ` ${id}`}: ${typeof code === "string" ? `${code}: ` : ""}${message}`;
}

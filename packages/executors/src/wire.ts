import type { SerializedError } from "@pyrexis/models";
import type { LogLevel } from "./handlers.js";

// The protocol between the pool executors and worker-entry.ts. Short keys: these objects cross a
// thread or process boundary once per task, and the no-op benchmark is sensitive to their size.

/** Configuration every worker reads at startup (workerData for threads, env for processes). */
export interface WorkerConfig {
  /** Handlers module href. */
  readonly module: string;
  /** Retire after this many tasks (0: never). */
  readonly recycleAfterTasks: number;
  /** Retire when memory (bytes; heapUsed in threads, rss in processes) exceeds this (0: never). */
  readonly maxMemoryBytes: number;
  /** Tasks one worker runs at once (`concurrentTasksPerWorker`; 1 when absent). */
  readonly concurrency?: number;
  /** BroadcastChannel names (threads only): worker → main events, main → worker control. */
  readonly up?: string;
  readonly down?: string;
  /** Threads only: shared table of task cells (pairs: worker id once started, abort flag). */
  readonly slots?: SharedArrayBuffer;
}

/** Name of the env var that carries {@link WorkerConfig} as JSON to child processes. */
export const WORKER_CONFIG_ENV = "PYREXIS_WORKER_CONFIG";

/** One task, main → worker. */
export interface WireTask {
  /** Routing key, unique per executor. */
  readonly k: number;
  readonly j: string;
  readonly h: string;
  readonly p: unknown;
  readonly a: number;
  /** Threads: this task's pair in the shared slot table... */
  readonly i?: number;
  /** ...or, when the table is full, its own Int32Array(2) buffer. */
  readonly s?: SharedArrayBuffer;
}

/** How a task ended, worker → main (the tinypool return value). `rt`: retire this worker now. */
export type WireResult =
  | { t: "ok"; v: unknown; n: number; id: number; rt?: boolean }
  | { t: "err"; e: SerializedError; n: number; id: number; rt?: boolean }
  /** Aborted before it started: the handler never ran. */
  | { t: "skip"; id: number; rt?: boolean }
  /** The worker is retiring and did not run the task: run it elsewhere. */
  | { t: "retry"; id: number; rt?: boolean }
  /** The handlers module failed to load in this worker. */
  | { t: "load"; e: SerializedError; id: number };

/** Events while a task runs, worker → main. `n` counts progress messages for ordering. */
export type WireEvent =
  | { k: number; t: "p"; v: unknown }
  | { k: number; t: "l"; l: LogLevel; o: Record<string, unknown>; m?: string | undefined }
  /**
   * Process workers running several tasks at once: the task's handler started and went
   * asynchronous (its synchronous part is over) in the child with this pid.
   */
  | { k: number; t: "s"; id: number };

/** Control messages, main → worker. */
export interface WireAbort {
  t: "abort";
  k: number;
  r: SerializedError;
}

/** Tag on process IPC messages that are ours (tinypool ignores untagged ones and vice versa). */
export const TAG = "__pyrexis__";

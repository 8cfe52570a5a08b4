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
  /** Threads only, under tsx: href of tsx's `tsx/esm/api`, to import the handlers module through. */
  readonly tsx?: string;
}

/** Name of the env var that carries {@link WorkerConfig} as JSON to child processes. */
export const WORKER_CONFIG_ENV = "PYREXIS_WORKER_CONFIG";

/**
 * One task, main → worker: a tuple, not an object, because structured clone and JSON write an
 * object's keys with every message (measured: a six-field object clones in ~1.2 µs, the same
 * values as an array in ~0.75 µs). Fields: routing key (unique per executor), job id, handler
 * name, payload, attempt, and for threads the task's cell pair: an index into the shared slot
 * table or, when the table is full, its own `Int32Array(2)` buffer.
 */
export type WireTask = readonly [k: number, j: string, h: string, p: unknown, a: number, cell?: number | SharedArrayBuffer];

/**
 * In a process task's last position: the payload was `undefined`. Children receive JSON, which
 * would turn `undefined` inside the tuple into `null`; threads get a structured clone and keep it.
 */
export const NO_PAYLOAD = -1;

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

/**
 * A primitive output that needs nothing else said (no progress was sent, the worker is not
 * retiring) travels as itself, which is what a no-op task pays for: cloning `null` costs ~0.2 µs,
 * the `{ t, v, n, id }` object ~0.9 µs. Every {@link WireResult} is an object, so the two cannot
 * be confused.
 */
export type WirePlainOk = string | number | boolean | null;

/** What the worker entry returns for one task. */
export type WireAnswer = WireResult | WirePlainOk;

/** True when `answer` is a {@link WirePlainOk}: the task succeeded with this output. */
export function isPlainOk(answer: WireAnswer): answer is WirePlainOk {
  return typeof answer !== "object" || answer === null;
}

/** Events while a task runs, worker → main. `n` counts progress and charge messages for ordering. */
export type WireEvent =
  | { k: number; t: "p"; v: unknown }
  /** `ctx.charge(u, y)`: counted in `n` with progress, so the result never overtakes it. */
  | { k: number; t: "c"; u: number; y?: string | undefined }
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

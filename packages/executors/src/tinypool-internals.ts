// Everything the executors assume about tinypool beyond its documented API (filename, runtime,
// thread counts, env, execArgv, workerData, resourceLimits, `run(task, { channel })`, destroy),
// gathered in one module: nothing else reads a tinypool worker's fields, emits on a worker or
// matches a tinypool message. Each assumption has its own test in test/tinypool-internals.test.ts,
// and package.json pins tinypool to the minor version those tests cover, so an upgrade that
// changes one fails there, by name.
//
// Loaded by the worker entry and the worker preload too: type imports only, no tinypool code in a
// worker.
import type { Tinypool, TinypoolWorker } from "tinypool";

/**
 * Worker threads: what a thread receives as `workerData` is tinypool's `[privateData, workerData]`,
 * so the pool's `workerData` is the second element. (Reading it here avoids importing tinypool's
 * main module in every worker just for its `Tinypool.workerData` getter.)
 */
export function poolWorkerData<T>(threadWorkerData: unknown): T {
  return (threadWorkerData as readonly [unknown, T])[1];
}

/**
 * The pool's workers, those still starting included; a worker tinypool dropped (crashed, failed
 * with {@link failWorker}, stopped) is no longer listed. A new array per call.
 */
export function workersOf(pool: Tinypool): readonly TinypoolWorker[] {
  return pool.threads;
}

/**
 * A worker's id: the `threadId` of a worker thread (what `threadId` says inside it), and the pid
 * of a child process (tinypool stores the child's pid in `threadId`), known as soon as tinypool
 * lists the worker.
 */
export function workerIdOf(worker: TinypoolWorker): number {
  return worker.threadId;
}

/**
 * Child processes: the `channel` of the task tinypool handed to this child last. Tinypool calls
 * that channel's `onMessage(send)` when it hands the task over, synchronously and before it posts
 * the task, so a message sent from `onMessage` reaches the child first; it then delivers every
 * IPC message of the child that is not its own (no `__tinypool_worker_message__` field) to this
 * channel's `postMessage`, and the child's tinypool entry ignores our messages likewise.
 */
export function currentChannelOf(worker: TinypoolWorker): unknown {
  return (worker as { channel?: unknown }).channel;
}

/**
 * Makes tinypool drop `worker` as if it had failed with `error`: each task on it rejects with this
 * very `error`, a replacement starts (down to `minThreads`), and a worker without a task makes the
 * pool itself emit `"error"` with it (which needs a listener). Tinypool has no API to stop one
 * worker; this is how a stuck or recycled worker is retired.
 */
export function failWorker(worker: TinypoolWorker, error: Error): void {
  worker.emit("error", error);
}

/**
 * Calls `listener` once when the worker exits: `(exitCode, signal)` for a child process,
 * `(exitCode)` for a thread (then `signal` is `undefined`).
 */
export function onWorkerExit(worker: TinypoolWorker, listener: (code: number | null, signal: string | null | undefined) => void): void {
  worker.once("exit", listener);
}

/**
 * Worker threads: tinypool does not watch a thread's `exit`, so a thread that calls
 * `process.exit` would stay listed with its tasks never settled. Called from the exit listener:
 * fails the thread (its tasks reject with an error naming the exit code) if tinypool still lists it.
 */
export function dropExitedThread(pool: Tinypool, worker: TinypoolWorker, code: number | null): void {
  if (workersOf(pool).includes(worker))
    failWorker(worker, new Error(`worker thread ${workerIdOf(worker)} exited with code ${String(code)}`));
}

/**
 * True for the error a task rejects with when tinypool stopped the worker holding it, or never
 * gave it one (`destroy()`, a worker it removed itself): the handler may not have started.
 */
export function isTermination(error: unknown): boolean {
  return error instanceof Error && error.message === "Terminating worker thread";
}

/** Tinypool's worker entries, the main script of every worker it starts (thread or child). */
const TINYPOOL_ENTRY = /[\\/]tinypool[\\/]dist[\\/]entry[\\/](?:worker|process)\.js$/;

/**
 * True when `script` (a worker's `process.argv[1]`) is one of tinypool's worker entries: the
 * worker was started by tinypool, not by a handler (which inherits the preload's `--import`).
 */
export function isTinypoolEntry(script: string | undefined): boolean {
  return script !== undefined && TINYPOOL_ENTRY.test(script);
}

/**
 * Tinypool's worker entry takes its copy of `process.memoryUsage` once, when it loads
 * (`process.memoryUsage.bind(process)`, before any task module is imported), and calls that copy
 * after every task, reading `heapUsed` only (for `maxMemoryLimitBeforeRecycle`). Nothing else reads
 * `process.memoryUsage` in a worker before that, so this, called from a module the worker imports
 * first, gives `reader` to tinypool's entry alone: the first read of `process.memoryUsage` gets
 * `reader` and puts the real function back for every later one.
 */
export function installTinypoolMemoryReader(reader: () => NodeJS.MemoryUsage): void {
  const real = Object.getOwnPropertyDescriptor(process, "memoryUsage");
  if (real === undefined || !real.configurable || !("value" in real)) return;
  Object.defineProperty(process, "memoryUsage", {
    configurable: true,
    enumerable: real.enumerable ?? true,
    get() {
      Object.defineProperty(process, "memoryUsage", real);
      return reader;
    },
    // Whoever assigns first (before any read) replaces it for good, as with the plain property.
    set(value: unknown) {
      Object.defineProperty(process, "memoryUsage", { ...real, value });
    },
  });
}

/** The file each worker imports first (`--import`): see `worker-preload.ts`. */
export const WORKER_PRELOAD: URL = new URL("./worker-preload.js", import.meta.url);

/** Flags of the main process a worker thread accepts in `execArgv` and that take a value. */
const THREAD_VALUE_FLAGS = new Set(["--import", "--require", "-r", "--loader", "--experimental-loader", "--conditions", "-C"]);
/** Flags without a value a worker thread accepts in `execArgv` (exported for the test that starts a thread with each). */
export const THREAD_FLAGS: ReadonlySet<string> = new Set([
  "--enable-source-maps",
  "--no-warnings",
  "--no-deprecation",
  "--trace-warnings",
  "--trace-uncaught",
  "--preserve-symlinks",
  "--experimental-import-meta-resolve",
  "--experimental-vm-modules",
  "--experimental-require-module",
  "--experimental-detect-module",
]);

/** The `execArgv` of a pool's child processes: the main process's flags and the preload (a child takes any flag). */
export function childExecArgv(parent: readonly string[]): string[] {
  return [...parent, "--import", WORKER_PRELOAD.href];
}

/**
 * The `execArgv` of a pool's worker threads, or `undefined` to inherit the main thread's. A thread
 * given `execArgv` no longer inherits its parent's flags and refuses process-wide ones
 * (`--max-old-space-size`, `--expose-gc`: `ERR_WORKER_INVALID_EXEC_ARGV`), so threads get the
 * preload only when every flag of the main process is one they are known to accept; otherwise
 * they inherit, and tinypool keeps its full memory reads.
 */
export function threadExecArgv(parent: readonly string[]): string[] | undefined {
  for (let i = 0; i < parent.length; i++) {
    const arg = parent[i]!;
    const flag = arg.split("=", 1)[0]!;
    if (THREAD_VALUE_FLAGS.has(flag)) {
      if (flag === arg) i++;
    } else if (!THREAD_FLAGS.has(arg)) return undefined;
  }
  return [...parent, "--import", WORKER_PRELOAD.href];
}

// Two more assumptions need no code here, only their tests:
// - Child processes get each task as JSON (tinypool keeps Node's default IPC serialization):
//   `undefined` inside the task tuple arrives as `null`, hence the wire's NO_PAYLOAD mark.
// - A child starts the tasks it is handed in the order it was handed them, which is how the
//   process link tells which unreported task is the one blocking a silent child.

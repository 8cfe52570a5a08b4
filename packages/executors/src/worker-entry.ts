// Worker entry for ThreadExecutor and ProcessExecutor: tinypool loads this file in each worker
// thread / child process and calls the default export once per task.
//
// Hot path: a no-op task must cost little more than tinypool's own round trip, so a task whose
// handler returns a plain value is answered in the same tick (tinypool awaits whatever we return;
// a plain value costs it one microtask, an async function three or more). Per task there is one
// small record (TaskRun) and no closure; the AbortController behind ctx.signal is made only when
// the handler reads it.
import { BroadcastChannel, isMainThread, threadId, workerData } from "node:worker_threads";
import { deserializeError, nonRetryableCode, serializeError } from "@pyrexis/models";
import type { ExecutionTask } from "./executor.js";
import { loadHandlersModule, type HandlerMap, type LogLevel } from "./handlers.js";
import { invokeOn, type InvokeOutcome, type InvokeSinks } from "./invoke.js";
import { poolWorkerData } from "./tinypool-internals.js";
import { nativeImport, tsxImporter } from "./typescript.js";
import {
  NO_PAYLOAD,
  TAG,
  WORKER_CONFIG_ENV,
  type WireAbort,
  type WireAnswer,
  type WireEvent,
  type WirePlainOk,
  type WireResult,
  type WireTask,
  type WorkerConfig,
} from "./wire.js";

const isChild = isMainThread && typeof process.send === "function";
const config: WorkerConfig = isChild
  ? (JSON.parse(process.env[WORKER_CONFIG_ENV] ?? "{}") as WorkerConfig)
  : poolWorkerData<WorkerConfig>(workerData);
const workerId = isChild ? process.pid : threadId;
/** Where this worker looks handlers up, for messages. */
const where = isChild ? `child process ${process.pid}` : `worker thread ${threadId}`;
const slots = config.slots === undefined ? undefined : new Int32Array(config.slots);
/**
 * Process workers running several tasks at once tell the main process which of them have started,
 * so that when a child is killed its tasks that never started are re-run elsewhere and only the
 * started ones fail. A child runs its tasks in the order they arrive, so it is enough to report
 * each task once its handler's synchronous part is over: by its result when it finished, by a
 * start message when it went asynchronous. The one task the main process hears nothing about
 * while the child stays silent is the one blocking it; the tasks behind it have not started. A
 * no-op or CPU-bound (synchronous) handler therefore costs no extra message.
 */
const announceStarts = isChild && (config.concurrency ?? 1) > 1;

// Start importing at once so the first task does not pay for it; a failure is reported per task.
// A thread under tsx imports it through tsx (see typescript.ts); children have tsx's --import.
const handlers: Promise<HandlerMap> = loadHandlersModule(config.module, config.tsx === undefined ? nativeImport : tsxImporter(config.tsx));
/** The handler map once imported: later tasks use it without awaiting. */
let loaded: HandlerMap | undefined;
handlers.then(
  (map) => {
    loaded = map;
  },
  () => {},
);

/** Tasks whose handler went asynchronous, by routing key (aborts look them up here). */
const running = new Map<number, TaskRun>();
/** Process workers: aborts that arrived before their task (both travel the same IPC pipe). */
const preAborted = new Set<number>();
let inflight = 0;
let completed = 0;
let retiring = false;

function onAbort(msg: WireAbort): void {
  const run = running.get(msg.k);
  if (run) run.abort(deserializeError(msg.r));
  else if (isChild) preAborted.add(msg.k);
}

/** The process that started this child: when it dies, this child is orphaned (`process.ppid` changes). */
const parentPid = isChild ? process.ppid : 0;

/**
 * A child whose parent (the engine) died must not run anything more: no one can hear its result,
 * and the job is reclaimed and run elsewhere once its lease expires. Tasks still in the IPC pipe
 * are delivered before `disconnect`, so each task also checks that the parent is still the same.
 */
function exitIfOrphaned(): void {
  if (isChild && (!process.connected || process.ppid !== parentPid)) process.exit(1);
}

let emit: (event: WireEvent) => void;
if (isChild) {
  process.on("disconnect", () => process.exit(1));
  const send = process.send!.bind(process);
  emit = (event) => {
    (event as WireEvent & { [TAG]?: 1 })[TAG] = 1;
    send(event);
  };
  process.on("message", (msg: unknown) => {
    const m = msg as Partial<WireAbort> | null;
    if (typeof m === "object" && m !== null && TAG in m && m.t === "abort") onAbort(m as WireAbort);
  });
} else {
  const up = new BroadcastChannel(config.up!);
  const down = new BroadcastChannel(config.down!);
  up.unref();
  down.unref();
  down.onmessage = (ev: unknown): void => onAbort((ev as { data: WireAbort }).data);
  emit = (event) => up.postMessage(event);
}

function toWireObject(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) out[key] = value instanceof Error ? serializeError(value) : value;
  return out;
}

function memoryBytes(): number {
  return isChild ? process.memoryUsage.rss() : process.memoryUsage().heapUsed;
}

function shouldRetire(): boolean {
  if (!retiring) {
    if (config.recycleAfterTasks > 0 && completed >= config.recycleAfterTasks) retiring = true;
    else if (config.maxMemoryBytes > 0 && memoryBytes() > config.maxMemoryBytes) retiring = true;
  }
  return retiring && inflight === 0;
}

/**
 * One running task: the handler's sinks (ctx.signal, progress, logs) and how it ends. A class, not
 * closures: it is the per-task allocation of the hot path.
 */
class TaskRun implements InvokeSinks, InvokeOutcome, ExecutionTask {
  readonly k: number;
  readonly jobId: string;
  readonly handler: string;
  readonly payload: unknown;
  readonly attempt: number;
  /** Progress messages sent; the result carries it so it never overtakes its progress. */
  n = 0;
  /** The answer, once the handler ended (`undefined` while it runs). */
  result: WireAnswer | undefined;
  /** Settles tinypool's promise when the handler ended asynchronously. */
  resolve: ((result: WireAnswer) => void) | undefined;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  constructor(task: WireTask) {
    this.k = task[0];
    this.jobId = task[1];
    this.handler = task[2];
    this.payload = task[5] === NO_PAYLOAD ? undefined : task[3];
    this.attempt = task[4];
  }

  get where(): string {
    return where;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  progress(value: unknown): void {
    this.n++;
    emit({ k: this.k, t: "p", v: value });
  }

  charge(units: number, key: string | undefined): void {
    this.n++;
    emit(key === undefined ? { k: this.k, t: "c", u: units } : { k: this.k, t: "c", u: units, y: key });
  }

  log(level: LogLevel, obj: Record<string, unknown>, msg: string | undefined): void {
    try {
      emit({ k: this.k, t: "l", l: level, o: toWireObject(obj), m: msg });
    } catch {
      emit({ k: this.k, t: "l", l: level, o: { unserializable: true }, m: msg });
    }
  }

  ok(output: unknown): void {
    if (this.n === 0 && (typeof output !== "object" || output === null)) {
      // The common case (see WirePlainOk): the output is the whole answer, unless the worker
      // must also say that it retires.
      if (this.#finish()) this.#answer({ t: "ok", v: output, n: 0, id: workerId, rt: true });
      else this.#answer(output as WirePlainOk);
      return;
    }
    this.end({ t: "ok", v: output, n: this.n, id: workerId });
  }

  fail(error: unknown): void {
    const e = serializeError(error);
    // The retry policy must survive the boundary even when the NonRetryableError is a wrapped
    // cause (a pipeline stage error): the serialized form has no cause, so carry it in the code.
    const stop = nonRetryableCode(error);
    if (stop !== undefined) e.code = stop;
    this.end({ t: "err", e, n: this.n, id: workerId });
  }

  end(result: Extract<WireResult, { t: "ok" | "err" }>): void {
    if (this.#finish()) result.rt = true;
    this.#answer(result);
  }

  /** Counts the task as done; true when this worker must retire now. */
  #finish(): boolean {
    inflight--;
    completed++;
    if (this.resolve !== undefined) running.delete(this.k);
    return shouldRetire();
  }

  #answer(answer: WireAnswer): void {
    this.result = answer;
    this.resolve?.(answer);
  }
}

function start(map: HandlerMap, task: WireTask): WireAnswer | Promise<WireAnswer> {
  const run = new TaskRun(task);
  inflight++;
  invokeOn(map, run, run, run);
  // The synchronous fast path: the handler returned a plain value (or threw) and we are done.
  if (run.result !== undefined) return run.result;
  running.set(run.k, run);
  if (announceStarts) emit({ k: run.k, t: "s", id: workerId });
  return new Promise<WireAnswer>((resolve) => {
    run.resolve = resolve;
  });
}

/** True when the main side aborted this task before it started (the handler must not run). */
function abortedBeforeStart(task: WireTask, cells: Int32Array | undefined, base: number): boolean {
  return (cells !== undefined && Atomics.load(cells, base + 1) === 1) || preAborted.delete(task[0]);
}

/**
 * Runs one task; never throws (errors travel as data so crashes and handler errors differ).
 * Returns the result itself when the handler finished synchronously.
 */
export default function runTask(task: WireTask): WireAnswer | Promise<WireAnswer> {
  exitIfOrphaned();
  if (retiring) return { t: "retry", id: workerId, rt: inflight === 0 };
  const cell = task[5];
  const cells = typeof cell === "number" ? slots : cell !== undefined ? new Int32Array(cell) : undefined;
  const base = typeof cell === "number" ? cell * 2 : 0;
  // Store our id before reading the abort flag: the main thread writes them in the other order.
  if (cells) Atomics.store(cells, base, workerId);
  if (abortedBeforeStart(task, cells, base)) return { t: "skip", id: workerId };
  if (loaded !== undefined) return start(loaded, task);
  return handlers.then(
    (map) => (abortedBeforeStart(task, cells, base) ? { t: "skip", id: workerId } : start(map, task)),
    (error: unknown): WireResult => {
      retiring = true;
      return { t: "load", e: serializeError(error), id: workerId };
    },
  );
}

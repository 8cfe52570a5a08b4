// Worker entry for ThreadExecutor and ProcessExecutor: tinypool loads this file in each worker
// thread / child process and calls the default export once per task.
import { BroadcastChannel, isMainThread, threadId, workerData } from "node:worker_threads";
import { deserializeError, ErrorCode, isNonRetryable, serializeError } from "@pyrexis/models";
import { loadHandlersModule, type HandlerMap, type LogLevel } from "./handlers.js";
import { invokeHandler } from "./invoke.js";
import { TAG, WORKER_CONFIG_ENV, type WireAbort, type WireEvent, type WireResult, type WireTask, type WorkerConfig } from "./wire.js";

const isChild = isMainThread && typeof process.send === "function";
const config: WorkerConfig = isChild
  ? (JSON.parse(process.env[WORKER_CONFIG_ENV] ?? "{}") as WorkerConfig)
  : (workerData as [unknown, WorkerConfig])[1];
const workerId = isChild ? process.pid : threadId;
const slots = config.slots === undefined ? undefined : new Int32Array(config.slots);

// Start importing at once so the first task does not pay for it; a failure is reported per task.
const handlers: Promise<HandlerMap> = loadHandlersModule(config.module);
handlers.catch(() => {});

/** Per running task: its abort controller, created only when the handler reads ctx.signal. */
interface Running {
  controller: AbortController | undefined;
  reason: unknown;
  aborted: boolean;
}
const running = new Map<number, Running>();
/** Process workers: aborts that arrived before their task (both travel the same IPC pipe). */
const preAborted = new Set<number>();
let inflight = 0;
let completed = 0;
let retiring = false;

function onAbort(msg: WireAbort): void {
  const task = running.get(msg.k);
  if (task) {
    if (task.aborted) return;
    task.aborted = true;
    task.reason = deserializeError(msg.r);
    task.controller?.abort(task.reason);
  } else if (isChild) preAborted.add(msg.k);
}

let emit: (event: WireEvent) => void;
if (isChild) {
  const send = process.send!.bind(process);
  emit = (event) => {
    send({ ...event, [TAG]: 1 });
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

/** Runs one task; never throws (errors travel as data so crashes and handler errors differ). */
export default async function runTask(task: WireTask): Promise<WireResult> {
  if (retiring) return { t: "retry", id: workerId, rt: inflight === 0 };
  const cells = task.i !== undefined ? slots : task.s !== undefined ? new Int32Array(task.s) : undefined;
  const base = task.i !== undefined ? task.i * 2 : 0;
  // Store our id before reading the abort flag: the main thread writes them in the other order.
  if (cells) Atomics.store(cells, base, workerId);
  else emit({ k: task.k, t: "s", id: workerId });
  if ((cells && Atomics.load(cells, base + 1) === 1) || preAborted.delete(task.k)) return { t: "skip", id: workerId };
  let map: HandlerMap;
  try {
    map = await handlers;
  } catch (error) {
    retiring = true;
    return { t: "load", e: serializeError(error), id: workerId };
  }
  // AbortController construction is a measurable share of a no-op task: make it on demand.
  const state: Running = { controller: undefined, reason: undefined, aborted: false };
  running.set(task.k, state);
  inflight++;
  let n = 0;
  let result: WireResult;
  try {
    const output = await invokeHandler(
      map,
      { jobId: task.j, handler: task.h, payload: task.p, attempt: task.a },
      {
        get signal(): AbortSignal {
          if (state.controller === undefined) {
            state.controller = new AbortController();
            if (state.aborted) state.controller.abort(state.reason);
          }
          return state.controller.signal;
        },
        progress(value) {
          n++;
          emit({ k: task.k, t: "p", v: value });
        },
        log(level: LogLevel, obj, msg) {
          try {
            emit({ k: task.k, t: "l", l: level, o: toWireObject(obj), m: msg });
          } catch {
            emit({ k: task.k, t: "l", l: level, o: { unserializable: true }, m: msg });
          }
        },
      },
    );
    result = { t: "ok", v: output, n, id: workerId };
  } catch (error) {
    const e = serializeError(error);
    // The retry policy must survive the boundary even when the NonRetryableError is a wrapped
    // cause (a pipeline stage error): the serialized form has no cause, so carry it in the code.
    if (e.code !== ErrorCode.NON_RETRYABLE && isNonRetryable(error)) e.code = ErrorCode.NON_RETRYABLE;
    result = { t: "err", e, n, id: workerId };
  } finally {
    running.delete(task.k);
    inflight--;
    completed++;
  }
  if (shouldRetire()) result.rt = true;
  return result;
}

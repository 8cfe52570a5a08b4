import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { BroadcastChannel } from "node:worker_threads";
import Tinypool, { type TinypoolChannel, type TinypoolWorker } from "tinypool";
import {
  deserializeError,
  ExecutorClosedError,
  InterruptedError,
  serializeError,
  WorkerCrashedError,
  type ValidationError,
} from "@pyrexis/models";
import type { ExecutionOptions, ExecutionTask } from "./executor.js";
import { silentLogger, toModuleHref, type Logger } from "./handlers.js";
import { jsonError, writeLog } from "./invoke.js";
import { RunControl } from "./run-control.js";
import {
  isPlainOk,
  NO_PAYLOAD,
  TAG,
  WORKER_CONFIG_ENV,
  type WireAbort,
  type WireAnswer,
  type WireEvent,
  type WireResult,
  type WireTask,
  type WorkerConfig,
} from "./wire.js";

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

/** Emitted on a worker to make tinypool drop it; `resubmit`: its tasks never started a handler. */
class RetireSignal extends Error {
  readonly resubmit: boolean;
  constructor(message: string, resubmit: boolean) {
    super(message);
    this.name = "RetireSignal";
    this.resubmit = resubmit;
  }
}

/**
 * The `ValidationError` of a payload that cannot cross to a worker (a BigInt, a function, a cycle,
 * …), or `undefined`. Checked before anything is sent: a child process would otherwise fail to
 * serialize it inside tinypool, outside any task, and take the caller's process down. `undefined`
 * is let through (threads and the async executor pass it on; processes mark it).
 */
function payloadError(task: ExecutionTask): ValidationError | undefined {
  return task.payload === undefined ? undefined : jsonError(task.payload, `payload of job ${task.jobId}`);
}

/** Where a task's abort comes from: a {@link RunControl} (no AbortSignal made) or a signal. */
function isAborted(options: ExecutionOptions): boolean {
  return options instanceof RunControl ? options.aborted : options.signal.aborted;
}
function abortReason(options: ExecutionOptions): unknown {
  return options instanceof RunControl ? options.reason : options.signal.reason;
}

/**
 * One task in flight: a plain record with no per-task closure (it is its own abort listener, via
 * `handleEvent`). For processes it is also the tinypool channel of its task (tinypool calls
 * `onMessage` with the send function of the child it hands the task to, and `postMessage` with
 * that child's messages).
 */
class Pending implements TinypoolChannel {
  readonly key: number;
  readonly task: ExecutionTask;
  readonly options: ExecutionOptions;
  readonly #pool: WorkerPool;
  /** The promise of `run`; both absent for `start`, whose outcome goes to the control's `settle`. */
  readonly resolve: ((value: unknown) => void) | undefined;
  readonly reject: ((error: unknown) => void) | undefined;
  settled = false;
  /** Threads: shared cells; `cells[base]` worker id once started, `cells[base + 1]` abort flag. */
  cells: Int32Array | undefined = undefined;
  base = 0;
  /** Threads: index into the executor's shared slot table (-1: own buffer). */
  slot = -1;
  /** Processes: pid of the child the task was handed to. */
  workerId: number | undefined = undefined;
  /**
   * Processes: the handler is known to have started (the child announced it, or it is the task
   * blocking a child that gets killed).
   */
  started = false;
  /** Processes: when tinypool handed the task to its child (children run tasks in this order). */
  handed = 0;
  /** Processes: the abort went to the child before the task did, so the child skips it. */
  preAborted = false;
  /** Processes: sends a control message to the child that holds the task. */
  send: ((message: unknown) => void) | undefined = undefined;
  received = 0;
  final: Extract<WireResult, { t: "ok" | "err" }> | undefined = undefined;
  aborted = false;
  graceExpired = false;
  timer: NodeJS.Timeout | undefined = undefined;
  resubmits = 0;

  constructor(
    pool: WorkerPool,
    key: number,
    task: ExecutionTask,
    options: ExecutionOptions,
    resolve: ((value: unknown) => void) | undefined,
    reject: ((error: unknown) => void) | undefined,
  ) {
    this.#pool = pool;
    this.key = key;
    this.task = task;
    this.options = options;
    this.resolve = resolve;
    this.reject = reject;
  }

  listen(): void {
    const o = this.options;
    if (o instanceof RunControl) o.listen(this);
    else o.signal.addEventListener("abort", this);
  }

  unlisten(): void {
    const o = this.options;
    if (o instanceof RunControl) o.unlisten(this);
    else o.signal.removeEventListener("abort", this);
  }

  /** The caller aborted the run (from its RunControl or its AbortSignal). */
  handleEvent(): void {
    this.#pool.abortRun(this);
  }

  /** Tinypool hands the task to a child: `send` reaches that child. */
  onMessage(send: (message: unknown) => void): void {
    this.send = send;
    this.#pool.onHandedOver(this);
  }

  /** A message of ours from a child (routed by its key, whichever task's channel it came on). */
  postMessage(message: unknown): void {
    this.#pool.onEvent(message as WireEvent);
  }
}

const MAX_RESUBMITS = 3;
/** Slots of the shared table (threads); tasks beyond it get their own small buffer. */
const SLOTS = 4096;
const WORKER_ENTRY: URL = new URL("./worker-entry.js", import.meta.url);
let poolSeq = 0;

type Runtime = "worker_threads" | "child_process";

/** The tinypool-backed engine room shared by the thread and process executors. */
export class WorkerPool {
  readonly #runtime: Runtime;
  readonly #label: string;
  readonly #options: Readonly<PoolExecutorOptions>;
  readonly #module: string;
  readonly #logger: Logger;
  readonly #grace: number;
  #pool: Tinypool | undefined;
  #up: BroadcastChannel | undefined;
  #down: BroadcastChannel | undefined;
  #state: "open" | "closing" | "terminated" = "open";
  readonly #pending = new Map<number, Pending>();
  #nextKey = 1;
  #slots: Int32Array | undefined;
  readonly #freeSlots: number[] = [];
  #maxThreads = 1;
  #handedSeq = 0;
  #watched = 0;
  /** Processes: the children we watch, to find the one tinypool handed a task to. */
  readonly #children: TinypoolWorker[] = [];
  readonly #knownIds = new Set<number>();
  readonly #seen = new WeakSet<TinypoolWorker>();
  readonly #exits = new Map<number, { code: number | null; signal: string | null }>();
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;

  constructor(runtime: Runtime, options: PoolExecutorOptions) {
    const label = runtime === "worker_threads" ? "ThreadExecutor" : "ProcessExecutor";
    if (typeof options !== "object" || options === null) throw new TypeError(`${label}: options are required`);
    const module = options.handlersModule;
    if (!(typeof module === "string" && module.length > 0) && !(module instanceof URL)) {
      throw new TypeError(`${label}: options.handlersModule must be a module path or URL`);
    }
    for (const key of [
      "minWorkers",
      "maxWorkers",
      "concurrentTasksPerWorker",
      "abortGraceMs",
      "recycleAfterTasks",
      "maxMemoryMb",
      "idleTimeoutMs",
    ] as const) {
      const v = options[key];
      if (v !== undefined && !(Number.isFinite(v) && v >= 0))
        throw new RangeError(`${label}: options.${key} must be a number >= 0, got ${String(v)}`);
    }
    if (options.maxWorkers !== undefined && options.maxWorkers < 1) throw new RangeError(`${label}: options.maxWorkers must be >= 1`);
    if (options.concurrentTasksPerWorker !== undefined && options.concurrentTasksPerWorker < 1) {
      throw new RangeError(`${label}: options.concurrentTasksPerWorker must be >= 1`);
    }
    this.#runtime = runtime;
    this.#label = label;
    this.#options = Object.freeze({ ...options });
    this.#module = toModuleHref(module);
    this.#logger = options.logger ?? silentLogger;
    this.#grace = options.abortGraceMs ?? 1000;
  }

  #ensurePool(): Tinypool {
    if (this.#pool) return this.#pool;
    const o = this.#options;
    const maxThreads = Math.max(1, Math.floor(o.maxWorkers ?? availableParallelism()));
    const minThreads = Math.min(maxThreads, Math.max(1, Math.floor(o.minWorkers ?? maxThreads)));
    const config: WorkerConfig = {
      module: this.#module,
      recycleAfterTasks: o.recycleAfterTasks ?? 0,
      maxMemoryBytes: (o.maxMemoryMb ?? 0) * 1024 * 1024,
      concurrency: Math.floor(o.concurrentTasksPerWorker ?? 1),
    };
    const common = {
      filename: WORKER_ENTRY.href,
      minThreads,
      maxThreads,
      concurrentTasksPerWorker: Math.floor(o.concurrentTasksPerWorker ?? 1),
      idleTimeout: o.idleTimeoutMs ?? 30_000,
    };
    let pool: Tinypool;
    if (this.#runtime === "worker_threads") {
      const id = `pyrexis:${process.pid}:${++poolSeq}:${randomUUID()}`;
      const up = new BroadcastChannel(`${id}:up`);
      const down = new BroadcastChannel(`${id}:down`);
      up.unref();
      down.unref();
      up.onmessage = (ev: unknown): void => this.onEvent((ev as { data: WireEvent }).data);
      this.#up = up;
      this.#down = down;
      // One shared table instead of a buffer per task: cloning a SharedArrayBuffer per task costs.
      this.#slots = new Int32Array(new SharedArrayBuffer(SLOTS * 2 * Int32Array.BYTES_PER_ELEMENT));
      for (let i = SLOTS - 1; i >= 0; i--) this.#freeSlots.push(i);
      pool = new Tinypool({
        ...common,
        runtime: "worker_threads",
        workerData: {
          ...config,
          up: `${id}:up`,
          down: `${id}:down`,
          slots: this.#slots.buffer as SharedArrayBuffer,
        } satisfies WorkerConfig,
        ...(o.resourceLimits ? { resourceLimits: { ...o.resourceLimits } } : {}),
      });
    } else {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
      env[WORKER_CONFIG_ENV] = JSON.stringify(config);
      const heap = o.resourceLimits?.maxOldGenerationSizeMb;
      pool = new Tinypool({
        ...common,
        runtime: "child_process",
        env,
        ...(heap ? { execArgv: [...process.execArgv, `--max-old-space-size=${heap}`] } : {}),
      });
    }
    // Errors of idle workers surface here; without a listener EventEmitter would throw them.
    pool.on("error", (error: unknown) => {
      if (!(error instanceof RetireSignal))
        writeLog(this.#logger, "warn", { executor: this.#label }, { err: error }, "worker failed while idle");
    });
    this.#pool = pool;
    this.#maxThreads = maxThreads;
    this.#watchWorkers();
    return pool;
  }

  /** Hooks `exit` on workers we have not seen yet: tinypool misses threads that call process.exit. */
  #watchWorkers(): void {
    const pool = this.#pool;
    if (!pool) return;
    for (const worker of pool.threads) {
      if (this.#seen.has(worker)) continue;
      this.#seen.add(worker);
      this.#watched++;
      const id = worker.threadId;
      this.#knownIds.add(id);
      if (this.#runtime === "child_process") this.#children.push(worker);
      worker.once("exit", (code: number | null, signal: string | null) => {
        this.#watched--;
        this.#knownIds.delete(id);
        const child = this.#children.indexOf(worker);
        if (child >= 0) this.#children.splice(child, 1);
        this.#exits.set(id, { code, signal });
        if (this.#exits.size > 64) this.#exits.delete(this.#exits.keys().next().value!);
        if (this.#runtime === "worker_threads" && this.#pool?.threads.includes(worker)) {
          worker.emit("error", new Error(`worker thread ${id} exited with code ${String(code)}`));
        }
      });
    }
  }

  run(task: ExecutionTask, options: ExecutionOptions): Promise<unknown> {
    if (this.#state !== "open") return Promise.reject(new ExecutorClosedError(`${this.#label} is closed`));
    if (isAborted(options)) return Promise.reject(abortReason(options));
    const invalid = payloadError(task);
    if (invalid !== undefined) return Promise.reject(invalid);
    this.#ensurePool();
    return new Promise<unknown>((resolve, reject) => this.#begin(new Pending(this, this.#nextKey++, task, options, resolve, reject)));
  }

  /**
   * {@link run} without a promise: the outcome goes to `control.settle`, never inside this call
   * (nor inside `control.abort`), which saves the caller a promise, its callbacks and a microtask
   * hop per run.
   */
  start(task: ExecutionTask, control: RunControl): void {
    if (this.#state !== "open") return this.#settleLater(control, false, new ExecutorClosedError(`${this.#label} is closed`));
    if (control.aborted) return this.#settleLater(control, false, control.reason);
    const invalid = payloadError(task);
    if (invalid !== undefined) return this.#settleLater(control, false, invalid);
    this.#ensurePool();
    this.#begin(new Pending(this, this.#nextKey++, task, control, undefined, undefined));
  }

  #begin(p: Pending): void {
    this.#pending.set(p.key, p);
    // Keep the event channel alive while work is out: a result can beat its last progress.
    if (this.#pending.size === 1) this.#up?.ref();
    p.listen();
    this.#submit(p);
  }

  /** Tells a `start` caller its outcome; a throwing `settle` is logged, never breaks the pool. */
  #report(control: RunControl, ok: boolean, value: unknown): void {
    try {
      control.settle(ok, value);
    } catch (error) {
      writeLog(this.#logger, "error", { executor: this.#label }, { err: error }, "RunControl.settle threw");
    }
  }

  #settleLater(control: RunControl, ok: boolean, value: unknown): void {
    queueMicrotask(() => this.#report(control, ok, value));
  }

  #submit(p: Pending): void {
    const pool = this.#pool!;
    const { task } = p;
    p.workerId = undefined;
    p.send = undefined;
    p.started = false;
    p.preAborted = false;
    let wire: WireTask;
    let channel: TinypoolChannel | undefined;
    if (this.#runtime === "worker_threads") {
      if (p.slot < 0 && p.cells === undefined) p.slot = this.#freeSlots.pop() ?? -1;
      if (p.slot >= 0) {
        p.cells = this.#slots!;
        p.base = p.slot * 2;
        wire = [p.key, task.jobId, task.handler, task.payload, task.attempt, p.slot];
      } else {
        p.cells = new Int32Array(new SharedArrayBuffer(8));
        p.base = 0;
        wire = [p.key, task.jobId, task.handler, task.payload, task.attempt, p.cells.buffer as SharedArrayBuffer];
      }
      Atomics.store(p.cells, p.base, 0);
      Atomics.store(p.cells, p.base + 1, p.aborted ? 1 : 0);
    } else {
      wire =
        task.payload === undefined
          ? [p.key, task.jobId, task.handler, null, task.attempt, NO_PAYLOAD]
          : [p.key, task.jobId, task.handler, task.payload, task.attempt];
      // tinypool hands each task's channel the send function of the child it goes to.
      channel = p;
    }
    pool.run(wire, channel ? { channel } : undefined).then(
      (answer: WireAnswer) => this.#onAnswer(p, answer),
      (error: unknown) => this.#onPoolError(p, error),
    );
    // tinypool may have started a worker for this task; with a full pool there is nothing new.
    if (this.#watched < this.#maxThreads) this.#watchWorkers();
  }

  #abortMessage(p: Pending): WireAbort & { [TAG]: 1 } {
    return { t: "abort", k: p.key, r: serializeError(abortReason(p.options)), [TAG]: 1 };
  }

  /**
   * @internal Processes: tinypool just handed `p` to a child (its channel is now that child's).
   * Remember which child, so a handler that ignores its abort can be killed without the child
   * having to announce every start.
   */
  onHandedOver(p: Pending): void {
    p.handed = ++this.#handedSeq;
    p.workerId = this.#holderOf(p);
    if (p.workerId === undefined) {
      // A child tinypool started since we last looked (a replacement): hook it, then look again.
      this.#watchWorkers();
      p.workerId = this.#holderOf(p);
    }
    if (p.aborted) {
      p.preAborted = true;
      p.send!(this.#abortMessage(p));
    }
  }

  /** Processes: the pid of the child whose current tinypool channel is `p`. */
  #holderOf(p: Pending): number | undefined {
    for (const child of this.#children) if ((child as { channel?: unknown }).channel === p) return child.threadId;
    return undefined;
  }

  /** @internal The caller aborted the run. */
  abortRun(p: Pending): void {
    if (p.settled) return;
    p.aborted = true;
    const reason = abortReason(p.options);
    // We are inside the caller's abort(): a `start` caller hears of it a microtask later.
    this.#settle(p, false, reason, true);
    if (p.cells) {
      Atomics.store(p.cells, p.base + 1, 1);
      this.#down?.postMessage({ t: "abort", k: p.key, r: serializeError(reason) } satisfies WireAbort);
    } else {
      p.send?.(this.#abortMessage(p));
    }
    p.timer = setTimeout(() => {
      p.graceExpired = true;
      this.#killFor(p);
    }, this.#grace);
    p.timer.unref();
  }

  /**
   * Processes: the task that is (or would be) blocking child `id` — the earliest one handed to it
   * that the child has not reported (no result, no start message). The child runs tasks in the
   * order they were handed and reports each once its synchronous part is over, so only this one
   * can be running without a word; the later unreported ones have not started. `undefined` when
   * that task is one the child will skip (its abort went first).
   */
  #silentOn(id: number): Pending | undefined {
    let first: Pending | undefined;
    for (const q of this.#pending.values()) {
      if (q.workerId !== id || q.started || q.final !== undefined) continue;
      if (first === undefined || q.handed < first.handed) first = q;
    }
    return first?.preAborted ? undefined : first;
  }

  /** Kills the worker running an aborted task whose handler outlived the grace period. */
  #killFor(p: Pending): void {
    if (!this.#pending.has(p.key)) return;
    let id: number | undefined;
    if (p.cells) {
      // Not started yet (0): the worker sees the abort flag and skips it.
      id = Atomics.load(p.cells, p.base);
    } else if (p.workerId !== undefined && (p.started || this.#silentOn(p.workerId) === p)) {
      // Started, or the task keeping its child silent. Otherwise it is still waiting in the child
      // behind another task (or its abort went first): the child will skip it.
      id = p.workerId;
      const blocking = this.#silentOn(id);
      // The task blocking the child has started: if it is another one, it fails with the child.
      if (blocking) blocking.started = true;
    }
    if (!id) return;
    this.#retire(id, `job ${p.task.jobId} ignored its abort for ${this.#grace} ms; worker killed`, false);
  }

  #retire(id: number, reason: string, resubmit: boolean): void {
    const worker = this.#pool?.threads.find((w) => w.threadId === id);
    if (!worker) return;
    writeLog(this.#logger, "info", { executor: this.#label, worker: id }, {}, `retiring worker: ${reason}`);
    worker.emit("error", new RetireSignal(reason, resubmit));
    this.#watchWorkers();
  }

  /** @internal A progress, log or start event from a worker. */
  onEvent(event: WireEvent): void {
    const p = this.#pending.get(event.k);
    if (!p) return;
    switch (event.t) {
      case "p":
        p.received++;
        if (!p.settled) {
          try {
            p.options.onProgress(event.v);
          } catch (error) {
            writeLog(this.#logger, "warn", this.#bindings(p), { err: error }, "onProgress threw; progress dropped");
          }
        }
        if (p.final && p.received >= p.final.n) this.#finish(p);
        break;
      case "l":
        writeLog(this.#logger, event.l, this.#bindings(p), event.o, event.m);
        break;
      case "s":
        p.started = true;
        if (p.graceExpired) this.#killFor(p);
        break;
    }
  }

  #bindings(p: Pending): Record<string, unknown> {
    return { jobId: p.task.jobId, attempt: p.task.attempt, handler: p.task.handler };
  }

  #onAnswer(p: Pending, answer: WireAnswer): void {
    // A worker we have not hooked yet ran this task (tinypool replaced or added one): hook it.
    const id = p.cells ? Atomics.load(p.cells, p.base) : p.workerId;
    if (id === undefined || !this.#knownIds.has(id)) this.#watchWorkers();
    if (isPlainOk(answer)) {
      // No progress was sent (else the answer would say how much), so nothing can be pending.
      this.#settle(p, true, answer);
      this.#release(p);
      return;
    }
    this.#onResult(p, answer);
  }

  #onResult(p: Pending, result: WireResult): void {
    switch (result.t) {
      case "ok":
      case "err":
        if (result.rt) this.#retire(result.id, `recycled (recycleAfterTasks or maxMemoryMb)`, true);
        p.final = result;
        // Progress travels on another channel (threads): settle once all of it has arrived.
        if (p.received >= result.n) this.#finish(p);
        return;
      case "skip":
        if (result.rt) this.#retire(result.id, "recycled", true);
        this.#release(p);
        return;
      case "retry":
        if (result.rt) this.#retire(result.id, "recycled", true);
        this.#resubmit(p, "worker was retiring");
        return;
      case "load":
        this.#retire(result.id, "handlers module failed to load", true);
        this.#settle(p, false, deserializeError(result.e));
        this.#release(p);
        return;
    }
  }

  #resubmit(p: Pending, why: string): void {
    if (p.settled || this.#state === "terminated") return this.#release(p);
    if (++p.resubmits > MAX_RESUBMITS) {
      this.#settle(p, false, new WorkerCrashedError(p.task.jobId, `${why} ${MAX_RESUBMITS} times in a row`));
      return this.#release(p);
    }
    this.#submit(p);
  }

  #onPoolError(p: Pending, error: unknown): void {
    this.#watchWorkers();
    if (error instanceof RetireSignal && error.resubmit) return this.#resubmit(p, "worker retired");
    // A task whose handler never started lost nothing: run it on another worker. Threads know
    // exactly (the shared flag). For processes only a stop we caused (a kill, which first marks
    // the task blocking the child as started) or tinypool's own termination is trusted: after a
    // crash, the child's last reports may still be in the pipe.
    const started = p.cells ? Atomics.load(p.cells, p.base) !== 0 : p.started;
    const terminated = error instanceof Error && error.message === "Terminating worker thread";
    if (this.#state !== "terminated" && !started && (p.cells !== undefined || terminated || error instanceof RetireSignal)) {
      return this.#resubmit(p, "worker stopped before the task started");
    }
    if (!p.settled) {
      const failure =
        this.#state === "terminated"
          ? new InterruptedError(p.task.jobId, "executor terminated while the job ran")
          : new WorkerCrashedError(p.task.jobId, this.#describeCrash(p, error), { cause: error });
      this.#settle(p, false, failure);
    }
    this.#release(p);
  }

  #describeCrash(p: Pending, error: unknown): string {
    const kind = this.#runtime === "worker_threads" ? "worker thread" : "child process";
    const message = error instanceof Error ? error.message : String(error);
    const code = (error as { code?: unknown } | null)?.code;
    const id = p.cells ? Atomics.load(p.cells, p.base) || undefined : p.workerId;
    const exit = id === undefined ? undefined : this.#exits.get(id);
    if (this.#runtime === "child_process" && exit) {
      return `${kind} ${id} exited with ${exit.signal ? `signal ${exit.signal}` : `code ${String(exit.code)}`} (${message})`;
    }
    if (message.startsWith(kind)) return message;
    return `${kind}${id === undefined ? "" : ` ${id}`}: ${typeof code === "string" ? `${code}: ` : ""}${message}`;
  }

  #finish(p: Pending): void {
    const final = p.final!;
    if (final.t === "ok") this.#settle(p, true, final.v);
    else this.#settle(p, false, deserializeError(final.e));
    this.#release(p);
  }

  #settle(p: Pending, ok: boolean, value: unknown, later = false): void {
    if (p.settled) return;
    p.settled = true;
    p.unlisten();
    if (p.resolve === undefined) {
      const control = p.options as RunControl;
      if (later) this.#settleLater(control, ok, value);
      else this.#report(control, ok, value);
    } else if (ok) p.resolve(value);
    else p.reject!(value);
  }

  #release(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    if (!p.settled) p.unlisten();
    if (!this.#pending.delete(p.key)) return;
    if (p.slot >= 0) {
      this.#freeSlots.push(p.slot);
      p.slot = -1;
    }
    if (this.#pending.size === 0) {
      this.#up?.unref();
      this.#drained?.();
    }
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#state === "open") this.#state = "closing";
    this.#closing = (async () => {
      if (this.#pending.size > 0) {
        await new Promise<void>((resolve) => {
          this.#drained = resolve;
        });
      }
      await this.#destroy();
    })();
    return this.#closing;
  }

  terminate(): Promise<void> {
    this.#state = "terminated";
    for (const p of [...this.#pending.values()]) {
      // Later, as everywhere a `start` caller is told: never inside the call that caused it.
      this.#settle(p, false, new InterruptedError(p.task.jobId, "executor terminated while the job ran"), true);
      this.#release(p);
    }
    return this.#destroy();
  }

  #destroy(): Promise<void> {
    this.#destroying ??= (async () => {
      const pool = this.#pool;
      if (pool) await pool.destroy();
      this.#up?.close();
      this.#down?.close();
    })();
    return this.#destroying;
  }
}

// Worker threads behind the pool. Events (progress, logs) come up a BroadcastChannel and aborts
// go down another; a shared table of int cells says, per task, which thread runs it (written by
// the thread when it starts the task) and whether it was aborted (written by the main thread), so
// a thread stuck in a handler can be found and killed without asking it.
import { randomUUID } from "node:crypto";
import { BroadcastChannel } from "node:worker_threads";
import { Tinypool } from "tinypool";
import { serializeError } from "@pyrexis/models";
import type { ExecutionTask } from "./executor.js";
import type { PoolSettings } from "./pool-options.js";
import { PoolTask, type TaskHost } from "./pool-task.js";
import type { TaskControl } from "./task-control.js";
import { dropExitedThread, threadExecArgv } from "./tinypool-internals.js";
import { tsxApiHref } from "./typescript.js";
import type { WireAbort, WireAnswer, WireEvent, WireTask, WorkerConfig } from "./wire.js";
import { crashDetail, WORKER_ENTRY, type LinkHost, type OpenPool, type WorkerLink } from "./worker-link.js";
import { WorkerWatch } from "./worker-watch.js";

/** Slots of the shared table; tasks beyond it get their own small buffer. */
const SLOTS = 4096;
let poolSeq = 0;

/** A task of a thread pool: where its cells are. */
export class ThreadTask extends PoolTask {
  /** Shared cells: `cells[base]` the id of the thread running it (0 until started), `cells[base + 1]` its abort flag. */
  cells: Int32Array | undefined = undefined;
  base = 0;
  /** Index into the shared slot table, or -1 (own buffer, or none yet). */
  slot = -1;
}

/** The worker-threads runtime of a pool. */
export class ThreadLink implements WorkerLink<ThreadTask> {
  readonly label = "ThreadExecutor";
  readonly kind = "worker thread";
  #pool: Tinypool | undefined;
  #up: BroadcastChannel | undefined;
  #down: BroadcastChannel | undefined;
  #slots: Int32Array | undefined;
  readonly #freeSlots: number[] = [];

  open(settings: PoolSettings, host: LinkHost<ThreadTask>): OpenPool {
    const id = `pyrexis:${process.pid}:${++poolSeq}:${randomUUID()}`;
    const up = new BroadcastChannel(`${id}:up`);
    const down = new BroadcastChannel(`${id}:down`);
    up.unref();
    down.unref();
    up.onmessage = (ev: unknown): void => host.onEvent((ev as { data: WireEvent }).data);
    this.#up = up;
    this.#down = down;
    // One shared table instead of a buffer per task: cloning a SharedArrayBuffer per task costs.
    this.#slots = new Int32Array(new SharedArrayBuffer(SLOTS * 2 * Int32Array.BYTES_PER_ELEMENT));
    for (let i = SLOTS - 1; i >= 0; i--) this.#freeSlots.push(i);
    // Under tsx, workers import the handlers module through tsx: its loader does not reach them.
    const tsx = tsxApiHref();
    const execArgv = threadExecArgv(process.execArgv);
    const pool = new Tinypool({
      filename: WORKER_ENTRY.href,
      runtime: "worker_threads",
      minThreads: settings.minWorkers,
      maxThreads: settings.maxWorkers,
      concurrentTasksPerWorker: settings.concurrency,
      idleTimeout: settings.idleTimeoutMs,
      workerData: {
        module: settings.module,
        recycleAfterTasks: settings.recycleAfterTasks,
        maxMemoryBytes: settings.maxMemoryBytes,
        concurrency: settings.concurrency,
        up: `${id}:up`,
        down: `${id}:down`,
        slots: this.#slots.buffer as SharedArrayBuffer,
        ...(tsx === undefined ? {} : { tsx }),
      } satisfies WorkerConfig,
      ...(settings.resourceLimits ? { resourceLimits: { ...settings.resourceLimits } } : {}),
      ...(execArgv ? { execArgv } : {}),
    });
    this.#pool = pool;
    return { pool, watch: new WorkerWatch(pool, settings, (worker, code) => dropExitedThread(pool, worker, code)) };
  }

  createTask(host: TaskHost, key: number, task: ExecutionTask, control: TaskControl): ThreadTask {
    return new ThreadTask(host, key, task, control);
  }

  send(t: ThreadTask): Promise<WireAnswer> {
    const { task } = t;
    if (t.slot < 0 && t.cells === undefined) t.slot = this.#freeSlots.pop() ?? -1;
    let wire: WireTask;
    if (t.slot >= 0) {
      t.cells = this.#slots!;
      t.base = t.slot * 2;
      wire = [t.key, task.jobId, task.handler, task.payload, task.attempt, t.slot];
    } else {
      t.cells = new Int32Array(new SharedArrayBuffer(8));
      t.base = 0;
      wire = [t.key, task.jobId, task.handler, task.payload, task.attempt, t.cells.buffer as SharedArrayBuffer];
    }
    Atomics.store(t.cells, t.base, 0);
    Atomics.store(t.cells, t.base + 1, t.aborted ? 1 : 0);
    return this.#pool!.run(wire) as Promise<WireAnswer>;
  }

  abort(t: ThreadTask): void {
    // The flag stops a thread that has not started the task yet; the message reaches a running one.
    Atomics.store(t.cells!, t.base + 1, 1);
    this.#down!.postMessage({ t: "abort", k: t.key, r: serializeError(t.control.reason) } satisfies WireAbort);
  }

  workerToKill(t: ThreadTask): number | undefined {
    // 0: not started yet; the thread sees the abort flag and skips it.
    return this.workerOf(t);
  }

  onStarted(): void {
    // Threads report starts through the shared cells, never with a message.
  }

  workerOf(t: ThreadTask): number | undefined {
    return t.cells === undefined ? undefined : Atomics.load(t.cells, t.base) || undefined;
  }

  neverStarted(t: ThreadTask): boolean {
    // Exact: a thread writes its id into the cell before it looks at the task.
    return this.workerOf(t) === undefined;
  }

  describeCrash(t: ThreadTask, error: unknown): string {
    return crashDetail(this.kind, this.workerOf(t), error);
  }

  onBusy(): void {
    // Keep the event channel alive while work is out: a result can beat its last progress.
    this.#up?.ref();
  }

  onIdle(): void {
    this.#up?.unref();
  }

  release(t: ThreadTask): void {
    if (t.slot >= 0) {
      this.#freeSlots.push(t.slot);
      t.slot = -1;
    }
  }

  close(): void {
    this.#up?.close();
    this.#down?.close();
  }
}

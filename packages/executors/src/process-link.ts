// Child processes behind the pool. Everything travels the child's IPC pipe, through tinypool's
// per-task channel: each task is its own channel, so tinypool hands it the send function of the
// child it gives the task to, and that is how the main process learns which child holds a task.
// A child running several tasks at once reports each once its synchronous part is over (see the
// worker entry), which tells the one task a silent child has not reported: the one blocking it.
import { Tinypool, type TinypoolChannel } from "tinypool";
import { serializeError } from "@pyrexis/models";
import type { ExecutionTask } from "./executor.js";
import type { PoolSettings } from "./pool-options.js";
import { PoolTask, type TaskHost } from "./pool-task.js";
import type { TaskControl } from "./task-control.js";
import { childExecArgv, currentChannelOf, isTermination, workerIdOf } from "./tinypool-internals.js";
import {
  NO_PAYLOAD,
  TAG,
  WORKER_CONFIG_ENV,
  type WireAbort,
  type WireAnswer,
  type WireEvent,
  type WireTask,
  type WorkerConfig,
} from "./wire.js";
import { crashDetail, WORKER_ENTRY, type LinkHost, type OpenPool, type WorkerLink } from "./worker-link.js";
import { RetireSignal, WorkerWatch } from "./worker-watch.js";

/**
 * A task of a process pool, and the tinypool channel of its run: tinypool calls `onMessage` with
 * the send function of the child it hands the task to, and `postMessage` with that child's
 * messages (ours are routed by their key, whichever task's channel they came on).
 */
export class ProcessTask extends PoolTask implements TinypoolChannel {
  readonly #link: ProcessLink;
  /** Pid of the child the task was handed to. */
  workerId: number | undefined = undefined;
  /** The handler is known to have started (the child announced it, or it blocks a child being killed). */
  started = false;
  /** When tinypool handed the task to its child (children start tasks in this order). */
  handed = 0;
  /** The abort went to the child before the task did, so the child skips it. */
  preAborted = false;
  /** Sends a control message to the child that holds the task. */
  send: ((message: unknown) => void) | undefined = undefined;

  constructor(link: ProcessLink, host: TaskHost, key: number, task: ExecutionTask, control: TaskControl) {
    super(host, key, task, control);
    this.#link = link;
  }

  /** Tinypool hands the task to a child: `send` reaches that child. */
  onMessage(send: (message: unknown) => void): void {
    this.send = send;
    this.#link.handedOver(this);
  }

  /** A message of ours from a child. */
  postMessage(message: unknown): void {
    this.host.onEvent(message as WireEvent);
  }
}

/** The child-process runtime of a pool. */
export class ProcessLink implements WorkerLink<ProcessTask> {
  readonly label = "ProcessExecutor";
  readonly kind = "child process";
  #pool: Tinypool | undefined;
  #watch: WorkerWatch | undefined;
  #host: LinkHost<ProcessTask> | undefined;
  #handedSeq = 0;

  open(settings: PoolSettings, host: LinkHost<ProcessTask>): OpenPool {
    const config: WorkerConfig = {
      module: settings.module,
      recycleAfterTasks: settings.recycleAfterTasks,
      maxMemoryBytes: settings.maxMemoryBytes,
      concurrency: settings.concurrency,
    };
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    env[WORKER_CONFIG_ENV] = JSON.stringify(config);
    const heap = settings.resourceLimits?.maxOldGenerationSizeMb;
    const pool = new Tinypool({
      filename: WORKER_ENTRY.href,
      runtime: "child_process",
      minThreads: settings.minWorkers,
      maxThreads: settings.maxWorkers,
      concurrentTasksPerWorker: settings.concurrency,
      idleTimeout: settings.idleTimeoutMs,
      env,
      execArgv: [...childExecArgv(process.execArgv), ...(heap ? [`--max-old-space-size=${heap}`] : [])],
    });
    this.#pool = pool;
    this.#host = host;
    this.#watch = new WorkerWatch(pool, settings);
    return { pool, watch: this.#watch };
  }

  createTask(host: TaskHost, key: number, task: ExecutionTask, control: TaskControl): ProcessTask {
    return new ProcessTask(this, host, key, task, control);
  }

  send(t: ProcessTask): Promise<WireAnswer> {
    const { task } = t;
    t.workerId = undefined;
    t.send = undefined;
    t.started = false;
    t.preAborted = false;
    const wire: WireTask =
      task.payload === undefined
        ? [t.key, task.jobId, task.handler, null, task.attempt, NO_PAYLOAD]
        : [t.key, task.jobId, task.handler, task.payload, task.attempt];
    return this.#pool!.run(wire, { channel: t }) as Promise<WireAnswer>;
  }

  /**
   * Tinypool just handed `t` to a child (its channel is now that child's). Remember which child,
   * so a handler that ignores its abort can be killed without the child announcing every start.
   */
  handedOver(t: ProcessTask): void {
    t.handed = ++this.#handedSeq;
    t.workerId = this.#holderOf(t);
    if (t.workerId === undefined) {
      // A child tinypool started since we last looked (a replacement): hook it, then look again.
      this.#watch!.scan();
      t.workerId = this.#holderOf(t);
    }
    if (t.aborted) {
      t.preAborted = true;
      t.send!(this.#abortMessage(t));
    }
  }

  /** The pid of the child whose current tinypool channel is `t`. */
  #holderOf(t: ProcessTask): number | undefined {
    for (const child of this.#watch!.workers) if (currentChannelOf(child) === t) return workerIdOf(child);
    return undefined;
  }

  #abortMessage(t: ProcessTask): WireAbort & { [TAG]: 1 } {
    return { t: "abort", k: t.key, r: serializeError(t.control.reason), [TAG]: 1 };
  }

  abort(t: ProcessTask): void {
    // Not handed over yet: `handedOver` sends the abort ahead of the task.
    t.send?.(this.#abortMessage(t));
  }

  /**
   * The task that is (or would be) blocking child `id`: the earliest one handed to it that the
   * child has not reported (no result, no start message). The child runs tasks in the order they
   * were handed and reports each once its synchronous part is over, so only this one can be
   * running without a word; the later unreported ones have not started. `undefined` when that
   * task is one the child will skip (its abort went first).
   */
  #silentOn(id: number): ProcessTask | undefined {
    let first: ProcessTask | undefined;
    for (const q of this.#host!.tasks.values()) {
      if (q.workerId !== id || q.started || q.final !== undefined) continue;
      if (first === undefined || q.handed < first.handed) first = q;
    }
    return first?.preAborted ? undefined : first;
  }

  workerToKill(t: ProcessTask): number | undefined {
    // Started, or the task keeping its child silent. Otherwise it is still waiting in the child
    // behind another task (or its abort went first): the child will skip it.
    if (t.workerId === undefined || !(t.started || this.#silentOn(t.workerId) === t)) return undefined;
    // The task blocking the child has started: if it is another one, it fails with the child.
    const blocking = this.#silentOn(t.workerId);
    if (blocking) blocking.started = true;
    return t.workerId;
  }

  onStarted(t: ProcessTask): void {
    t.started = true;
  }

  workerOf(t: ProcessTask): number | undefined {
    return t.workerId;
  }

  neverStarted(t: ProcessTask, error: unknown): boolean {
    // Only a stop we caused (a kill, which first marks the task blocking the child as started) or
    // tinypool's own termination is trusted: after a crash, the child's last reports may still be
    // in the pipe.
    return !t.started && (isTermination(error) || error instanceof RetireSignal);
  }

  describeCrash(t: ProcessTask, error: unknown): string {
    const id = t.workerId;
    const exit = id === undefined ? undefined : this.#watch!.exitOf(id);
    if (exit) {
      const message = error instanceof Error ? error.message : String(error);
      return `${this.kind} ${id} exited with ${exit.signal ? `signal ${exit.signal}` : `code ${String(exit.code)}`} (${message})`;
    }
    return crashDetail(this.kind, id, error);
  }

  onBusy(): void {}

  onIdle(): void {}

  release(): void {}

  close(): void {}
}

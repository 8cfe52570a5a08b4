// The tinypool-backed engine room of the thread and process executors: one task record per run,
// progress delivered in order before the outcome, aborts with a grace period, resubmits of tasks
// whose worker went away before they started, and the executor's lifecycle. What differs between
// threads and processes is behind the pool's WorkerLink.
import { deserializeError, ExecutorClosedError, InterruptedError, WorkerCrashedError, type ValidationError } from "@pyrexis/models";
import type { ExecutionOptions, ExecutionTask } from "./executor.js";
import { jsonError, writeLog } from "./invoke.js";
import { resolvePoolOptions, type PoolExecutorOptions, type PoolSettings } from "./pool-options.js";
import type { PoolTask } from "./pool-task.js";
import { promiseControl, type TaskControl } from "./task-control.js";
import { isPlainOk, type WireAnswer, type WireEvent, type WireResult } from "./wire.js";
import type { LinkHost, OpenPool, WorkerLink } from "./worker-link.js";
import { RetireSignal } from "./worker-watch.js";

/** Sends of one task in a row, each time its worker went away before it started, before it fails. */
const MAX_RESUBMITS = 3;

/**
 * The `ValidationError` of a payload that cannot cross to a worker (a BigInt, a function, a cycle,
 * …), or `undefined`. Checked before anything is sent: a child process would otherwise fail to
 * serialize it inside tinypool, outside any task, and take the caller's process down. `undefined`
 * is let through (threads and the async executor pass it on; processes mark it).
 */
function payloadError(task: ExecutionTask): ValidationError | undefined {
  return task.payload === undefined ? undefined : jsonError(task.payload, `payload of job ${task.jobId}`);
}

/** A pool of workers of one runtime (its `link`). Starts tinypool on the first run. */
export class WorkerPool<T extends PoolTask> implements LinkHost<T> {
  readonly #link: WorkerLink<T>;
  readonly #settings: PoolSettings;
  #open: OpenPool | undefined;
  #state: "open" | "closing" | "terminated" = "open";
  readonly #tasks = new Map<number, T>();
  #nextKey = 1;
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;

  constructor(link: WorkerLink<T>, options: PoolExecutorOptions) {
    this.#settings = resolvePoolOptions(link.label, options);
    this.#link = link;
  }

  /** @internal The tasks in flight, by key. */
  get tasks(): ReadonlyMap<number, T> {
    return this.#tasks;
  }

  /** Runs one attempt; its options are wrapped once into a {@link TaskControl}. */
  run(task: ExecutionTask, options: ExecutionOptions): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => this.start(task, promiseControl(options, resolve, reject)));
  }

  /**
   * {@link run} without a promise: the outcome goes to `control.settle`, never inside this call
   * (nor inside `control.abort`), which saves the caller a promise, its callbacks and a microtask
   * hop per run.
   */
  start(task: ExecutionTask, control: TaskControl): void {
    if (this.#state !== "open") return this.#settleLater(control, false, new ExecutorClosedError(`${this.#settings.label} is closed`));
    if (control.aborted) return this.#settleLater(control, false, control.reason);
    const invalid = payloadError(task);
    if (invalid !== undefined) return this.#settleLater(control, false, invalid);
    this.#open ??= this.#link.open(this.#settings, this);
    const t = this.#link.createTask(this, this.#nextKey++, task, control);
    this.#tasks.set(t.key, t);
    if (this.#tasks.size === 1) this.#link.onBusy();
    control.listen(t);
    this.#send(t);
  }

  #send(t: T): void {
    this.#link.send(t).then(
      (answer: WireAnswer) => this.#onAnswer(t, answer),
      (error: unknown) => this.#onPoolError(t, error),
    );
    // Tinypool may have started a worker for this task; with a full pool there is nothing new.
    this.#open!.watch.scanIfNew();
  }

  /** Tells a control its outcome; a throwing `settle` is logged, never breaks the pool. */
  #report(control: TaskControl, ok: boolean, value: unknown): void {
    try {
      control.settle(ok, value);
    } catch (error) {
      writeLog(this.#settings.logger, "error", { executor: this.#settings.label }, { err: error }, "RunControl.settle threw");
    }
  }

  #settleLater(control: TaskControl, ok: boolean, value: unknown): void {
    queueMicrotask(() => this.#report(control, ok, value));
  }

  /** @internal The caller aborted the run. */
  abortRun(t: PoolTask): void {
    const task = t as T;
    if (task.settled) return;
    task.aborted = true;
    // We are inside the caller's abort(): the caller hears of it a microtask later.
    this.#failLater(task, task.control.reason);
    this.#link.abort(task);
    task.timer = setTimeout(() => {
      task.graceExpired = true;
      this.#killFor(task);
    }, this.#settings.abortGraceMs);
    task.timer.unref();
  }

  /** Kills the worker running an aborted task whose handler outlived the grace period. */
  #killFor(t: T): void {
    if (!this.#tasks.has(t.key)) return;
    const id = this.#link.workerToKill(t);
    if (!id) return;
    this.#open!.watch.kill(id, `job ${t.task.jobId} ignored its abort for ${this.#settings.abortGraceMs} ms; worker killed`);
  }

  /** @internal A progress, log or start event from a worker. */
  onEvent(event: WireEvent): void {
    const t = this.#tasks.get(event.k);
    if (!t) return;
    switch (event.t) {
      case "p":
        t.received++;
        if (!t.settled) {
          try {
            t.control.onProgress(event.v);
          } catch (error) {
            writeLog(this.#settings.logger, "warn", this.#bindings(t), { err: error }, "onProgress threw; progress dropped");
          }
        }
        if (t.final && t.received >= t.final.n) this.#finish(t);
        break;
      case "c":
        t.received++;
        if (!t.settled) {
          try {
            t.control.onCharge(event.u, event.y);
          } catch (error) {
            writeLog(this.#settings.logger, "warn", this.#bindings(t), { err: error }, "onCharge threw; charge dropped");
          }
        }
        if (t.final && t.received >= t.final.n) this.#finish(t);
        break;
      case "l":
        writeLog(this.#settings.logger, event.l, this.#bindings(t), event.o, event.m);
        break;
      case "s":
        this.#link.onStarted(t);
        if (t.graceExpired) this.#killFor(t);
        break;
    }
  }

  #bindings(t: T): Record<string, unknown> {
    return { jobId: t.task.jobId, attempt: t.task.attempt, handler: t.task.handler };
  }

  #onAnswer(t: T, answer: WireAnswer): void {
    // A worker we have not hooked yet ran this task (tinypool replaced or added one): hook it.
    const id = this.#link.workerOf(t);
    if (id === undefined || !this.#open!.watch.knows(id)) this.#open!.watch.scan();
    if (isPlainOk(answer)) {
      // No progress was sent (else the answer would say how much), so nothing can be pending.
      this.#succeed(t, answer);
      this.#release(t);
      return;
    }
    this.#onResult(t, answer);
  }

  #onResult(t: T, result: WireResult): void {
    const watch = this.#open!.watch;
    switch (result.t) {
      case "ok":
      case "err":
        if (result.rt) watch.recycle(result.id, `recycled (recycleAfterTasks or maxMemoryMb)`);
        t.final = result;
        // Progress may travel on another channel (threads): settle once all of it has arrived.
        if (t.received >= result.n) this.#finish(t);
        return;
      case "skip":
        if (result.rt) watch.recycle(result.id, "recycled");
        this.#release(t);
        return;
      case "retry":
        if (result.rt) watch.recycle(result.id, "recycled");
        this.#resubmit(t, "worker was retiring");
        return;
      case "load":
        watch.recycle(result.id, "handlers module failed to load");
        this.#fail(t, deserializeError(result.e));
        this.#release(t);
        return;
    }
  }

  #resubmit(t: T, why: string): void {
    if (t.settled || this.#state === "terminated") return this.#release(t);
    if (++t.resubmits > MAX_RESUBMITS) {
      this.#fail(t, new WorkerCrashedError(t.task.jobId, `${why} ${MAX_RESUBMITS} times in a row`));
      return this.#release(t);
    }
    this.#send(t);
  }

  #onPoolError(t: T, error: unknown): void {
    this.#open!.watch.scan();
    if (error instanceof RetireSignal && error.resubmit) return this.#resubmit(t, "worker retired");
    // A task whose handler never started lost nothing: run it on another worker.
    if (this.#state !== "terminated" && this.#link.neverStarted(t, error))
      return this.#resubmit(t, "worker stopped before the task started");
    if (!t.settled) {
      this.#fail(
        t,
        this.#state === "terminated"
          ? new InterruptedError(t.task.jobId, "executor terminated while the job ran")
          : new WorkerCrashedError(t.task.jobId, this.#link.describeCrash(t, error), { cause: error }),
      );
    }
    this.#release(t);
  }

  #finish(t: T): void {
    const final = t.final!;
    if (final.t === "ok") this.#succeed(t, final.v);
    else this.#fail(t, deserializeError(final.e));
    this.#release(t);
  }

  /** Marks `t` settled and stops listening to its control; false when it already was. */
  #markSettled(t: T): boolean {
    if (t.settled) return false;
    t.settled = true;
    t.control.unlisten(t);
    return true;
  }

  #succeed(t: T, output: unknown): void {
    if (this.#markSettled(t)) this.#report(t.control, true, output);
  }

  #fail(t: T, error: unknown): void {
    if (this.#markSettled(t)) this.#report(t.control, false, error);
  }

  /** {@link #fail} from inside a call of the caller's (its abort, terminate): told a microtask later. */
  #failLater(t: T, error: unknown): void {
    if (this.#markSettled(t)) this.#settleLater(t.control, false, error);
  }

  #release(t: T): void {
    if (t.timer) clearTimeout(t.timer);
    if (!t.settled) t.control.unlisten(t);
    if (!this.#tasks.delete(t.key)) return;
    this.#link.release(t);
    if (this.#tasks.size === 0) {
      this.#link.onIdle();
      this.#drained?.();
    }
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#state === "open") this.#state = "closing";
    this.#closing = (async () => {
      if (this.#tasks.size > 0) {
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
    for (const t of [...this.#tasks.values()]) {
      // Later, as everywhere a `start` caller is told: never inside the call that caused it.
      this.#failLater(t, new InterruptedError(t.task.jobId, "executor terminated while the job ran"));
      this.#release(t);
    }
    return this.#destroy();
  }

  #destroy(): Promise<void> {
    this.#destroying ??= (async () => {
      if (this.#open) await this.#open.pool.destroy();
      this.#link.close();
    })();
    return this.#destroying;
  }
}

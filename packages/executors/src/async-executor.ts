import { ExecutorClosedError, InterruptedError } from "@pyrexis/models";
import type { ExecutionOptions, ExecutionTask, Executor } from "./executor.js";
import { loadHandlersModule, silentLogger, type HandlerMap, type Logger } from "./handlers.js";
import { invokeOn, writeLog, type InvokeOutcome } from "./invoke.js";
import type { RunControl } from "./run-control.js";
import { promiseControl, type TaskControl } from "./task-control.js";

/** Options of {@link AsyncExecutor}. */
export interface AsyncExecutorOptions {
  /** Inline handlers, or the path / URL of a handlers module (imported on first run). */
  readonly handlers: HandlerMap | string | URL;
  /** Receives handlers' `ctx.logger` calls and executor diagnostics. Silent by default. */
  readonly logger?: Logger;
}

/**
 * Runs handlers on the caller's event loop: the right mode for I/O-bound work (HTTP calls to
 * model APIs, database queries), with no serialization cost.
 *
 * The event-loop limit: JavaScript cannot stop a function from outside. When the signal aborts,
 * `run` rejects with `signal.reason` at once and `ctx.signal` aborts, but a handler that ignores
 * it keeps running in the background until it returns (its result is discarded), and a
 * CPU-bound handler blocks every other job while it runs. Use the thread or process executor
 * for work that must be stoppable.
 *
 * @example
 * ```ts
 * const executor = new AsyncExecutor({ handlers: { hello: (p: { name: string }) => `hi ${p.name}` } });
 * await executor.run({ jobId: "j1", handler: "hello", payload: { name: "ada" }, attempt: 1 },
 *   { signal: new AbortController().signal, onProgress: () => {} });
 * ```
 */
export class AsyncExecutor implements Executor {
  readonly #source: HandlerMap | string | URL;
  readonly #logger: Logger;
  #handlers: Promise<HandlerMap> | undefined;
  #closed = false;
  /** In-flight runs as an intrusive list (no hashing per run; `terminate` walks it). */
  #head: AsyncRun | undefined;
  #inflightCount = 0;
  readonly #idleWaiters: (() => void)[] = [];
  #resolved: HandlerMap | undefined;
  readonly #kill = new AbortController();

  constructor(options: AsyncExecutorOptions) {
    const source = options.handlers;
    if (!(typeof source === "string" || source instanceof URL || (typeof source === "object" && source !== null))) {
      throw new TypeError("AsyncExecutor: options.handlers must be a handler map, a module path or a URL");
    }
    this.#source = source;
    this.#logger = options.logger ?? silentLogger;
  }

  #load(): Promise<HandlerMap> {
    if (this.#handlers === undefined) {
      const source = this.#source;
      this.#handlers = typeof source === "string" || source instanceof URL ? loadHandlersModule(source) : Promise.resolve(source);
      // A failed import is not cached: the module may be fixed before the next attempt.
      this.#handlers.catch(() => {
        this.#handlers = undefined;
      });
    }
    return this.#handlers;
  }

  /** Runs one attempt on the event loop. See the class notes on aborting. */
  run(task: ExecutionTask, options: ExecutionOptions): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => this.#start(task, promiseControl(options, resolve, reject)));
  }

  /**
   * {@link run} for a {@link RunControl} caller: the outcome goes to `control.settle`, in a
   * microtask (never inside this call), with no promise per run.
   */
  start(task: ExecutionTask, control: RunControl): void {
    this.#start(task, control);
  }

  #start(task: ExecutionTask, control: TaskControl): void {
    if (this.#closed) this.settleLater(control, false, new ExecutorClosedError("async executor is closed"));
    else if (control.aborted) this.settleLater(control, false, control.reason);
    else new AsyncRun(this, task, control).start();
  }

  // Outcomes for RunControl callers wait here for one shared microtask: a handler that returns
  // at once must not call back into a caller that is still inside `start` (or inside `abort`).
  #dueControls: TaskControl[] = [];
  #dueOk: boolean[] = [];
  #dueValues: unknown[] = [];

  /** @internal Delivers `control.settle(ok, value)` in the next microtask drain. */
  settleLater(control: TaskControl, ok: boolean, value: unknown): void {
    if (this.#dueControls.push(control) === 1) queueMicrotask(this.#deliverDue);
    this.#dueOk.push(ok);
    this.#dueValues.push(value);
  }

  readonly #deliverDue = (): void => {
    const controls = this.#dueControls;
    const oks = this.#dueOk;
    const values = this.#dueValues;
    this.#dueControls = [];
    this.#dueOk = [];
    this.#dueValues = [];
    for (let i = 0; i < controls.length; i++) {
      try {
        (controls[i] as TaskControl).settle(oks[i] as boolean, values[i]);
      } catch (error) {
        this.#logger.error({ err: error }, "RunControl.settle threw");
      }
    }
  };

  /** @internal */
  get logger(): Logger {
    return this.#logger;
  }

  /** @internal The handler map, loaded once (the promise only on the first runs). */
  handlers(): HandlerMap | Promise<HandlerMap> {
    return this.#resolved ?? this.#load().then((h) => (this.#resolved = h));
  }

  /** @internal */
  track(run: AsyncRun): void {
    run.next = this.#head;
    if (this.#head) this.#head.prev = run;
    this.#head = run;
    this.#inflightCount++;
  }

  /** @internal */
  untrack(run: AsyncRun): void {
    if (run.prev) run.prev.next = run.next;
    else this.#head = run.next;
    if (run.next) run.next.prev = run.prev;
    run.prev = run.next = undefined;
    this.#inflightCount--;
    if (this.#inflightCount === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  /** @internal Aborted by `terminate()`; handlers see it through their lazily combined signal. */
  get killSignal(): AbortSignal {
    return this.#kill.signal;
  }

  /** Stops accepting runs and waits for in-flight ones to settle. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#inflightCount > 0) await new Promise<void>((r) => this.#idleWaiters.push(r));
  }

  /**
   * Stops accepting runs; in-flight runs reject at once with `InterruptedError` and their
   * handlers' signals abort. Idempotent.
   */
  async terminate(): Promise<void> {
    this.#closed = true;
    this.#kill.abort();
    const runs: AsyncRun[] = [];
    for (let run = this.#head; run; run = run.next) runs.push(run);
    for (const run of runs) run.interrupt();
  }
}

/**
 * One run on the event loop. A class rather than closures: this is the hot path of I/O-bound
 * work, and per run it adds exactly one abort listener and no AbortController (the handler's
 * `ctx.signal` is built only if the handler reads it; a {@link RunControl} caller's own signal
 * is never created).
 */
class AsyncRun implements InvokeOutcome {
  readonly #executor: AsyncExecutor;
  readonly #task: ExecutionTask;
  readonly #control: TaskControl;
  #settled = false;
  /** @internal Neighbours in the executor's in-flight list. */
  prev: AsyncRun | undefined = undefined;
  /** @internal */
  next: AsyncRun | undefined = undefined;
  /** The handler's `ctx.signal`, made only if the handler reads it. */
  #controller: AbortController | undefined;

  constructor(executor: AsyncExecutor, task: ExecutionTask, control: TaskControl) {
    this.#executor = executor;
    this.#task = task;
    this.#control = control;
  }

  start(): void {
    this.#executor.track(this);
    // The run is its own abort listener (`handleEvent`): no closure per run.
    this.#control.listen(this);
    const handlers = this.#executor.handlers();
    if (handlers instanceof Promise)
      handlers.then(
        (h) => this.#invoke(h),
        (error: unknown) => this.fail(error),
      );
    else this.#invoke(handlers);
  }

  #invoke(handlers: HandlerMap): void {
    // This run is the handler's sinks and its outcome: no callbacks allocated per run.
    invokeOn(handlers, this.#task, this, this);
  }

  /** Where handlers are looked up, for messages. */
  get where(): string {
    return "this async executor";
  }

  /**
   * The handler's `ctx.signal`: aborted with the caller's reason, or by `terminate()`. A per-run
   * controller (not `AbortSignal.any` with the executor's long-lived kill signal, which Node 20
   * never cleans up: ~55 bytes leaked per run).
   */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#control.aborted) this.#controller.abort(this.#control.reason);
      else if (this.#executor.killSignal.aborted) this.#controller.abort(new InterruptedError(this.#task.jobId, "executor terminated"));
    }
    return this.#controller.signal;
  }

  progress(value: unknown): void {
    if (this.#settled) return;
    try {
      this.#control.onProgress(value);
    } catch (error) {
      this.log("warn", { err: error }, "onProgress threw; progress dropped");
    }
  }

  charge(units: number, key: string | undefined): void {
    if (this.#settled) return;
    try {
      this.#control.onCharge(units, key);
    } catch (error) {
      this.log("warn", { err: error }, "onCharge threw; charge dropped");
    }
  }

  log(level: "debug" | "info" | "warn" | "error", obj: Record<string, unknown>, msg: string | undefined): void {
    const t = this.#task;
    writeLog(this.#executor.logger, level, { jobId: t.jobId, attempt: t.attempt, handler: t.handler }, obj, msg);
  }

  interrupt(): void {
    const error = new InterruptedError(this.#task.jobId, "executor terminated while the job ran");
    this.#controller?.abort(error);
    if (this.#finish()) this.#deliver(false, error);
  }

  #finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#control.unlisten(this);
    this.#executor.untrack(this);
    return true;
  }

  /** Tells the control: at once when that only settles `run`'s promise, else a microtask later. */
  #deliver(ok: boolean, value: unknown): void {
    if (this.#control.settlesPromise === true) this.#control.settle(ok, value);
    else this.#executor.settleLater(this.#control, ok, value);
  }

  /** The caller aborted the run (its control calls this). */
  handleEvent(): void {
    const reason = this.#control.reason;
    this.#controller?.abort(reason);
    if (this.#finish()) this.#deliver(false, reason);
  }

  /** The handler's JSON output (from `invokeOn`). */
  ok(output: unknown): void {
    if (this.#finish()) this.#deliver(true, output);
  }

  /** What the handler threw, or the error of a non-JSON output (from `invokeOn`). */
  fail(error: unknown): void {
    if (this.#finish()) this.#deliver(false, error);
  }
}

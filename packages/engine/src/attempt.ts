import { ValidationError, type ClockTimer, type Job, type Result } from "@pyrexis/models";
import { RunControl } from "@pyrexis/executors";
import type { AbortKind } from "./attempt-decision.js";
import type { AttemptSpan } from "./tracing-hooks.js";
import type { AttemptPermit } from "./flow-control/store-permit.js";
import type { EngineEventMap } from "./events.js";
import type { Waiter } from "./group-commit.js";
import type { TypedEmitter } from "./events.js";

// The per-attempt records of the engine's hot path. They are small classes rather than async
// functions and promise chains because one of each exists per job: an async function's frame,
// its promise, and the resolve/reject closures of every promise it awaits cost ~2 KB of garbage
// per job, which showed up as a third of the engine's CPU time in garbage collection.

/**
 * The outcome of something that ends once, as a promise made only if someone asks for it
 * (`runNext`, `cancelJob`, shutdown); the dispatch loop never does.
 */
export class Outcome<T> {
  #state: "pending" | "ok" | "failed" = "pending";
  #value: T | undefined;
  #error: unknown;
  #promise: Promise<T> | undefined;
  #resolve: ((value: T) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;

  /** True once settled. */
  get settled(): boolean {
    return this.#state !== "pending";
  }

  /** True once settled with an error. */
  get failed(): boolean {
    return this.#state === "failed";
  }

  /** The error it failed with (`undefined` unless {@link failed}). */
  get error(): unknown {
    return this.#error;
  }

  /** The outcome as a promise (the same one on every call). */
  get promise(): Promise<T> {
    if (!this.#promise) {
      if (this.#state === "ok") this.#promise = Promise.resolve(this.#value as T);
      else if (this.#state === "failed") this.#promise = Promise.reject(this.#error);
      else {
        this.#promise = new Promise<T>((resolve, reject) => {
          this.#resolve = resolve;
          this.#reject = reject;
        });
      }
    }
    return this.#promise;
  }

  /** Settles with `value`; later calls are ignored. */
  resolve(value: T): void {
    if (this.#state !== "pending") return;
    this.#state = "ok";
    this.#value = value;
    this.#resolve?.(value);
  }

  /** Settles with `error`; later calls are ignored. */
  reject(error: unknown): void {
    if (this.#state !== "pending") return;
    this.#state = "failed";
    this.#error = error;
    this.#reject?.(error);
  }
}

/** What the engine does when an attempt's handler is done (shared, not a closure per run). */
export type AttemptEnded = (attempt: Running, ok: boolean, value: unknown) => void;

/**
 * One running attempt. It is also the executor's run options: a {@link RunControl} makes an
 * `AbortSignal` only if the executor or handler reads it, which short jobs rarely do.
 */
export class Running extends RunControl {
  /** Why the run was aborted first. */
  abortKind: AbortKind | undefined = undefined;
  /** `cancelJob` asked for it: the attempt ends `cancelled` even if a timeout aborted it first. */
  cancelRequested = false;
  /** The attempt's timeout timer, if the job has a timeout. */
  timer: ClockTimer | undefined = undefined;
  /** The attempt's trace span, when the engine traces. */
  span: AttemptSpan | undefined = undefined;
  /** The limits' slots and units the attempt holds (jobs that use limits). */
  permit: AttemptPermit | undefined = undefined;
  /** Settles when the attempt is over: with the result when the job reached a terminal status and it is durable. */
  readonly outcome: Outcome<Result | undefined> = new Outcome<Result | undefined>();
  /** Handler start, `performance.now()` (for the execution timing). */
  readonly t0: number;
  readonly job: Job;
  /** When the attempt started (clock ms). */
  readonly startedAt: number;
  /** Started by the run loop (not `runNext`): the loop reports its failures. */
  readonly fromLoop: boolean;
  readonly #events: TypedEmitter<EngineEventMap>;
  readonly #ended: AttemptEnded;
  #handlerDone = false;

  constructor(job: Job, startedAt: number, fromLoop: boolean, events: TypedEmitter<EngineEventMap>, ended: AttemptEnded) {
    super();
    this.job = job;
    this.startedAt = startedAt;
    this.fromLoop = fromLoop;
    this.#events = events;
    this.#ended = ended;
    this.t0 = performance.now();
  }

  /** Settles when the attempt is over (see {@link outcome}). */
  get done(): Promise<Result | undefined> {
    return this.outcome.promise;
  }

  /** Aborts the run for `kind` unless it was aborted before (the first reason stays). */
  stop(kind: AbortKind, reason: unknown): void {
    this.abortKind ??= kind;
    this.abort(reason);
  }

  onProgress(value: unknown): void {
    if (this.#events.has("job:progress")) {
      this.#events.emit("job:progress", { jobId: this.job.id, attempt: this.job.attempts, value });
    }
  }

  /** The handler's `ctx.charge(units, key?)`: its real usage corrects the units it was admitted with. */
  override onCharge(units: number, key: string | undefined): void {
    if (this.permit !== undefined) this.permit.charge(units, key);
    else this.permitless(units, key);
  }

  /** A charge from a job that uses no limit: reported, nothing else happens. */
  permitless(units: number, key: string | undefined): void {
    const error = new ValidationError(
      `job ${this.job.id} charged ${units} units${key === undefined ? "" : ` to limit ${JSON.stringify(key)}`} but uses no limit`,
    );
    this.#events.emit("engine:error", { error, context: `ctx.charge of job ${this.job.id}` });
  }

  /** The run ended: from the executor's `start`, or from the promise of its `run`. */
  override settle(ok: boolean, value: unknown): void {
    // Once only, whatever a third-party executor does.
    if (this.#handlerDone) return;
    this.#handlerDone = true;
    this.#ended(this, ok, value);
  }
}

/** What the engine does when a terminal commit is durable or refused (shared, not a closure per job). */
export interface TerminalCommitHandlers {
  durable(commit: TerminalCommit): void;
  refused(commit: TerminalCommit, error: unknown): void;
}

/**
 * A job's terminal record and result on their way to the store. It is the group committer's
 * waiter (no promise per commit); its {@link outcome} resolves with the result once durable.
 */
export class TerminalCommit {
  readonly outcome: Outcome<Result> = new Outcome<Result>();
  readonly job: Job;
  readonly result: Result;
  /** The attempt that ended here, if any (a queued job can be cancelled without one). */
  readonly running: Running | undefined;
  readonly #handlers: TerminalCommitHandlers;

  constructor(job: Job, result: Result, running: Running | undefined, handlers: TerminalCommitHandlers) {
    this.job = job;
    this.result = result;
    this.running = running;
    this.#handlers = handlers;
  }

  #told = false;

  /** Called by the committer once the record is durable. */
  resolve(): void {
    if (this.#told) return;
    this.#told = true;
    this.#handlers.durable(this);
  }

  /** Called by the committer when the store refused the record. */
  reject(error: unknown): void {
    if (this.#told) return;
    this.#told = true;
    this.#handlers.refused(this, error);
  }
}

/** What the engine does once an attempt's `running` record is durable or refused. */
export interface StartHandlers {
  durable(running: Running): void;
  refused(running: Running, error: unknown): void;
}

/** The committer's waiter of a `running` record (one per attempt on stores without claims; no closures). */
export class StartWhenDurable implements Waiter {
  constructor(
    readonly handlers: StartHandlers,
    readonly running: Running,
  ) {}
  resolve(): void {
    this.handlers.durable(this.running);
  }
  reject(error: unknown): void {
    this.handlers.refused(this.running, error);
  }
}

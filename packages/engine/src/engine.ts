import { availableParallelism } from "node:os";
import {
  CancelledError,
  createJob,
  createResult,
  DuplicateJobError,
  findJsonProblem,
  HandlerNotFoundError,
  IllegalTransitionError,
  InterruptedError,
  isTerminal,
  JobNotFoundError,
  parseJobSpec,
  recordFailure,
  serializeError,
  ShuttingDownError,
  StoreFailureError,
  startAttempt,
  systemClock,
  TimeoutError,
  transition,
  UnknownModeError,
  ValidationError,
  type Clock,
  type Job,
  type JobSpecInput,
  type JobStatus,
  type RandomSource,
  type Result,
} from "@pyrexis/models";
import { silentLogger, type Executor, type Logger } from "@pyrexis/executors";
import { MetricsRegistry } from "@pyrexis/metrics";
import { DEFAULT_AGING_RATE, PriorityScheduler } from "@pyrexis/scheduler";
import type { JobStore, ListJobsPage, ListJobsQuery } from "@pyrexis/storage";
import { Running, TerminalCommit, type AbortKind, type TerminalCommitHandlers } from "./attempt.js";
import { TypedEmitter, type EngineEventMap, type EngineEventName, type EngineListener } from "./events.js";
import { GroupCommitter } from "./group-commit.js";
import { LocalQueue, type QueueEntry, type SchedulerFactory } from "./local-queue.js";
import { ShutdownCoordinator } from "./shutdown.js";

/** The executors an engine routes to, by mode. `ExecutorRouter` from @pyrexis/executors fits. */
export interface ExecutorSource {
  /** The executor of `mode`; throws `UnknownModeError` when there is none. */
  get(mode: string): Executor;
  /** Mode names with an executor. */
  readonly modes: readonly string[];
  /** Finishes in-flight work and releases workers. */
  close(): Promise<void>;
}

/** Options of {@link Engine}. */
export interface EngineOptions {
  /** Where jobs and results live. The engine closes it on shutdown. */
  store: JobStore;
  /** Executors by mode. The engine closes them on shutdown. */
  executors: ExecutorSource;
  /**
   * Names of the registered handlers; when given, submitting an unknown handler fails at once
   * with `HandlerNotFoundError` instead of failing the job later.
   */
  handlerNames?: readonly string[] | undefined;
  /** Concurrent jobs per mode: a number for every mode, or per mode. Defaults: async 64, others the number of cores. */
  concurrency?: number | Readonly<Record<string, number>> | undefined;
  /** Builds the scheduler of each mode (default: `PriorityScheduler` with `agingRate`). */
  createScheduler?: SchedulerFactory | undefined;
  /** Aging of the default scheduler, priority points per second of waiting (default the scheduler's). */
  agingRate?: number | undefined;
  /** Batch transitions into one store commit per tick (default true). */
  groupCommit?: boolean | undefined;
  /** Largest number of job changes in one commit (default 1000). */
  maxCommitBatch?: number | undefined;
  metrics?: MetricsRegistry | undefined;
  clock?: Clock | undefined;
  /** Randomness of backoff jitter. */
  random?: RandomSource | undefined;
  logger?: Logger | undefined;
  shutdownCoordinator?: ShutdownCoordinator | undefined;
  /** Default grace period of {@link Engine.shutdown} (ms, default 10000). */
  shutdownGraceMs?: number | undefined;
  /**
   * While `runLoop` runs, look for jobs that other processes submitted to the same store (e.g.
   * `pyrexis submit` while a worker runs) every this many ms (see {@link Engine.rescan}). Off by
   * default: submissions through this engine need no scan.
   */
  rescanIntervalMs?: number | undefined;
}

/** Options of {@link Engine.shutdown}. */
export interface ShutdownOptions {
  /** How long in-flight jobs may finish before they are aborted (back to `retrying`). */
  graceMs?: number | undefined;
}

/** Options of {@link Engine.waitForResult}. */
export interface WaitOptions {
  signal?: AbortSignal | undefined;
}

/**
 * The `runAt` a queue entry carries: the job's, when it was in the future at the job's last write
 * (a delay or a retry backoff); otherwise none, and the entry is ready at once from `enqueuedAt`
 * (= `job.runAt`, so its age is the same). Saves the scheduler and the queue a clock read per job.
 */
function delayedRunAt(job: Job): number | undefined {
  return job.runAt > job.updatedAt ? job.runAt : undefined;
}

/**
 * A job this engine holds: queued, running, or committing its terminal record (`settling`).
 * While queued it is its own scheduler entry (one object per job instead of two); the entry
 * fields are plain data, set from the job each time it is queued.
 */
class Active implements QueueEntry {
  job!: Job;
  readonly id: string;
  priority!: number;
  enqueuedAt!: number;
  /** Set only for a job that was delayed when written (see {@link delayedRunAt}). */
  runAt: number | undefined;
  mode!: string;
  /** True while this entry is in the queue. */
  queued = false;
  running: Running | undefined = undefined;
  settling: TerminalCommit | undefined = undefined;

  constructor(job: Job) {
    this.id = job.id;
    this.setJob(job);
  }

  /** Points the job and the entry fields at `job`, to be queued. */
  setJob(job: Job): void {
    this.job = job;
    this.priority = job.priority;
    this.enqueuedAt = job.runAt;
    this.runAt = delayedRunAt(job);
    this.mode = job.mode;
  }
}

/** A `waitForResult` caller. */
interface ResultWaiter {
  resolve(result: Result): void;
  reject(error: unknown): void;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** True when `promise` settled within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Parses `specs[i]`; the error names the spec's index in a batch (the label is built only then). */
function parseSpecAt(specs: readonly JobSpecInput[], i: number): ReturnType<typeof parseJobSpec> {
  try {
    return parseJobSpec(specs[i], "job spec");
  } catch (error) {
    if (specs.length === 1) throw error;
    return parseJobSpec(specs[i], `job spec #${i}`);
  }
}

type EngineState = "idle" | "running" | "stopping" | "stopped";

const DEFAULT_ASYNC_CONCURRENCY = 64;

type TerminalStatus = "completed" | "failed" | "cancelled";
const COUNTER_OF = { completed: "job.completed", failed: "job.failed", cancelled: "job.cancelled" } as const;
const EVENT_OF = { completed: "job:completed", failed: "job:failed", cancelled: "job:cancelled" } as const;
const LIST_PAGE = 1000;
/** A rescan also looks this far before the newest job it saw (clocks of other processes). */
const RESCAN_SLACK_MS = 5000;
/** How long shutdown keeps retrying a failing store before giving up on unflushed changes. */
const MIN_FINAL_FLUSH_MS = 5000;

/**
 * The Pyrexis engine: validates and persists submissions, schedules them with aging, runs them
 * on the executor of their mode, retries with backoff, records exactly one result per job, and
 * recovers after a crash.
 *
 * @example
 * ```ts
 * const engine = new Engine({ store: new MemoryJobStore(), executors });
 * await engine.start();                         // recovery
 * const job = await engine.submitJob({ handler: "embed", payload: { text: "hi" } });
 * void engine.runLoop();                        // dispatch until shutdown
 * const result = await engine.waitForResult(job.id);
 * await engine.shutdown();
 * ```
 */
export class Engine {
  readonly #store: JobStore;
  readonly #executors: ExecutorSource;
  readonly #handlerNames: ReadonlySet<string> | undefined;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #logger: Logger;
  readonly #metrics: MetricsRegistry;
  readonly #events: TypedEmitter<EngineEventMap>;
  readonly #committer: GroupCommitter;
  readonly #queue: LocalQueue;
  readonly #shutdown: ShutdownCoordinator;
  readonly #concurrency: number | Readonly<Record<string, number>> | undefined;
  readonly #graceMs: number;
  readonly #rescanIntervalMs: number | undefined;
  #rescanTimer: NodeJS.Timeout | undefined;
  #rescanning: Promise<number> | undefined;
  /** Newest `createdAt` seen by recovery or a rescan: a rescan looks at jobs from there on. */
  #seenUntil = 0;
  readonly #active = new Map<string, Active>();
  readonly #runningByMode = new Map<string, number>();
  readonly #waiters = new Map<string, ResultWaiter[]>();
  /** Aborted when shutdown starts: wakes `runNext` out of a backoff wait. */
  readonly #stopController = new AbortController();
  /** Ids that left this engine while a rescan was reading the store (so it does not re-queue them). */
  #leftDuringRescan: Set<string> | undefined;
  #state: EngineState = "idle";
  #started: Promise<void> | undefined;
  #looping = false;
  #loopDone: (() => void) | undefined;
  #keepAlive: NodeJS.Timeout | undefined;
  #shutdownPromise: Promise<void> | undefined;
  #drainedEmitted = false;

  constructor(options: EngineOptions) {
    this.#store = options.store;
    this.#executors = options.executors;
    this.#handlerNames = options.handlerNames ? new Set(options.handlerNames) : undefined;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger ?? silentLogger;
    this.#metrics = options.metrics ?? new MetricsRegistry();
    this.#concurrency = options.concurrency;
    this.#graceMs = options.shutdownGraceMs ?? 10_000;
    this.#rescanIntervalMs = options.rescanIntervalMs;
    this.#events = new TypedEmitter<EngineEventMap>((error, event) => {
      this.#logger.error({ err: error, event }, "event listener threw");
      if (event !== "engine:error") this.#events.emit("engine:error", { error, context: `listener of ${String(event)}` });
    });
    this.#committer = new GroupCommitter(this.#store, {
      group: options.groupCommit ?? true,
      maxBatch: options.maxCommitBatch ?? 1000,
      onError: (error, context) => this.#reportError(error, context),
      onRejected: ({ jobId, error }) => {
        this.#reportError(error, `store rejected the change of job ${jobId ?? "(insert)"}`);
        if (jobId !== undefined) this.#forget(jobId, error);
      },
    });
    const agingRate = options.agingRate;
    const clock = this.#clock;
    const createScheduler: SchedulerFactory =
      options.createScheduler ?? (() => new PriorityScheduler<QueueEntry>(agingRate === undefined ? { clock } : { clock, agingRate }));
    this.#queue = new LocalQueue(createScheduler, this.#clock, agingRate ?? DEFAULT_AGING_RATE, () => this.#pump());
    this.#shutdown = options.shutdownCoordinator ?? new ShutdownCoordinator();
    // Released in reverse: executors close first, then the store.
    this.#shutdown.register("store", () => this.#store.close());
    this.#shutdown.register("executors", () => this.#executors.close());
  }

  /** The store the engine writes to. */
  get store(): JobStore {
    return this.#store;
  }

  /** The shutdown coordinator; register your own callbacks on it. */
  get shutdownCoordinator(): ShutdownCoordinator {
    return this.#shutdown;
  }

  /** `idle` (not looping), `running` (in `runLoop`), `stopping` or `stopped`. */
  get state(): EngineState {
    return this.#state;
  }

  /** Adds an event listener; returns a function that removes it. */
  on<K extends EngineEventName>(event: K, listener: EngineListener<K>): () => void {
    return this.#events.on(event, listener);
  }

  /** Adds a listener that runs once. */
  once<K extends EngineEventName>(event: K, listener: EngineListener<K>): () => void {
    return this.#events.once(event, listener);
  }

  /** Removes an event listener. */
  off<K extends EngineEventName>(event: K, listener: EngineListener<K>): void {
    this.#events.off(event, listener);
  }

  /**
   * Recovers the store's unfinished jobs: `pending` and `retrying` jobs are queued again (their
   * `runAt` honoured); a job found `running` was interrupted by a crash, which counts as a failed
   * attempt (retried or failed by the usual rules). Idempotent; other methods call it first.
   */
  start(): Promise<void> {
    if (!this.#started) {
      const recovery = this.#recover();
      this.#started = recovery;
      // A failed recovery (e.g. a transient store error) may be tried again.
      recovery.catch(() => {
        if (this.#started === recovery) this.#started = undefined;
      });
    }
    return this.#started;
  }

  async #recover(): Promise<void> {
    const now = this.#clock.now();
    let recovered = 0;
    let interrupted = 0;
    const durable: Promise<void>[] = [];
    let cursor: string | undefined;
    do {
      const page: ListJobsPage = await this.#store.listJobs({
        status: ["pending", "retrying", "running"],
        limit: LIST_PAGE,
        cursor,
      });
      for (const job of page.jobs) {
        if (job.createdAt > this.#seenUntil) this.#seenUntil = job.createdAt;
        if (this.#active.has(job.id)) continue;
        if (job.status === "running") {
          interrupted++;
          const outcome = recordFailure(job, new InterruptedError(job.id), now, this.#random);
          if (outcome.willRetry) {
            durable.push(this.#committer.update(outcome.job, job.version));
            this.#enqueue(outcome.job);
          } else {
            durable.push(this.#finish(job, outcome.job, { error: outcome.error, startedAt: job.updatedAt }, now));
          }
        } else {
          this.#enqueue(job);
        }
        recovered++;
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    await Promise.all(durable);
    if (recovered > 0) this.#logger.info({ recovered, interrupted }, "recovered unfinished jobs");
  }

  /**
   * Queues `pending` jobs that another process added to the store since recovery or the last
   * rescan (newest first, stopping at jobs older than what was already seen, with a few seconds
   * of slack for clock skew between processes). Returns how many were queued. Jobs running in
   * another process are left alone: this is not recovery. One worker per store for now: two
   * engines on one store would both run the same pending job (the store's compare-and-set keeps
   * one outcome, but the handler may run twice).
   */
  rescan(): Promise<number> {
    this.#rescanning ??= this.#doRescan().finally(() => (this.#rescanning = undefined));
    return this.#rescanning;
  }

  async #doRescan(): Promise<number> {
    await this.start();
    if (this.#stopping) return 0;
    const from = this.#seenUntil - RESCAN_SLACK_MS;
    let queued = 0;
    let newest = this.#seenUntil;
    let cursor: string | undefined;
    // A job that finishes here while the page is read still shows `pending` in that page.
    const left = new Set<string>();
    this.#leftDuringRescan = left;
    try {
      scan: do {
        const page = await this.#store.listJobs({ status: "pending", order: "desc", limit: LIST_PAGE, cursor });
        for (const job of page.jobs) {
          if (job.createdAt < from) break scan;
          if (job.createdAt > newest) newest = job.createdAt;
          if (this.#stopping || left.has(job.id) || this.#active.has(job.id)) continue;
          if (this.#enqueue(job)) queued++;
        }
        cursor = page.cursor;
      } while (cursor !== undefined);
    } finally {
      this.#leftDuringRescan = undefined;
    }
    this.#seenUntil = newest;
    if (queued > 0) {
      this.#logger.debug({ queued }, "rescan queued jobs submitted elsewhere");
      this.#pump();
    }
    return queued;
  }

  /**
   * Validates a spec, persists the job as `pending` and queues it. Resolves with the job once it
   * is durable. Throws `ValidationError` (naming the field), `DuplicateJobError`,
   * `HandlerNotFoundError`, `UnknownModeError` or `ShuttingDownError`; nothing is written then.
   */
  async submitJob(spec: JobSpecInput): Promise<Job> {
    const [job] = await this.submitJobs([spec]);
    return job as Job;
  }

  /**
   * Submits many specs in one durable commit: all of them or none. A bad spec is reported with
   * its index and field (`invalid job spec #3: priority: …`).
   */
  async submitJobs(specs: readonly JobSpecInput[]): Promise<Job[]> {
    if (!Array.isArray(specs)) throw new ValidationError("submitJobs expects an array of job specs");
    this.#assertAccepting();
    await this.start();
    const now = this.#clock.now();
    const jobs: Job[] = new Array<Job>(specs.length);
    const ids = new Set<string>();
    const modes = this.#executors.modes; // a getter that may copy: read it once per batch
    for (let i = 0; i < specs.length; i++) {
      const spec = parseSpecAt(specs, i);
      if (this.#handlerNames && !this.#handlerNames.has(spec.handler)) {
        throw new HandlerNotFoundError(spec.handler, [...this.#handlerNames]);
      }
      if (!modes.includes(spec.mode)) throw new UnknownModeError(spec.mode, modes);
      const job = createJob(spec, now);
      // A generated id (UUIDv7, strictly increasing here) cannot repeat: only given ids are checked.
      if (spec.id !== undefined) {
        if (ids.has(job.id) || this.#active.has(job.id)) throw new DuplicateJobError(job.id);
        ids.add(job.id);
      }
      jobs[i] = job;
    }
    this.#assertAccepting();
    await this.#committer.insert(jobs);
    if (now > this.#seenUntil) this.#seenUntil = now;
    for (const job of jobs) {
      this.#enqueue(job);
      this.#metrics.increment("job.submitted");
      if (this.#events.has("job:submitted")) this.#events.emit("job:submitted", { job });
    }
    this.#pump();
    return jobs;
  }

  /** True once shutdown began (a getter, so checks after an `await` are not narrowed away). */
  get #stopping(): boolean {
    return this.#state === "stopping" || this.#state === "stopped";
  }

  #assertAccepting(): void {
    if (this.#stopping) throw new ShuttingDownError();
  }

  /** Queues a job; false when it is already queued, running or finishing here (e.g. a rescan got to it first). */
  #enqueue(job: Job): boolean {
    const active = this.#active.get(job.id);
    if (active && (active.queued || active.running || active.settling)) return false;
    if (active) {
      const before = active.job;
      active.setJob(job);
      try {
        this.#queue.push(active);
      } catch (error) {
        active.setJob(before); // nothing changes on a throw
        throw error;
      }
      active.queued = true;
    } else {
      const created = new Active(job);
      this.#queue.push(created); // may throw: only then record it
      created.queued = true;
      this.#active.set(job.id, created);
    }
    this.#drainedEmitted = false;
    return true;
  }

  /** The job left this engine (finished, handed back to the store, or taken by another writer). */
  #release(id: string): void {
    this.#active.delete(id);
    this.#leftDuringRescan?.add(id);
  }

  /**
   * Runs the next due job (highest effective priority of any mode) to completion, retries
   * included, and returns its result; `undefined` when no job is due.
   */
  async runNext(): Promise<Result | undefined> {
    if (this.#stopping) return undefined;
    await this.start();
    if (this.#stopping) return undefined;
    const entry = this.#queue.popAny();
    if (!entry) return undefined;
    let result = await this.#awaitRun(entry);
    while (result === undefined && !this.#stopping) {
      const waiting = this.#active.get(entry.id);
      if (!waiting?.queued) return undefined;
      // It is waiting out its backoff: wait for it (shutdown cuts the wait short), then run it
      // again unless it was cancelled, taken by runLoop, or the engine is stopping.
      const wait = Math.max(0, waiting.job.runAt - this.#clock.now());
      if (wait > 0) await sleep(wait, this.#stopController.signal);
      if (this.#stopping) return undefined;
      const again = this.#active.get(entry.id);
      if (!again?.queued || !this.#queue.remove(again)) return undefined;
      result = await this.#awaitRun(again);
    }
    return result;
  }

  /**
   * Dispatches jobs continuously, up to the concurrency limit of each mode, woken by
   * submissions and by one timer for the earliest delayed job. Keeps the process alive and
   * resolves when {@link shutdown} completes.
   */
  async runLoop(): Promise<void> {
    await this.start();
    if (this.#looping) throw new TypeError("runLoop is already running");
    if (this.#stopping) return;
    this.#looping = true;
    this.#state = "running";
    this.#keepAlive = setInterval(() => {}, 1 << 30);
    if (this.#rescanIntervalMs !== undefined) {
      this.#rescanTimer = setInterval(() => {
        this.rescan().catch((error: unknown) => this.#reportError(error, "rescan of the store failed"));
      }, this.#rescanIntervalMs);
      this.#rescanTimer.unref();
    }
    const done = new Promise<void>((resolve) => (this.#loopDone = resolve));
    this.#pump();
    this.#checkDrained();
    await done;
  }

  #limit(mode: string): number {
    const c = this.#concurrency;
    if (typeof c === "number") return c;
    const v = c?.[mode];
    if (v !== undefined) return v;
    return mode === "async" ? DEFAULT_ASYNC_CONCURRENCY : availableParallelism();
  }

  /** Starts as many due jobs as the limits allow. */
  #pump(): void {
    if (!this.#looping || this.#state !== "running") return;
    const modes = this.#queue.modes;
    for (let m = 0; m < modes.length; m++) {
      const mode = modes[m] as string;
      const limit = this.#limit(mode);
      let running = this.#runningByMode.get(mode) ?? 0;
      while (running < limit) {
        const entry = this.#queue.popMode(mode);
        if (!entry) break;
        running++;
        this.#start(entry, true);
      }
    }
  }

  readonly #afterRunOk = (): void => {
    this.#pump();
    this.#checkDrained();
  };

  readonly #afterRunFailed = (error: unknown): void => {
    this.#reportError(error, "running a job failed outside its handler");
    this.#afterRunOk();
  };

  #checkDrained(): void {
    if (this.#drainedEmitted || !this.#looping || this.#state !== "running") return;
    if (this.#active.size === 0 && this.#queue.size === 0) {
      this.#drainedEmitted = true;
      this.#events.emit("engine:drained", {});
    }
  }

  /** Runs one attempt of a popped entry and waits for it (see {@link #start}). */
  #awaitRun(entry: QueueEntry): Promise<Result | undefined> {
    const running = this.#start(entry, false);
    return running ? running.done : Promise.resolve(undefined);
  }

  /**
   * Starts one attempt of a popped entry; `undefined` when the job cannot run now. The attempt's
   * outcome resolves with the result when the job reached a terminal status (after the result
   * is durable), or `undefined` when it will retry.
   */
  #start(entry: QueueEntry, fromLoop: boolean): Running | undefined {
    const active = this.#active.get(entry.id);
    // The entry was popped (or removed) from the queue: whatever happens next, it is not queued.
    if (active?.queued) active.queued = false;
    if (this.#stopping || !active || active.running || active.settling || isTerminal(active.job.status)) return undefined;
    const now = this.#clock.now();
    const previous = active.job;
    const job = startAttempt(previous, now);
    active.job = job;
    this.#committer.stage(job, previous.version);
    this.#metrics.observe("job.queue_wait", Math.max(0, now - previous.runAt));
    this.#runningByMode.set(job.mode, (this.#runningByMode.get(job.mode) ?? 0) + 1);
    if (this.#events.has("job:started")) this.#events.emit("job:started", { job, attempt: job.attempts });

    const running = new Running(job, now, fromLoop, this.#events, this.#attemptEnded);
    active.running = running;
    if (job.timeoutMs !== undefined) {
      const timeoutMs = job.timeoutMs;
      running.timer = setTimeout(() => running.stop("timeout", new TimeoutError(job.id, timeoutMs)), timeoutMs);
    }
    const task = { jobId: job.id, handler: job.handler, payload: job.payload, attempt: job.attempts };
    let output: Promise<unknown>;
    try {
      const executor = this.#executors.get(job.mode);
      // An executor with `start` reports to the attempt itself: no promise per run.
      if (executor.start) {
        executor.start(task, running);
        return running;
      }
      // Promise.resolve: a third-party executor may return a plain value or a thenable.
      output = Promise.resolve(executor.run(task, running));
    } catch (error) {
      output = Promise.reject(error);
    }
    output.then(
      (value) => running.settle(true, value),
      (error: unknown) => running.settle(false, error),
    );
    return running;
  }

  /** The handler of an attempt is done: decide what becomes of the job. Never throws. */
  readonly #attemptEnded = (running: Running, ok: boolean, value: unknown): void => {
    try {
      this.#decide(running, ok, value);
    } catch (error) {
      // A bug or an impossible state: the attempt must still end, and the loop go on.
      running.outcome.reject(error);
    }
    if (running.outcome.settled) this.#runEnded(running);
  };

  /** After an attempt's outcome settled: the loop reports a failure, then dispatches more. */
  #runEnded(running: Running): void {
    if (!running.fromLoop) return;
    if (running.outcome.failed) this.#afterRunFailed(running.outcome.error);
    else this.#afterRunOk();
  }

  #decide(running: Running, ok: boolean, value: unknown): void {
    const job = running.job;
    if (running.timer) clearTimeout(running.timer);
    this.#metrics.observe("job.execution", performance.now() - running.t0);
    this.#runningByMode.set(job.mode, (this.#runningByMode.get(job.mode) ?? 1) - 1);
    // The slot is free as soon as the handler is done: the next job starts while this one's
    // result is being committed (commits pipeline instead of gating every slot).
    this.#pump();
    let output: unknown;
    let error: unknown;
    if (ok) {
      // A handler that returns nothing produced `null` (JSON has no undefined).
      output = value === undefined ? null : value;
      if (running.abortKind !== undefined) {
        ok = false;
        error = running.reason;
      } else {
        const problem = findJsonProblem(output);
        if (problem) {
          ok = false;
          error = new ValidationError(
            `handler "${job.handler}" returned a non-JSON output at ${problem.path.join(".") || "(root)"}: ${problem.message}`,
          );
        }
      }
    } else {
      error = running.abortKind !== undefined ? running.reason : value;
    }
    const now = this.#clock.now();
    const startedAt = running.startedAt;
    // Another writer wins over everything; a cancel request over a timeout that came first.
    const kind: AbortKind | undefined = running.abortKind === "lost" ? "lost" : running.cancelRequested ? "cancel" : running.abortKind;
    if (ok && kind === undefined) {
      const done = transition(job, "completed", now);
      this.#settleTerminal(job, done, { output: output as Result["output"], startedAt }, now, running);
      return;
    }
    switch (kind) {
      case "lost": {
        // Another writer (e.g. `pyrexis cancel` in another process) changed the job: its record
        // in the store wins; write nothing more for it.
        this.#release(job.id);
        this.#withStoredResult(job.id, error, (stored) => {
          running.outcome.resolve(stored);
          this.#runEnded(running);
        });
        return;
      }
      case "cancel": {
        const cancelled = transition(job, "cancelled", now);
        this.#settleTerminal(job, cancelled, { error: serializeError(error), startedAt }, now, running);
        return;
      }
      case "shutdown": {
        // A graceful shutdown took the attempt away: it does not count, the job runs again next start.
        const back = transition(job, "retrying", now, {
          attempts: job.attempts - 1,
          runAt: now,
          lastError: serializeError(error),
        });
        // Staged, not awaited: a failing store must not hold shutdown up (the final flush is bounded).
        this.#committer.stage(back, job.version);
        this.#release(job.id);
        running.outcome.resolve(undefined);
        return;
      }
      case "timeout":
      case undefined: {
        const outcome = recordFailure(job, error, now, this.#random);
        if (outcome.willRetry) {
          this.#metrics.increment("job.retries");
          this.#committer.stage(outcome.job, job.version);
          const active = this.#active.get(job.id);
          if (active) active.running = undefined;
          this.#enqueue(outcome.job);
          if (this.#events.has("job:retrying")) {
            this.#events.emit("job:retrying", { job: outcome.job, error: outcome.error, delayMs: outcome.delayMs });
          }
          running.outcome.resolve(undefined);
          return;
        }
        this.#settleTerminal(job, outcome.job, { error: outcome.error, startedAt }, now, running);
        return;
      }
    }
  }

  /**
   * Stages a job's terminal record and result; the returned commit's outcome resolves with the
   * result once durable. While it commits, the job stays known as `settling`, so a cancel or a
   * rescan cannot act on it.
   */
  #settleTerminal(
    previous: Job,
    job: Job,
    fields: { output?: Result["output"]; error?: Result["error"]; startedAt: number },
    now: number,
    running: Running | undefined,
  ): TerminalCommit {
    const commit = new TerminalCommit(job, this.#resultOf(job, fields, now), running, this.#terminalHandlers);
    const active = this.#active.get(job.id);
    if (active) {
      active.job = job;
      active.running = undefined;
      active.queued = false;
      active.settling = commit;
    }
    this.#committer.updateWith(job, previous.version, commit.result, commit);
    return commit;
  }

  readonly #terminalHandlers: TerminalCommitHandlers = {
    durable: (commit) => {
      const { job, result } = commit;
      this.#settleWaiters(job.id, result, undefined);
      this.#release(job.id);
      this.#metrics.increment(COUNTER_OF[job.status as TerminalStatus]);
      this.#events.emit(EVENT_OF[job.status as TerminalStatus], { job, result });
      this.#endCommit(commit, result, undefined);
    },
    refused: (commit, error) => {
      // The store refused the terminal record (already reported): keep what the store has.
      const id = commit.job.id;
      this.#release(id);
      this.#withStoredResult(id, error, (stored) => this.#endCommit(commit, stored, error));
    },
  };

  /**
   * For a job whose record the store kept (another writer's, or the one it would not replace):
   * reads the stored result, settles the `waitForResult` callers with it (or with `error` when
   * there is none), then calls `then`.
   */
  #withStoredResult(id: string, error: unknown, then: (stored: Result | undefined) => void): void {
    const settle = (stored: Result | undefined): void => {
      this.#settleWaiters(id, stored, error);
      then(stored);
    };
    this.#store.getResult(id).then(settle, () => settle(undefined));
  }

  /** Settles a terminal commit (and its attempt) with the durable result, or fails it with `error`. */
  #endCommit(commit: TerminalCommit, result: Result | undefined, error: unknown): void {
    if (result) commit.outcome.resolve(result);
    else commit.outcome.reject(error);
    const running = commit.running;
    if (!running) return;
    if (result) running.outcome.resolve(result);
    else running.outcome.reject(error);
    this.#runEnded(running);
  }

  #finish(
    previous: Job,
    job: Job,
    fields: { output?: Result["output"]; error?: Result["error"]; startedAt: number },
    now: number,
  ): Promise<void> {
    const result = this.#resultOf(job, fields, now);
    return this.#committer.update(job, previous.version, result).then(() => {
      this.#settleWaiters(job.id, result, undefined);
      this.#release(job.id);
      this.#metrics.increment(COUNTER_OF[job.status as TerminalStatus]);
    });
  }

  /** Resolves every `waitForResult` of `id` with `result`, or rejects them with `error`. */
  #settleWaiters(id: string, result: Result | undefined, error: unknown): void {
    const waiters = this.#waiters.get(id);
    if (!waiters) return;
    this.#waiters.delete(id);
    for (const w of waiters) {
      if (result) w.resolve(result);
      else w.reject(error);
    }
  }

  /** The frozen result of a job that reached its terminal status. */
  #resultOf(job: Job, fields: { output?: Result["output"]; error?: Result["error"]; startedAt: number }, now: number): Result {
    return createResult({
      jobId: job.id,
      status: job.status as Result["status"],
      startedAt: fields.startedAt,
      endedAt: now,
      attempts: job.attempts,
      output: fields.output,
      error: fields.error,
    });
  }

  /**
   * Cancels a job. A queued (pending/retrying) job leaves the queue at once; a running job's
   * signal is aborted and it ends `cancelled` when its handler returns. Resolves with the
   * final job once the cancellation is durable. Throws `JobNotFoundError`, or
   * `IllegalTransitionError` for a job that already finished.
   */
  async cancelJob(id: string): Promise<Job> {
    if (this.#state === "stopped") throw new ShuttingDownError();
    await this.start();
    const active = this.#active.get(id);
    if (active?.settling) {
      // It is finishing right now: cancelling it is too late (unless it was being cancelled).
      const result = await active.settling.outcome.promise.catch(() => undefined);
      const status = result?.status ?? (await this.#store.getJob(id))?.status ?? active.job.status;
      if (status !== "cancelled") throw new IllegalTransitionError(id, status, "cancelled");
      return (await this.#store.getJob(id)) ?? active.job;
    }
    if (active?.running) {
      const running = active.running;
      running.cancelRequested = true;
      running.stop("cancel", new CancelledError(id));
      await running.done.catch(() => undefined);
      await this.#committer.flush().catch(() => {});
      return (await this.#store.getJob(id)) ?? active.job;
    }
    const now = this.#clock.now();
    if (active?.queued) {
      this.#queue.remove(active);
      active.queued = false;
      const cancelled = transition(active.job, "cancelled", now);
      await this.#settleTerminal(active.job, cancelled, { error: serializeError(new CancelledError(id)), startedAt: now }, now, undefined)
        .outcome.promise;
      this.#queue.refreshTimer();
      this.#checkDrained();
      return cancelled;
    }
    const stored = await this.#store.getJob(id);
    if (!stored) throw new JobNotFoundError(id);
    if (isTerminal(stored.status)) throw new IllegalTransitionError(id, stored.status, "cancelled");
    // Known to the store but not queued here (e.g. the engine has not recovered it).
    const cancelled = transition(stored, "cancelled", now);
    await this.#settleTerminal(stored, cancelled, { error: serializeError(new CancelledError(id)), startedAt: now }, now, undefined).outcome
      .promise;
    return cancelled;
  }

  /** The job as the engine knows it now (in memory if active, else from the store). */
  async getJob(id: string): Promise<Job | undefined> {
    return this.#active.get(id)?.job ?? this.#store.getJob(id);
  }

  /** The durable result of a finished job, if any. */
  getResult(id: string): Promise<Result | undefined> {
    return this.#store.getResult(id);
  }

  /** Lists jobs from the store (see `JobStore.listJobs`). */
  listJobs(query?: ListJobsQuery): Promise<ListJobsPage> {
    return this.#store.listJobs(query);
  }

  /** Jobs per status, from the store. */
  countByStatus(): Promise<Record<JobStatus, number>> {
    return this.#store.countByStatus();
  }

  /**
   * Resolves with the job's result once it is durable: at once if the store has it (also after
   * a restart), or when the job finishes. Throws `JobNotFoundError` for an unknown id.
   */
  async waitForResult(id: string, options: WaitOptions = {}): Promise<Result> {
    const { signal } = options;
    signal?.throwIfAborted();
    return new Promise<Result>((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => finish(undefined, signal?.reason);
      const waiter: ResultWaiter = { resolve: (r) => finish(r), reject: (e) => finish(undefined, e) };
      const finish = (r: Result | undefined, error?: unknown): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        const list = this.#waiters.get(id);
        if (list) {
          const i = list.indexOf(waiter);
          if (i >= 0) list.splice(i, 1);
          if (list.length === 0) this.#waiters.delete(id);
        }
        if (r) resolve(r);
        else reject(error);
      };
      // Register first, then look in the store, so a result written in between is not missed.
      const list = this.#waiters.get(id);
      if (list) list.push(waiter);
      else this.#waiters.set(id, [waiter]);
      signal?.addEventListener("abort", onAbort, { once: true });
      const lookUp = async (): Promise<void> => {
        const stored = await this.#store.getResult(id);
        if (stored) return finish(stored);
        if (this.#active.has(id)) return;
        const job = await this.#store.getJob(id);
        if (!job) finish(undefined, new JobNotFoundError(id));
        else if (isTerminal(job.status)) {
          const again = await this.#store.getResult(id);
          if (again) finish(again);
        }
      };
      // Any store error (e.g. a corrupt record) rejects the wait instead of leaving it pending.
      lookUp().catch((error: unknown) => finish(undefined, error));
    });
  }

  /**
   * The metrics registry, with gauges refreshed: `jobs.queued`, `jobs.ready`, `jobs.running`
   * per mode. Counters: `job.submitted`, `job.completed`, `job.failed`, `job.retries`,
   * `job.cancelled`; timings: `job.execution`, `job.queue_wait`.
   */
  getMetrics(): MetricsRegistry {
    this.#metrics.setGauge("jobs.queued", this.#queue.size);
    this.#metrics.setGauge("jobs.ready", this.#queue.readyCount);
    for (const mode of this.#executors.modes) {
      this.#metrics.setGauge("jobs.running", this.#runningByMode.get(mode) ?? 0, { mode });
    }
    return this.#metrics;
  }

  /** Jobs running now, per mode. */
  runningCounts(): Record<string, number> {
    return Object.fromEntries(this.#runningByMode);
  }

  /** Jobs queued (ready or delayed) in this engine. */
  get queuedCount(): number {
    return this.#queue.size;
  }

  /** Resolves once every staged transition is durable. */
  flush(): Promise<void> {
    return this.#committer.flush();
  }

  /**
   * Stops the engine: no new submissions (`ShuttingDownError`), no new dispatch; in-flight jobs
   * may finish for `graceMs`, then they are aborted and go back to `retrying` (their attempt not
   * counted); every transition is flushed; executors and then the store are closed; registered
   * shutdown callbacks run in reverse order. Idempotent; `runLoop()` resolves when it is done.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.#shutdownPromise ??= this.#doShutdown(options.graceMs ?? this.#graceMs);
    return this.#shutdownPromise;
  }

  /** Skips what is left of the grace period of a running shutdown: aborts in-flight jobs now. */
  forceShutdown(): Promise<void> {
    this.#abortInFlight();
    return this.shutdown({ graceMs: 0 });
  }

  /**
   * Drops a job whose change the store rejected as stale (someone else wrote it): a queued job
   * leaves the queue, a running one is aborted and writes nothing more.
   */
  #forget(jobId: string, reason: unknown): void {
    const active = this.#active.get(jobId);
    if (!active) return;
    if (active.running) {
      if (active.running.abortKind === undefined) active.running.stop("lost", reason);
      return;
    }
    if (active.queued) {
      this.#queue.remove(active);
      this.#queue.refreshTimer();
    }
    this.#active.delete(jobId);
    this.#checkDrained();
  }

  /** Jobs still running or committing their terminal record. */
  #inFlight(): Promise<unknown>[] {
    const out: Promise<unknown>[] = [];
    for (const a of this.#active.values()) {
      if (a.running) out.push(a.running.done);
      else if (a.settling) out.push(a.settling.outcome.promise);
    }
    return out;
  }

  #abortInFlight(): void {
    for (const [id, a] of this.#active) {
      if (a.running && a.running.abortKind === undefined)
        a.running.stop("shutdown", new InterruptedError(id, "aborted by engine shutdown"));
    }
  }

  async #doShutdown(graceMs: number): Promise<void> {
    this.#state = "stopping";
    this.#stopController.abort();
    this.#queue.stop();
    if (this.#rescanTimer) clearInterval(this.#rescanTimer);
    await this.#rescanning?.catch(() => 0);
    // After the grace period, aborting, settling and the final flush share one deadline, so a
    // failing store cannot hold shutdown up for longer than grace + MIN_FINAL_FLUSH_MS.
    if (this.#inFlight().length > 0) await settlesWithin(Promise.allSettled(this.#inFlight()), graceMs);
    const deadlineAt = Date.now() + MIN_FINAL_FLUSH_MS;
    if (this.#inFlight().length > 0) {
      this.#abortInFlight();
      await settlesWithin(Promise.allSettled(this.#inFlight()), deadlineAt - Date.now());
    }
    const deadline = Math.max(0, deadlineAt - Date.now());
    let flushFailed = false;
    let flushError: unknown;
    let flushTimer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((r) => (flushTimer = setTimeout(() => r("timeout"), deadline)));
    try {
      if ((await Promise.race([this.#committer.flush(), timedOut])) === "timeout") {
        flushError = new StoreFailureError(
          `shutdown: ${this.#committer.unsavedCount} job change(s) could not be persisted within ${MIN_FINAL_FLUSH_MS} ms after the grace period; ` +
            "they will be recovered from the store's last state on the next start",
        );
        flushFailed = true;
        this.#committer.abandon(flushError);
      }
    } catch (e) {
      flushFailed = true;
      flushError = e;
    } finally {
      clearTimeout(flushTimer);
    }
    // Nothing more can be written: later changes fail at once instead of waiting for a closed store.
    this.#committer.abandon(flushFailed ? flushError : new ShuttingDownError("engine has shut down"));
    // Results of jobs that did not finish will come from a later run, not from this engine.
    for (const id of [...this.#waiters.keys()]) {
      this.#settleWaiters(id, undefined, new ShuttingDownError(`engine shut down before job ${id} finished`));
    }
    const report = await this.#shutdown.run();
    for (const { name, error } of report.errors) this.#reportError(error, `shutdown step "${name}" failed`);
    this.#state = "stopped";
    if (this.#keepAlive) clearInterval(this.#keepAlive);
    this.#looping = false;
    this.#loopDone?.();
    if (flushFailed) throw flushError;
  }

  #reportError(error: unknown, context: string): void {
    this.#logger.error({ err: error, context }, context);
    this.#events.emit("engine:error", { error, context });
  }
}

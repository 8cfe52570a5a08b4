import {
  CancelledError,
  createJob,
  createResult,
  DuplicateJobError,
  HandlerNotFoundError,
  IllegalTransitionError,
  IncompatibleStoreError,
  InterruptedError,
  isPyrexisError,
  isTerminal,
  JobNotFoundError,
  serializeError,
  ShuttingDownError,
  startAttempt,
  StoreFailureError,
  TimeoutError,
  transition,
  ValidationError,
  ErrorCode,
  type Clock,
  type Job,
  type JobSpecInput,
  type JobStatus,
  type RandomSource,
  type Result,
} from "@pyrexis/models";
import type { Logger } from "@pyrexis/executors";
import type { CounterHandle, MetricsRegistry } from "@pyrexis/metrics";
import { DEFAULT_AGING_RATE, PriorityScheduler } from "@pyrexis/scheduler";
import {
  cancelStoredJob,
  deadLetters,
  hasClaims,
  hasDependencies,
  insertJobsIfAbsent,
  redriveMatching,
  redriveOne,
  splitExisting,
  type CancelOutcome,
  type ClaimedJob,
  type DeadLetterQuery,
  type FlowClaimOptions,
  type FlowJobStore,
  type JobsPage,
  type RedriveFilter,
  type RedriveHost,
  type RedriveReport,
  type JobStore,
  type ListJobsPage,
  type ListJobsQuery,
} from "@pyrexis/storage";
import { availableParallelism } from "node:os";
import { decideAttempt } from "./attempt-decision.js";
import { Running, StartWhenDurable, TerminalCommit, type StartHandlers, type TerminalCommitHandlers } from "./attempt.js";
import { BatchDispatcher, type BatchHost } from "./batch-dispatch.js";
import { batchDefinitionOf, type BatchHandler } from "./batch-handler.js";
import { Active } from "./active.js";
import { ClaimSource } from "./claim-source.js";
import { ClaimedWaiting } from "./claimed-waiting.js";
import { TypedEmitter, type EngineEventMap, type EngineEventName, type EngineListener } from "./events.js";
import { GroupCommitter } from "./group-commit.js";
import { LocalQueue, type QueueEntry, type SchedulerFactory } from "./local-queue.js";
import {
  resolveOptions,
  type ClaimSettings,
  type EngineOptions,
  type ExecutorSource,
  type ShutdownOptions,
  type WaitOptions,
} from "./options.js";
import { recoverFromListing } from "./recovery.js";
import { settlesWithin, sleep } from "./wait.js";
import { prunableStore, RetentionPruner } from "./retention.js";
import { ResultWaiters } from "./result-waiters.js";
import { RemoteResultChecker } from "./remote-results.js";
import { ShutdownCoordinator } from "./shutdown.js";
import { deadLetterJobOf, type DeadLetterRoute } from "./dead-letter-route.js";
import { parseSubmitOptions, type SubmitOptions } from "./submit-options.js";
import { EngineSchedules, type ScheduleInfo, type ScheduleOptions } from "./schedules.js";
import type { EngineTracing } from "./tracing-hooks.js";
import { FlowGate, type Permit } from "./flow-control/flow-gate.js";
import type { LimitSettings } from "./flow-control/limits.js";
import { creditInStore, StorePermit, type AttemptPermit, type StorePermitHost } from "./flow-control/store-permit.js";
import { parseSpecAt, SpecChecker } from "./spec-checks.js";

/** The limits and group weights every flow claim of this engine applies. */
function flowClaimOptions(resolved: {
  limits: ReadonlyMap<string, LimitSettings>;
  groupWeights: Readonly<Record<string, number>>;
}): FlowClaimOptions {
  const limits: Record<string, { rate?: { units: number; perMs: number }; maxConcurrent?: number }> = {};
  for (const [key, l] of resolved.limits) {
    limits[key] = {
      ...(l.rate === undefined ? {} : { rate: { units: l.rate.units, perMs: l.rate.perMs } }),
      ...(l.maxConcurrent === undefined ? {} : { maxConcurrent: l.maxConcurrent }),
    };
  }
  return { limits, groupWeights: resolved.groupWeights };
}

/** What `#submit` did: the jobs in spec order and which of them it wrote. */
interface Submitted {
  readonly jobs: Job[];
  /** `created[i]`: jobs[i] was written by this call, not an existing one returned; `undefined`: all were. */
  readonly created: readonly boolean[] | undefined;
}

/** The dispatchers of the batching handlers given to the engine; `undefined` when there are none. */
function batchDispatchers(
  handlers: Readonly<Record<string, BatchHandler>> | undefined,
  clock: Clock,
  host: BatchHost,
): ReadonlyMap<string, BatchDispatcher> | undefined {
  if (handlers === undefined) return undefined;
  const out = new Map<string, BatchDispatcher>();
  for (const [name, handler] of Object.entries(handlers)) {
    const definition = batchDefinitionOf(handler);
    if (definition === undefined)
      throw new TypeError(`batchHandlers.${name}: not a batching handler (make it with batchHandler(options, run))`);
    out.set(name, new BatchDispatcher(name, definition, clock, host));
  }
  return out.size > 0 ? out : undefined;
}

/** Look-ups of an idempotent submission before a concurrent insert of the same ids is reported. */
const MAX_IF_EXISTS_TRIES = 3;

/** `idle` (not looping), `running` (in `runLoop`), `stopping` or `stopped`. */
export type EngineState = "idle" | "running" | "stopping" | "stopped";

/** Stores an engine without claims runs on, in this process: a second engine there is refused. */
const storesWithoutClaimsInUse = new WeakSet<JobStore>();

const DEFAULT_ASYNC_CONCURRENCY = 64;
/** With claims: at most this many claimed jobs per mode wait in the gate for their limits. */
const MAX_GATED = 1000;

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
 * recovers after a crash. On a store with claims (`MemoryJobStore`, SQLite, PostgreSQL) many
 * engines share the store: each claims due jobs under a lease, so none runs twice by accident.
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
  /** What a spec must pass here before anything is written. */
  readonly #specs: SpecChecker;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #logger: Logger;
  readonly #metrics: MetricsRegistry;
  readonly #events: TypedEmitter<EngineEventMap>;
  readonly #committer: GroupCommitter;
  readonly #shutdown: ShutdownCoordinator;
  readonly #concurrency: number | Readonly<Record<string, number>> | undefined;
  readonly #graceMs: number;
  readonly #claimSettings: ClaimSettings;
  readonly #tracing: EngineTracing | undefined;
  readonly #deadLetter: DeadLetterRoute | undefined;
  readonly #schedules: EngineSchedules;
  /** Without claims: the in-memory queue of every unfinished job. */
  readonly #queue: LocalQueue;
  /** With claims: where jobs come from. */
  readonly #source: ClaimSource | undefined;
  /** Ready jobs that use limits or name a group wait here until they fit (both dispatch sources). */
  readonly #gate: FlowGate<Active>;
  /** The checked `limits` option. */
  readonly #resolvedLimits: ReadonlyMap<string, LimitSettings>;
  /** Set when the store keeps the limits and group shares (flow claims): the gate stays empty. */
  #storePermitHost: StorePermitHost | undefined;
  /** Batching handlers (async mode): their started attempts wait here for a call. */
  readonly #batchers: ReadonlyMap<string, BatchDispatcher> | undefined;
  /** With claims: claimed jobs waiting for a slot, per mode, in claim order. */
  readonly #claimedWaiting = new ClaimedWaiting<Active>();
  /** Groups `getMetrics` has reported waiting jobs for (a gauge that must drop to 0 when they leave). */
  readonly #groupsReported: Set<string>;
  /** `flow.dispatched{group}` handles by group. */
  readonly #dispatched = new Map<string, CounterHandle>();
  readonly #rescanIntervalMs: number | undefined;
  readonly #pruner: RetentionPruner | undefined;
  #rescanTimer: NodeJS.Timeout | undefined;
  #rescanning: Promise<number> | undefined;
  /** Newest `createdAt` seen by recovery or a rescan: a rescan looks at jobs from there on. */
  #seenUntil = 0;
  readonly #active = new Map<string, Active>();
  readonly #runningByMode = new Map<string, number>();
  readonly #waiters = new ResultWaiters();
  /** `runNext` calls waiting out a job's backoff (claims), by job id: a cancel of the job wakes them. */
  readonly #backoffWaits = new Map<string, () => void>();
  /** Every attempt whose handler may still run (for inFlight and abort), by identity. */
  readonly #attempts = new Set<Running>();
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
  /** A drained check is reading the store's counts (claims only). */
  #checkingDrained = false;
  /** Asks the store for results that other engines may have written (spaced reads). */
  readonly #remoteResults: RemoteResultChecker;

  constructor(options: EngineOptions) {
    const resolved = resolveOptions(options);
    this.#store = options.store;
    this.#executors = options.executors;
    this.#handlerNames = options.handlerNames ? new Set(options.handlerNames) : undefined;
    this.#clock = resolved.clock;
    this.#random = resolved.random;
    this.#logger = resolved.logger;
    this.#metrics = resolved.metrics;
    this.#concurrency = options.concurrency;
    this.#graceMs = resolved.graceMs;
    this.#claimSettings = resolved.claims;
    this.#resolvedLimits = resolved.limits;
    this.#tracing = options.tracing;
    this.#deadLetter = resolved.deadLetter;
    if (this.#deadLetter && this.#handlerNames && !this.#handlerNames.has(this.#deadLetter.handler)) {
      throw new HandlerNotFoundError(this.#deadLetter.handler, [...this.#handlerNames]);
    }
    this.#batchers = batchDispatchers(options.batchHandlers, this.#clock, {
      begin: (running) => this.#begin(running),
      logger: this.#logger,
    });
    for (const batcher of this.#batchers?.values() ?? []) {
      // Each job of a call holds its own slot: fewer slots than maxSize mean no call ever fills.
      if (batcher.maxSize > this.#limit("async")) {
        this.#logger.warn(
          { handler: batcher.handler, maxSize: batcher.maxSize, concurrency: this.#limit("async") },
          `batching handler "${batcher.handler}": maxSize is above the async concurrency, so its calls hold at most ${this.#limit("async")} jobs`,
        );
      }
    }
    this.#rescanIntervalMs = options.rescanIntervalMs;
    this.#events = new TypedEmitter<EngineEventMap>((error, event) => {
      this.#logger.error({ err: error, event }, "event listener threw");
      if (event !== "engine:error") this.#events.emit("engine:error", { error, context: `listener of ${String(event)}` });
    });
    const store = this.#store;
    checkAgingRate(store, options.agingRate);
    // Checked before the store is taken below: a refused option leaves nothing registered.
    this.#pruner =
      resolved.retention === undefined
        ? undefined
        : new RetentionPruner(prunableStore(store), resolved.retention, this.#clock, {
            pruned: (status, jobIds) => this.#events.emit("jobs:pruned", { status, jobIds }),
            error: (error, context) => this.#reportError(error, context),
          });
    if (hasClaims(store)) {
      // On a store with the flow capability, an engine with limits or group weights claims
      // through the store's flow state: they then hold across every engine on the store.
      const flow = resolved.limits.size > 0 || Object.keys(resolved.groupWeights).length > 0 ? flowClaimOptions(resolved) : undefined;
      this.#source = new ClaimSource(store, this.#claimHost, this.#clock, this.#claimSettings, flow);
      if (this.#source.flowClaims) {
        this.#storePermitHost = {
          store: store as FlowJobStore,
          limits: resolved.limits,
          badCharge: (jobId, message) => this.#reportError(new ValidationError(message), `ctx.charge of job ${jobId}`),
          error: (error, context) => this.#reportError(error, context),
        };
      }
    } else {
      if (storesWithoutClaimsInUse.has(store)) {
        throw new IncompatibleStoreError(
          "another engine of this process already runs on this store, which has no claims capability: " +
            "two engines would run the same jobs twice (use one engine, or a store with claims such as SQLite or MemoryJobStore)",
        );
      }
      storesWithoutClaimsInUse.add(store);
    }
    this.#committer = new GroupCommitter(store, {
      group: options.groupCommit ?? true,
      maxBatch: options.maxCommitBatch ?? 1000,
      clock: this.#clock,
      onError: (error, context) => this.#reportError(error, context),
      onRejected: ({ jobId, expectedVersion, error }) => {
        // A refused insert is answered to its submitter (a tick another engine submitted first,
        // an unknown parent, a dependency cycle): reporting it again as an engine error would
        // only be noise.
        if (jobId === undefined) return;
        this.#reportError(error, `store rejected the change of job ${jobId ?? "(insert)"}`);
        if (jobId !== undefined) this.#forget(jobId, error, expectedVersion);
      },
    });
    // The store orders claims by its own rate: the engine's queues follow it (a different rate
    // asked of the engine was refused above, by checkAgingRate).
    const agingRate = options.agingRate ?? (hasClaims(store) ? store.claimAgingRate : undefined);
    const clock = this.#clock;
    const createScheduler: SchedulerFactory =
      options.createScheduler ?? (() => new PriorityScheduler<QueueEntry>(agingRate === undefined ? { clock } : { clock, agingRate }));
    this.#queue = new LocalQueue(createScheduler, this.#clock, agingRate ?? DEFAULT_AGING_RATE, () => this.#pump());
    this.#specs = new SpecChecker({
      handlerNames: this.#handlerNames,
      batchHandlers: this.#batchers,
      limits: resolved.limits,
      dependencies: hasDependencies(store) && this.#source !== undefined,
    });
    // Weighted groups are reported from the start; others once they had waiting jobs.
    this.#groupsReported = new Set(Object.keys(resolved.groupWeights));
    this.#gate = new FlowGate<Active>({
      limits: resolved.limits,
      groupWeights: resolved.groupWeights,
      agingRate: agingRate ?? DEFAULT_AGING_RATE,
      clock,
      host: {
        room: () => this.#pump(),
        badCharge: (jobId, message) => this.#reportError(new ValidationError(message), `ctx.charge of job ${jobId}`),
        unknownLimit: (key, jobId) => this.#warnUnknownLimit(key, jobId),
      },
    });
    this.#schedules = new EngineSchedules(
      {
        store,
        clock,
        submit: async (spec) => (await this.submitJobs([spec]))[0] as Job,
        checkSpec: (spec) => this.#specs.checkHandlerAndMode(spec, this.#executors.modes),
        ticked: (event) => this.#events.emit("schedule:tick", event),
        reportError: (error, context) => this.#reportError(error, context),
      },
      resolved.scheduleRefreshMs,
    );
    this.#remoteResults = new RemoteResultChecker({
      store,
      clock,
      waiters: this.#waiters,
      holds: (id) => this.#active.has(id),
      nobodyWaits: () => this.#source?.setKeepAlive(false),
    });
    this.#shutdown = options.shutdownCoordinator ?? new ShutdownCoordinator();
    // Released in reverse: executors close first, then the store.
    if (options.closeStore !== false) this.#shutdown.register("store", () => this.#store.close());
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

  /** This engine's owner id in the leases it takes (stores with claims). */
  get owner(): string {
    return this.#claimSettings.owner;
  }

  /** True when the engine claims jobs from its store (many engines may share it). */
  get usesClaims(): boolean {
    return this.#source !== undefined;
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
   * Recovers unfinished work. With claims: reclaims jobs whose lease expired or whose engine (a
   * process of this machine) is dead, counting their interrupted attempt; pending jobs stay in
   * the store until claimed. Without claims: `pending` and `retrying` jobs are queued again
   * (their `runAt` honoured) and a job found `running` was interrupted by a crash, which counts
   * as a failed attempt. A concurrent writer's change wins over recovery's. Idempotent; other
   * methods call it first.
   */
  start(): Promise<void> {
    if (!this.#started) {
      const recovery = this.#source ? this.#source.reclaim().then(() => undefined) : this.#recover();
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
    // The store wins: a recovery write another writer beat is forgotten (onRejected), not fatal.
    const storeWins = (error: unknown): void => {
      if (!(isPyrexisError(error) && error.code === ErrorCode.STALE_VERSION)) throw error;
    };
    const report = await recoverFromListing(
      this.#store,
      {
        holds: (id) => this.#active.has(id),
        queue: (job) => void this.#enqueue(job),
        retry: (previous, next) => {
          this.#enqueue(next);
          return this.#committer.update(next, previous.version).catch(storeWins);
        },
        fail: (previous, next, error) => this.#finish(previous, next, { error, startedAt: previous.updatedAt }, now).catch(storeWins),
        saw: (createdAt) => {
          if (createdAt > this.#seenUntil) this.#seenUntil = createdAt;
        },
      },
      now,
      this.#random,
    );
    if (report.recovered > 0) this.#logger.info(report, "recovered unfinished jobs");
  }

  /**
   * Stores without claims: queues `pending` jobs that another process added to the store since
   * recovery or the last rescan (newest first, stopping at jobs older than what was already
   * seen, with a few seconds of slack for clock skew between processes). Returns how many were
   * queued. On a store with claims there is nothing to rescan (claims see every job): returns 0.
   */
  rescan(): Promise<number> {
    if (this.#source) return Promise.resolve(0);
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
   * With `{ ifExists: "return" }` a known id resolves with the stored job instead (see
   * {@link SubmitOptions}), so a producer can retry a submit safely.
   */
  async submitJob(spec: JobSpecInput, options?: SubmitOptions): Promise<Job> {
    const [job] = await this.submitJobs([spec], options);
    return job as Job;
  }

  /**
   * Submits many specs in one durable commit: all of them or none. A bad spec is reported with
   * its index and field (`invalid job spec #3: priority: …`). With `{ ifExists: "return" }`,
   * specs whose ids the store already holds resolve with the stored jobs and the others are
   * written together.
   */
  async submitJobs(specs: readonly JobSpecInput[], options?: SubmitOptions): Promise<Job[]> {
    return (await this.#submit(specs, options)).jobs;
  }

  /** {@link submitJobs}, also telling which positions were written now (`created[i]`). */
  async #submit(specs: readonly JobSpecInput[], options?: SubmitOptions): Promise<Submitted> {
    if (!Array.isArray(specs)) throw new ValidationError("submitJobs expects an array of job specs");
    const ifExists = parseSubmitOptions(options);
    this.#assertAccepting();
    await this.start();
    const now = this.#clock.now();
    const jobs: Job[] = new Array<Job>(specs.length);
    // Which specs named their id: only an idempotent submission needs to know.
    const given: boolean[] | undefined = ifExists === "return" ? new Array<boolean>(specs.length) : undefined;
    const ids = new Set<string>();
    const modes = this.#executors.modes; // a getter that may copy: read it once per batch
    for (let i = 0; i < specs.length; i++) {
      const spec = parseSpecAt(specs, i);
      this.#specs.check(spec, modes);
      const job = createJob(spec, now);
      // A generated id (UUIDv7, strictly increasing here) cannot repeat: only given ids are checked.
      if (given !== undefined) given[i] = spec.id !== undefined;
      else if (spec.id !== undefined) {
        if (ids.has(job.id) || this.#active.has(job.id)) throw new DuplicateJobError(job.id);
        ids.add(job.id);
      }
      jobs[i] = job;
    }
    if (given === undefined) {
      await this.#insertSubmitted(jobs, now);
      return { jobs, created: undefined };
    }
    // Look up the given ids, write the rest; another producer may insert one of them between the
    // look-up and the write (the write is then refused whole): look again.
    for (let tries = 1; ; tries++) {
      const { fresh, answer } = await splitExisting(this.#store, jobs, given);
      try {
        if (fresh.length > 0) await this.#insertSubmitted(fresh, now);
        return { jobs: answer, created: answer.map((job, i) => job === jobs[i]) };
      } catch (error) {
        if (!isPyrexisError(error, ErrorCode.DUPLICATE_JOB) || tries === MAX_IF_EXISTS_TRIES) throw error;
      }
    }
  }

  /** Writes validated new jobs in one commit (traced when tracing is on), then queues or announces them. */
  async #insertSubmitted(jobs: Job[], now: number): Promise<void> {
    this.#assertAccepting();
    const spans = this.#tracing?.submit(jobs);
    if (spans) {
      for (let i = 0; i < jobs.length; i++) {
        const traceContext = spans.contexts[i];
        if (traceContext) (jobs[i] as Job).traceContext = traceContext;
      }
      try {
        await this.#committer.insert(jobs);
      } catch (error) {
        spans.end(error);
        throw error;
      }
      spans.end();
    } else await this.#committer.insert(jobs);
    if (now > this.#seenUntil) this.#seenUntil = now;
    const local = this.#source === undefined;
    for (const job of jobs) {
      if (local) this.#enqueue(job);
      this.#metrics.increment("job.submitted");
      if (this.#events.has("job:submitted")) this.#events.emit("job:submitted", { job });
    }
    if (local) this.#pump();
    else this.#wakeClaims(jobs);
  }

  /**
   * Defines a cron schedule in the store: from then on, while the loop of any engine on the
   * store runs, each tick of `options.cron` (read in `options.timezone`, default UTC) submits
   * one job of `options.spec` with the id `schedule:<name>:<tick ISO-8601>`, exactly once across
   * all engines. Calling it again with the same definition is a no-op that returns the stored
   * schedule. Throws `InvalidScheduleError` for a bad cron expression or timezone,
   * `ScheduleConflictError` when the name is taken by another definition, `ValidationError`,
   * `HandlerNotFoundError` or `UnknownModeError` for a bad spec, and `IncompatibleStoreError` for
   * a store without the schedules capability; nothing is written then.
   *
   * @example
   * ```ts
   * await engine.schedule("nightly-reindex", { cron: "30 2 * * *", timezone: "America/New_York", spec: { handler: "reindex" } });
   * ```
   */
  schedule(name: string, options: ScheduleOptions): Promise<ScheduleInfo> {
    return this.#schedules.define(name, options);
  }

  /** The store's schedules, in name order, each with its next tick. */
  schedules(): Promise<ScheduleInfo[]> {
    return this.#schedules.list();
  }

  /** Removes a schedule: no tick after this submits a job (jobs already submitted stay). True when there was one. */
  unschedule(name: string): Promise<boolean> {
    return this.#schedules.remove(name);
  }

  /** Claims: new work is in the store; a delayed job wakes the claimer when it comes due. */
  #wakeClaims(jobs: readonly Job[]): void {
    this.#drainedEmitted = false;
    const now = this.#clock.now();
    let earliestLater = Number.POSITIVE_INFINITY;
    for (const job of jobs) if (job.runAt > now && job.runAt < earliestLater) earliestLater = job.runAt;
    if (earliestLater !== Number.POSITIVE_INFINITY) this.#wakeAt(earliestLater);
    if (this.#looping) this.#source?.request();
  }

  /** Claims: asks for a claim round at `at` (a retry's backoff or a delay ending). */
  #wakeAt(at: number): void {
    const timer = this.#clock.setTimeout(
      () => {
        if (this.#looping && !this.#stopping) this.#source?.request();
      },
      Math.max(0, at - this.#clock.now()),
    );
    timer.unref();
  }

  /** True once shutdown began (a getter, so checks after an `await` are not narrowed away). */
  get #stopping(): boolean {
    return this.#state === "stopping" || this.#state === "stopped";
  }

  #assertAccepting(): void {
    if (this.#stopping) throw new ShuttingDownError();
  }

  /** Queues a job locally (stores without claims); false when it is already queued, running or finishing here. */
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
    const active = this.#active.get(id);
    if (active?.leaseVersion !== undefined) this.#source?.drop(id, active.leaseVersion);
    this.#active.delete(id);
    this.#leftDuringRescan?.add(id);
  }

  // --- claims ---

  /** What the claim source asks of this engine. */
  readonly #claimHost = {
    modes: (): readonly string[] => this.#executors.modes,
    want: (mode: string): number => {
      if (!this.#looping || this.#state !== "running") return 0;
      const waiting = this.#claimedWaiting.sizeOf(mode);
      const free = this.#limit(mode) - (this.#runningByMode.get(mode) ?? 0);
      const gated = this.#gate.sizeOf(mode);
      // Jobs left in the gate while slots are free wait for their limits: they must not stop the
      // claiming of other work, up to a bounded window of such jobs.
      if (gated > 0 && free > 0) return Math.min(free + this.#claimSettings.prefetch - waiting, MAX_GATED - gated);
      return free - waiting - gated + this.#claimSettings.prefetch;
    },
    claimed: (claims: readonly ClaimedJob[]): void => this.#onClaimed(claims),
    lost: (jobId: string, version: number, reason: unknown, cancelled: boolean): void =>
      this.#onLeaseLost(jobId, version, reason, cancelled),
    storeChanged: (): void => this.#remoteResults.check(),
    reclaimed: (report: { retried: readonly Job[]; failed: readonly Job[] }): void => {
      this.#logger.info({ retried: report.retried.length, failed: report.failed.length }, "reclaimed jobs of stopped engines");
      for (let i = 0; i < report.failed.length; i++) this.#metrics.increment(COUNTER_OF.failed);
      for (const job of report.retried) if (job.runAt > this.#clock.now()) this.#wakeAt(job.runAt);
      if (report.failed.length > 0) this.#remoteResults.check(true);
      this.#routeStoreFailures(report.failed);
    },
    error: (error: unknown, context: string): void => this.#reportError(error, context),
    idle: (): void => this.#checkDrained(),
  };

  /** Claimed jobs arrive: they wait for a slot in claim order (shutdown hands them back at once). */
  #onClaimed(claims: readonly ClaimedJob[]): void {
    for (const { job, lease } of claims) {
      const known = this.#active.get(job.id);
      if (known?.running) {
        // A job this engine still runs was reclaimed and claimed again: the old attempt is lost.
        known.running.stop("lost", new InterruptedError(job.id, "its lease expired and it was claimed again"));
      }
      const active = new Active(job);
      active.leaseVersion = lease.version;
      active.queued = true;
      this.#active.set(job.id, active);
      this.#drainedEmitted = false;
      if (this.#stopping) {
        this.#handBack(active);
        continue;
      }
      this.#claimedWaiting.push(active);
    }
    this.#pump();
  }

  /** Claims: releases a claimed job this engine will not start (back to `retrying`, the attempt uncounted). */
  #handBack(active: Active): void {
    this.#removeWaiting(active);
    const now = this.#clock.now();
    const job = active.job;
    const back = transition(job, "retrying", now, { attempts: Math.max(0, job.attempts - 1), runAt: now });
    const version = active.leaseVersion;
    this.#active.delete(job.id);
    // The credit goes before the write that hands the job back: a store may refuse a charge for a
    // job that has left `running` (the SQLite store does).
    if (version !== undefined && this.#storePermitHost !== undefined) creditInStore(this.#storePermitHost, job, version);
    this.#committer
      .update(back, job.version)
      .catch(() => {}) // already reported through onError/onRejected
      .finally(() => {
        if (version !== undefined) this.#source?.drop(job.id, version);
      });
  }

  #removeWaiting(active: Active): void {
    if (!active.queued) return;
    active.queued = false;
    if (this.#gate.remove(active)) return;
    this.#claimedWaiting.remove(active);
  }

  /** Stores without claims: takes a queued job out of the local queue or the gate. */
  #unqueue(active: Active): boolean {
    return this.#queue.remove(active) || this.#gate.remove(active);
  }

  /** A lease this engine held is gone (cancelled elsewhere, reclaimed, or not confirmed in time). */
  #onLeaseLost(jobId: string, version: number, reason: unknown, cancelled: boolean): void {
    const active = this.#active.get(jobId);
    if (!active || active.leaseVersion !== version) return;
    this.#logger.warn({ jobId, cancelled }, cancelled ? "job was cancelled elsewhere; stopping it" : "lease lost; stopping the job");
    if (active.running) {
      if (active.running.abortKind === undefined || active.running.abortKind !== "lost") active.running.stop("lost", reason);
      return;
    }
    if (active.settling) return; // its terminal write is fenced: it lands or is refused
    this.#removeWaiting(active);
    this.#active.delete(jobId);
    this.#withStoredResult(jobId, reason, () => this.#checkDrained());
  }

  // --- dispatch ---

  /**
   * Runs the next due job (highest effective priority of any mode) to completion, retries
   * included, and returns its result; `undefined` when no job is due.
   */
  async runNext(): Promise<Result | undefined> {
    if (this.#stopping) return undefined;
    await this.start();
    if (this.#stopping) return undefined;
    if (this.#source) return this.#runNextClaimed(this.#source);
    const next = this.#popForRunNext();
    if (!next) return undefined;
    const entry = next.entry;
    let result = await this.#awaitRun(entry, next.permit);
    while (result === undefined && !this.#stopping) {
      const waiting = this.#active.get(entry.id);
      if (!waiting?.queued) return undefined;
      // It is waiting out its backoff: wait for it (shutdown cuts the wait short), then run it
      // again unless it was cancelled, taken by runLoop, or the engine is stopping.
      const wait = Math.max(0, waiting.job.runAt - this.#clock.now());
      if (wait > 0) await sleep(this.#clock, wait, this.#stopController.signal);
      if (this.#stopping) return undefined;
      const again = this.#active.get(entry.id);
      if (!again?.queued) return undefined;
      // A retry runs now only if its limits have room; otherwise it stays queued for the loop.
      const permit = this.#gated(again.job) ? this.#gate.tryTake(again) : undefined;
      if ((this.#gated(again.job) && permit === undefined) || !this.#unqueue(again)) {
        permit?.refund();
        return undefined;
      }
      result = await this.#awaitRun(again, permit);
    }
    return result;
  }

  /**
   * `runNext` without claims: the best due job of any mode; a job that uses limits or names a
   * group goes through the gate, which may start another one (or none, when nothing fits).
   */
  #popForRunNext(): { entry: QueueEntry; permit: Permit | undefined } | undefined {
    const entry = this.#queue.popAny();
    const active = entry && this.#active.get(entry.id);
    if (entry && (active === undefined || (this.#gate.size === 0 && !this.#gated(active.job)))) return { entry, permit: undefined };
    if (active) this.#gate.push(active);
    for (const mode of this.#executors.modes) {
      const taken = this.#gate.next(mode);
      if (taken) return { entry: taken.subject, permit: taken.permit };
    }
    return undefined;
  }

  /** `runNext` on a store with claims: claims one job, and claims it again after each backoff. */
  async #runNextClaimed(source: ClaimSource): Promise<Result | undefined> {
    let claims = await source.claimNow(1);
    let id: string | undefined;
    for (;;) {
      const claim = claims[0];
      if (!claim) return undefined;
      id = claim.job.id;
      const active = new Active(claim.job);
      active.leaseVersion = claim.lease.version;
      this.#active.set(id, active);
      // A job whose limits have no room now goes back to the store (its attempt uncounted).
      const permit = this.#gated(active.job) ? this.#gate.tryTake(active) : undefined;
      if (this.#gated(active.job) && permit === undefined) {
        this.#handBack(active);
        return undefined;
      }
      const result = await this.#awaitRun(active, permit);
      if (result !== undefined || this.#stopping) return result;
      // Retrying: wait out the backoff (shutdown cuts it short), then run it again if still due.
      await this.#committer.flush().catch(() => {});
      const stored = await this.#store.getJob(id);
      if (!stored || stored.status !== "retrying") return undefined;
      const wait = Math.max(0, stored.runAt - this.#clock.now());
      if (wait > 0) {
        // A cancel of this job (or shutdown) ends the wait early.
        const waitCut = new AbortController();
        const stop = (): void => waitCut.abort();
        this.#stopController.signal.addEventListener("abort", stop, { once: true });
        this.#backoffWaits.set(id, stop);
        try {
          await sleep(this.#clock, wait, waitCut.signal);
        } finally {
          this.#backoffWaits.delete(id);
          this.#stopController.signal.removeEventListener("abort", stop);
        }
      }
      if (this.#stopping) return undefined;
      claims = await source.claimNow(1, [id]);
    }
  }

  /**
   * Dispatches jobs continuously, up to the concurrency limit of each mode, woken by
   * submissions, by one timer for the earliest delayed job and (with claims) by changes other
   * processes make to the store. Keeps the process alive and resolves when {@link shutdown}
   * completes.
   */
  async runLoop(): Promise<void> {
    await this.start();
    if (this.#looping) throw new TypeError("runLoop is already running");
    if (this.#stopping) return;
    this.#looping = true;
    this.#state = "running";
    this.#keepAlive = setInterval(() => {}, 1 << 30);
    if (this.#rescanIntervalMs !== undefined && !this.#source) {
      this.#rescanTimer = setInterval(() => {
        this.rescan().catch((error: unknown) => this.#reportError(error, "rescan of the store failed"));
      }, this.#rescanIntervalMs);
      this.#rescanTimer.unref();
    }
    const done = new Promise<void>((resolve) => (this.#loopDone = resolve));
    this.#source?.start();
    this.#pruner?.start();
    this.#schedules.start();
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
    if (this.#source) {
      let wantMore = false;
      for (const mode of this.#claimedWaiting.modes()) {
        const limit = this.#limit(mode);
        let running = this.#runningByMode.get(mode) ?? 0;
        if (this.#gate.size === 0) running += this.#startAllAtOnce(mode, limit - running);
        while (running < limit) {
          const active = this.#claimedWaiting.shift(mode);
          if (active === undefined) break;
          if (this.#gate.size > 0 || this.#gated(active.job)) {
            this.#gate.push(active); // still queued: it waits in the gate
            continue;
          }
          active.queued = false;
          running++;
          this.#start(active, true);
        }
        running += this.#startGated(mode, limit - running);
      }
      const modes = this.#executors.modes; // a getter that may copy: once per pump
      for (let m = 0; m < modes.length && !wantMore; m++) if (this.#claimHost.want(modes[m] as string) > 0) wantMore = true;
      // A freed slot asks for more only while the store is not known to be dry.
      if (wantMore) this.#source.request(false);
      return;
    }
    const modes = this.#queue.modes;
    for (let m = 0; m < modes.length; m++) {
      const mode = modes[m] as string;
      const limit = this.#limit(mode);
      let running = this.#runningByMode.get(mode) ?? 0;
      while (running < limit) {
        const entry = this.#queue.popMode(mode);
        if (!entry) break;
        const active = this.#active.get(entry.id);
        if (active !== undefined && (this.#gate.size > 0 || this.#gated(active.job))) {
          // Once the gate holds work it orders everything ready, so take the rest in too.
          this.#gate.push(active);
          for (let e = this.#queue.popMode(mode); e !== undefined; e = this.#queue.popMode(mode)) {
            const next = this.#active.get(e.id);
            if (next !== undefined) this.#gate.push(next);
          }
          break;
        }
        running++;
        this.#start(entry, true);
      }
      running += this.#startGated(mode, limit - running);
    }
  }

  /**
   * With the gate empty: when every claimed job of `mode` has a slot and all of their limits have
   * room for all of them together, they all start now, so an order among them would decide
   * nothing, and they skip the gate's queue (each group charged for its dispatch). Else nothing
   * starts here and the caller sends them through the gate, which orders them. Returns how many
   * started.
   */
  #startAllAtOnce(mode: string, free: number): number {
    const waiting = this.#claimedWaiting.listOf(mode);
    if (waiting.length === 0 || waiting.length > free) return 0;
    // The store keeps the limits (flow claims): nothing goes through the gate.
    if (this.#storePermitHost !== undefined) return 0;
    let gated = false;
    for (let i = 0; i < waiting.length && !gated; i++) gated = FlowGate.wants((waiting[i] as Active).job);
    if (!gated) return 0; // nothing for the gate: the plain loop starts them
    // Take every permit first: one job without room means they compete, and the gate decides.
    const now = this.#clock.now();
    const permits: (Permit | undefined)[] = [];
    for (let i = 0; i < waiting.length; i++) {
      const active = waiting[i] as Active;
      let permit: Permit | undefined;
      if (active.job.limits !== undefined) {
        permit = this.#gate.tryTake(active, now);
        if (permit === undefined) {
          for (const taken of permits) taken?.refund();
          return 0;
        }
      }
      permits.push(permit);
    }
    // Out of the list before any starts: a start may settle at once and pump again.
    const batch = this.#claimedWaiting.takeAll(mode);
    for (let i = 0; i < batch.length; i++) {
      const active = batch[i] as Active;
      if (FlowGate.wants(active.job)) this.#gate.charge(active);
      active.queued = false;
      this.#start(active, true, permits[i]);
    }
    return batch.length;
  }

  /** True when `job` waits in the local flow gate: it uses limits or names a group, and the store does not keep them. */
  #gated(job: Job): boolean {
    return this.#storePermitHost === undefined && FlowGate.wants(job);
  }

  #warnUnknownLimit(key: string, jobId: string): void {
    this.#logger.warn(
      { limit: key, jobId, known: [...this.#resolvedLimits.keys()] },
      `job ${jobId} uses limit "${key}", which this engine does not define: such jobs run without it here (define it on every engine, e.g. pyrexis worker --limit)`,
    );
  }

  /** Flow claims: the permit of a store-admitted job that names limits (the gate records it for this engine's metrics). */
  #storePermit(job: Job, leaseVersion: number): StorePermit | undefined {
    const host = this.#storePermitHost;
    if (host === undefined || job.limits === undefined || job.limits.length === 0) return undefined;
    return new StorePermit(host, this.#gate.record(job), job, leaseVersion);
  }

  /** Starts up to `free` jobs of `mode` from the gate, as far as their limits allow; returns how many. */
  #startGated(mode: string, free: number): number {
    let started = 0;
    while (started < free) {
      const taken = this.#gate.next(mode);
      if (taken === undefined) break;
      started++;
      this.#start(taken.subject, true, taken.permit);
    }
    return started;
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
    if (!this.#idleNow()) return;
    if (this.#source) {
      this.#checkStoreDrained();
      return;
    }
    this.#drainedEmitted = true;
    this.#events.emit("engine:drained", {});
  }

  /** Nothing queued, claimed or running in this engine (and drained not yet emitted). */
  #idleNow(): boolean {
    if (this.#drainedEmitted || !this.#looping || this.#state !== "running") return false;
    if (this.#active.size > 0) return false;
    return this.#source ? !this.#source.busy && this.#source.dry : this.#queue.size === 0 && this.#gate.size === 0;
  }

  /**
   * With claims, a delayed job (retrying after its backoff, or pending with a later `runAt`)
   * waits in the store, not in this engine: drained only once the store holds no such job.
   * Otherwise the idle claim poll takes it when due, and its run checks again.
   */
  #checkStoreDrained(): void {
    if (this.#checkingDrained) return;
    this.#checkingDrained = true;
    this.#store.countByStatus().then(
      (counts) => {
        this.#checkingDrained = false;
        if (counts.pending + counts.retrying > 0 || !this.#idleNow()) return;
        this.#drainedEmitted = true;
        this.#events.emit("engine:drained", {});
      },
      (error: unknown) => {
        this.#checkingDrained = false;
        this.#reportError(error, "counting jobs in the store failed");
      },
    );
  }

  /** Runs one attempt of a popped entry and waits for it (see {@link #start}). */
  #awaitRun(entry: QueueEntry, permit?: AttemptPermit): Promise<Result | undefined> {
    const running = this.#start(entry, false, permit);
    return running ? running.done : Promise.resolve(undefined);
  }

  /**
   * Starts one attempt of a popped entry; `undefined` when the job cannot run now. The attempt is
   * durable before the handler starts: a claimed job was written `running` by its claim; without
   * claims the `running` record is committed first. The attempt's outcome resolves with the
   * result when the job reached a terminal status (after the result is durable), or `undefined`
   * when it will retry.
   */
  #start(entry: QueueEntry, fromLoop: boolean, permit?: AttemptPermit): Running | undefined {
    const active = this.#active.get(entry.id);
    // The entry was popped (or removed) from the queue: whatever happens next, it is not queued.
    if (active?.queued) active.queued = false;
    if (this.#stopping || !active || active.running || active.settling || isTerminal(active.job.status)) {
      permit?.refund();
      return undefined;
    }
    const claimed = active.leaseVersion !== undefined;
    if (claimed && !this.#source?.confirmed(active.id, active.leaseVersion as number)) {
      // Its lease ran out before it could start (the process was paused, the store unreachable):
      // another engine may hold it now. Start nothing; the store's record wins.
      permit?.refund();
      this.#release(active.id);
      this.#checkDrained();
      return undefined;
    }
    if (claimed && this.#storePermitHost !== undefined) permit ??= this.#storePermit(active.job, active.leaseVersion as number);
    const now = this.#clock.now();
    const previous = active.job;
    const job = claimed ? previous : startAttempt(previous, now);
    active.job = job;
    this.#metrics.observe("job.queue_wait", Math.max(0, now - previous.runAt));
    this.#runningByMode.set(job.mode, (this.#runningByMode.get(job.mode) ?? 0) + 1);
    const running = new Running(job, now, fromLoop, this.#events, this.#attemptEnded);
    running.permit = permit;
    if (permit !== undefined || job.group !== undefined) this.#flowStarted(job, active.gatedAt < 0 ? 0 : now - active.gatedAt);
    active.gatedAt = -1;
    active.running = running;
    this.#attempts.add(running);
    if (claimed) {
      this.#execute(running);
    } else {
      // Durable before the handler starts: a crash now cannot lose the counted attempt.
      this.#committer.updateWith(job, previous.version, undefined, new StartWhenDurable(this.#startHandlers, running));
    }
    return running;
  }

  /** Metrics of a job that came through the flow gate: its wait there, its group's dispatches. */
  #flowStarted(job: Job, waitedMs: number): void {
    this.#metrics.observe("flow.wait", Math.max(0, waitedMs));
    if (job.group !== undefined) this.#dispatchedOf(job.group).add();
  }

  /** The `flow.dispatched{group}` counter of a group, bound once (no key built per job). */
  #dispatchedOf(group: string): CounterHandle {
    let handle = this.#dispatched.get(group);
    if (handle === undefined) {
      handle = this.#metrics.counter("flow.dispatched", { group });
      this.#dispatched.set(group, handle);
    }
    return handle;
  }

  /** What happens once the `running` record of an attempt (stores without claims) is durable, or refused. */
  readonly #startHandlers: StartHandlers = {
    durable: (running) => {
      if (running.abortKind !== undefined) {
        // Cancelled, shut down or lost while the record was being written: end without running.
        running.settle(false, running.reason);
        return;
      }
      this.#execute(running);
    },
    // Another writer changed the job (or the engine is stopping): the attempt never ran.
    refused: (running, error) => {
      if (running.abortKind === undefined) running.stop("lost", error);
      running.settle(false, error);
    },
  };

  /** Calls the executor of an attempt whose `running` record is durable. */
  #execute(running: Running): void {
    const job = running.job;
    if (running.permit?.refused !== undefined) {
      // Its weight can never fit this engine's limit: fail it (not retried) instead of running it.
      running.settle(false, running.permit.refused);
      return;
    }
    const batcher = this.#batchers?.get(job.handler);
    if (batcher !== undefined && job.mode === "async") {
      // It waits in its handler's open batch; `#begin` runs when the batch is handed over.
      batcher.add(running);
      return;
    }
    this.#begin(running);
    const task = { jobId: job.id, handler: job.handler, payload: job.payload, attempt: job.attempts };
    let output: Promise<unknown>;
    try {
      const executor = this.#executors.get(job.mode);
      // An executor with `start` reports to the attempt itself: no promise per run.
      if (executor.start) {
        executor.start(task, running);
        return;
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
  }

  /** The attempt is handed to its handler now: its span, `job:started` and its timeout start. */
  #begin(running: Running): void {
    const job = running.job;
    if (this.#tracing) running.span = this.#tracing.attempt(job);
    if (this.#events.has("job:started")) this.#events.emit("job:started", { job, attempt: job.attempts });
    if (job.timeoutMs !== undefined) {
      const timeoutMs = job.timeoutMs;
      running.timer = this.#clock.setTimeout(() => running.stop("timeout", new TimeoutError(job.id, timeoutMs)), timeoutMs);
    }
  }

  /** The handler of an attempt is done: decide what becomes of the job. Never throws. */
  readonly #attemptEnded = (running: Running, ok: boolean, value: unknown): void => {
    this.#attempts.delete(running);
    try {
      this.#afterAttempt(running, ok, value);
    } catch (error) {
      // A bug or an impossible state: the attempt must still end, the job leave, and the loop go on.
      this.#release(running.job.id);
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

  #afterAttempt(running: Running, ok: boolean, value: unknown): void {
    const job = running.job;
    this.#clock.clearTimeout(running.timer);
    this.#metrics.observe("job.execution", performance.now() - running.t0);
    this.#runningByMode.set(job.mode, (this.#runningByMode.get(job.mode) ?? 1) - 1);
    // Its limits' slots too, however the attempt ended (threw, timed out, cancelled, crashed).
    running.permit?.release();
    // The slot is free as soon as the handler is done: the next job starts while this one's
    // result is being committed (commits pipeline instead of gating every slot).
    this.#pump();
    const now = this.#clock.now();
    const decision = decideAttempt({
      job,
      ok,
      value,
      abortKind: running.abortKind,
      abortReason: running.reason,
      cancelRequested: running.cancelRequested,
      now,
      random: this.#random,
    });
    const startedAt = running.startedAt;
    running.span?.end(decision.kind, "error" in decision ? decision.error : undefined);
    const active = this.#active.get(job.id);
    const mine = active !== undefined && active.running === running;
    switch (decision.kind) {
      case "complete":
        this.#settleTerminal(job, decision.job, { output: decision.output, startedAt }, now, running);
        return;
      case "fail":
        this.#settleTerminal(job, decision.job, { error: decision.error, startedAt }, now, running);
        return;
      case "cancel":
        this.#settleTerminal(job, decision.job, { error: decision.error, startedAt }, now, running);
        return;
      case "lost":
        // Another writer changed the job (a cancel from another process, a reclaim): its record
        // in the store wins; write nothing more for it.
        if (mine) this.#release(job.id);
        this.#withStoredResult(job.id, running.reason, (stored) => {
          running.outcome.resolve(stored);
          this.#runEnded(running);
        });
        return;
      case "requeue":
        // A graceful shutdown took the attempt away: it does not count, the job runs again later.
        // Staged, not awaited: a failing store must not hold shutdown up (the final flush is bounded).
        this.#writeAndLeave(decision.job, job.version, active, mine);
        running.outcome.resolve(undefined);
        return;
      case "retry":
        this.#metrics.increment("job.retries");
        if (this.#source) {
          this.#writeAndLeave(decision.job, job.version, active, mine);
          this.#wakeAt(decision.job.runAt);
        } else {
          this.#committer.stage(decision.job, job.version);
          if (mine) active.running = undefined;
          this.#enqueue(decision.job);
        }
        if (this.#events.has("job:retrying")) {
          this.#events.emit("job:retrying", { job: decision.job, error: decision.error, delayMs: decision.delayMs });
        }
        running.outcome.resolve(undefined);
        return;
    }
  }

  /** Writes a non-terminal record that ends this engine's hold on the job (retry, requeue). */
  #writeAndLeave(next: Job, expectedVersion: number, active: Active | undefined, mine: boolean): void {
    if (!mine || active === undefined) {
      this.#committer.stage(next, expectedVersion);
      return;
    }
    const version = active.leaseVersion;
    this.#active.delete(next.id);
    this.#leftDuringRescan?.add(next.id);
    if (version === undefined) {
      this.#committer.stage(next, expectedVersion);
      return;
    }
    // The lease is renewed until the record that ends it is durable.
    this.#committer
      .update(next, expectedVersion)
      .catch(() => {}) // reported through onError/onRejected
      .finally(() => this.#source?.drop(next.id, version));
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
    if (active && (running === undefined || active.running === running)) {
      active.job = job;
      active.running = undefined;
      this.#removeWaiting(active);
      active.queued = false;
      active.settling = commit;
    }
    this.#committer.updateWith(job, previous.version, commit.result, commit, this.#followUpsOf(job, now));
    return commit;
  }

  readonly #terminalHandlers: TerminalCommitHandlers = {
    durable: (commit) => {
      const { job, result } = commit;
      this.#waiters.settle(job.id, result, undefined);
      this.#releaseIfSettling(commit);
      this.#metrics.increment(COUNTER_OF[job.status as TerminalStatus]);
      this.#events.emit(EVENT_OF[job.status as TerminalStatus], { job, result });
      this.#endCommit(commit, result, undefined);
    },
    refused: (commit, error) => {
      // The store refused the terminal record (already reported): keep what the store has.
      const id = commit.job.id;
      this.#releaseIfSettling(commit);
      this.#withStoredResult(id, error, (stored) => this.#endCommit(commit, stored, error));
    },
  };

  /** Releases the job of a terminal commit, unless the engine holds it again under a newer claim. */
  #releaseIfSettling(commit: TerminalCommit): void {
    const active = this.#active.get(commit.job.id);
    if (active === undefined || active.settling === commit) this.#release(commit.job.id);
    else if (active.leaseVersion === undefined) this.#release(commit.job.id);
  }

  /**
   * For a job whose record the store kept (another writer's, or the one it would not replace):
   * reads the stored result, settles the `waitForResult` callers with it (or with `error` when
   * there is none), then calls `then`.
   */
  #withStoredResult(id: string, error: unknown, then: (stored: Result | undefined) => void): void {
    const settle = (stored: Result | undefined): void => {
      if (stored || !this.#source) this.#waiters.settle(id, stored, error);
      // With claims, a job lost here may still finish elsewhere: its waiters keep waiting.
      then(stored);
    };
    this.#store.getResult(id).then(settle, () => settle(undefined));
  }

  /** Settles a terminal commit (and its attempt) with the durable result, or fails it with `error`. */
  #endCommit(commit: TerminalCommit, result: Result | undefined, error: unknown): void {
    if (result) commit.outcome.resolve(result);
    else commit.outcome.reject(error);
    const running = commit.running;
    if (!running) {
      this.#checkDrained();
      return;
    }
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
    return this.#committer.update(job, previous.version, result, this.#followUpsOf(job, now)).then(() => {
      this.#waiters.settle(job.id, result, undefined);
      this.#release(job.id);
      this.#metrics.increment(COUNTER_OF[job.status as TerminalStatus]);
    });
  }

  /** The jobs written with a terminal record: a failed job's dead-letter job when routing is on. */
  #followUpsOf(job: Job, now: number): Job[] | undefined {
    if (this.#deadLetter === undefined || job.status !== "failed") return undefined;
    const routed = deadLetterJobOf(this.#deadLetter, job, now);
    return routed === undefined ? undefined : [routed];
  }

  /**
   * Routes failures the store decided (a reclaim of a lease that expired on the last attempt):
   * their dead-letter jobs are inserted when absent, right after the reclaim. Not atomic with
   * it: a crash in between leaves those failures unrouted (see the engine README).
   */
  #routeStoreFailures(failed: readonly Job[]): void {
    if (this.#deadLetter === undefined || failed.length === 0) return;
    const now = this.#clock.now();
    const routed = failed.map((job) => deadLetterJobOf(this.#deadLetter!, job, now)).filter((j): j is Job => j !== undefined);
    if (routed.length === 0) return;
    insertJobsIfAbsent(
      this.#store,
      routed,
      routed.map(() => true),
    ).then(
      ({ jobs, created }) => this.#wakeClaims(jobs.filter((_, i) => created[i])),
      (error: unknown) => this.#reportError(error, "routing reclaimed failures to the dead-letter handler failed"),
    );
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
   * Cancels a job. A queued (pending/retrying) job is written `cancelled` at once; a job running
   * here has its signal aborted and ends `cancelled` when its handler returns. With claims, a job
   * running in another engine is written `cancelled` here and that engine stops its handler at
   * its next lease renewal. Resolves with the final job once the cancellation is durable. Throws
   * `JobNotFoundError`, or `IllegalTransitionError` for a job that already finished.
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
      if (this.#source) this.#removeWaiting(active);
      else this.#unqueue(active);
      active.queued = false;
      const cancelled = transition(active.job, "cancelled", now);
      await this.#settleTerminal(active.job, cancelled, { error: serializeError(new CancelledError(id)), startedAt: now }, now, undefined)
        .outcome.promise;
      this.#queue.refreshTimer();
      this.#checkDrained();
      return cancelled;
    }
    return this.#cancelInStore(id);
  }

  /**
   * Cancels a job this engine does not hold, by compare-and-set on the store's record
   * (`cancelStoredJob`: another writer may change it in between, so it reads again and retries).
   * A job already cancelled is returned as it is.
   */
  async #cancelInStore(id: string): Promise<Job> {
    let outcome: CancelOutcome;
    try {
      outcome = await cancelStoredJob(this.#store, id, { now: () => this.#clock.now() });
    } catch (error) {
      if (error instanceof IllegalTransitionError && error.from === "cancelled")
        return (await this.#store.getJob(id)) ?? Promise.reject(error);
      throw error;
    }
    const { job: cancelled, result } = outcome;
    this.#waiters.settle(id, result, undefined);
    this.#backoffWaits.get(id)?.();
    this.#metrics.increment(COUNTER_OF.cancelled);
    if (this.#events.has("job:cancelled")) this.#events.emit("job:cancelled", { job: cancelled, result });
    // A job queued locally that the store had not shown to this engine yet: drop it.
    const active = this.#active.get(id);
    if (active?.queued) {
      if (this.#source) this.#removeWaiting(active);
      else this.#unqueue(active);
      this.#release(id);
    }
    return cancelled;
  }

  /**
   * The dead-letter view: one page of `failed` jobs, filtered by handler, error code
   * (`errorCode`: the last error's code, or its name) and creation time, oldest first by
   * default; paged with `cursor` as `listJobs` is. Works on every store (filtered in the store
   * when it declares `queryJobs`, else over `listJobs` pages within a read budget: `partial`).
   */
  deadLetters(query?: DeadLetterQuery): Promise<JobsPage> {
    return deadLetters(this.#store, query);
  }

  /**
   * Redrives a failed or cancelled job: a NEW `pending` job with its spec, id
   * `<first id>.retry-<n>` (the job and its result stay as they are). Redriving it again returns
   * the same new job, so a redrive is safe to repeat. `JobNotFoundError`, or `NotRedrivableError`
   * for a job that is not failed or cancelled. With a filter (`{ handler, errorCode, createdFrom,
   * createdTo, status, max, dryRun }`), redrives every matching failed (or cancelled) job,
   * oldest first, and reports what it did.
   */
  redrive(id: string): Promise<Job>;
  redrive(filter: RedriveFilter): Promise<RedriveReport>;
  async redrive(target: string | RedriveFilter): Promise<Job | RedriveReport> {
    const host: RedriveHost = {
      store: this.#store,
      submitIfAbsent: (specs) => this.#submit(specs, { ifExists: "return" }),
    };
    const now = (): number => this.#clock.now();
    return typeof target === "string" ? redriveOne(host, target, now) : redriveMatching(host, target, now);
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
   * a restart), when this engine finishes the job, or (with claims) when another engine did.
   * Throws `JobNotFoundError` for an unknown id.
   */
  async waitForResult(id: string, options: WaitOptions = {}): Promise<Result> {
    const { signal } = options;
    signal?.throwIfAborted();
    // Register first, then look in the store, so a result written in between is not missed.
    const { promise, settle } = this.#waiters.wait(id, signal);
    if (this.#source) {
      this.#source.setKeepAlive(true);
      this.#source.ensurePolling();
    }
    const lookUp = async (): Promise<void> => {
      const stored = await this.#store.getResult(id);
      if (stored) return settle(stored);
      if (this.#active.has(id)) return;
      const job = await this.#store.getJob(id);
      if (!job) settle(undefined, new JobNotFoundError(id));
      else if (isTerminal(job.status)) {
        const again = await this.#store.getResult(id);
        if (again) settle(again);
      }
    };
    // Any store error (e.g. a corrupt record) rejects the wait instead of leaving it pending.
    lookUp().catch((error: unknown) => settle(undefined, error));
    return promise.finally(() => {
      if (this.#waiters.size === 0) this.#source?.setKeepAlive(false);
    });
  }

  /**
   * The metrics registry, with gauges refreshed: `jobs.queued`, `jobs.ready`, `jobs.running`
   * per mode. Counters: `job.submitted`, `job.completed`, `job.failed`, `job.retries`,
   * `job.cancelled`; timings: `job.execution`, `job.queue_wait`. Flow control: `flow.wait` (timing),
   * `flow.dispatched{group}` (counter), `flow.limit_units{limit}`, `flow.limit_units_used{limit}`,
   * `flow.limit_running{limit}`, `flow.limit_waiting{limit}` and `flow.group_waiting{group}` (gauges).
   */
  getMetrics(): MetricsRegistry {
    this.#metrics.setGauge("jobs.queued", this.queuedCount);
    this.#metrics.setGauge("jobs.ready", (this.#source ? this.#claimedWaiting.size : this.#queue.readyCount) + this.#gate.size);
    for (const mode of this.#executors.modes) {
      this.#metrics.setGauge("jobs.running", this.#runningByMode.get(mode) ?? 0, { mode });
    }
    // Under flow claims a job waiting for its limit waits in the store: the latest claims' count.
    const storeWaiting = this.#source?.flowClaims === true ? this.#source.flowWaiting() : undefined;
    for (const [limit, stats] of Object.entries(this.#gate.limitStats())) {
      this.#metrics.setGauge("flow.limit_units", stats.unitsInWindow, { limit });
      this.#metrics.setGauge("flow.limit_running", stats.running, { limit });
      this.#metrics.setGauge(
        "flow.limit_waiting",
        storeWaiting === undefined ? stats.waiting : Object.hasOwn(storeWaiting, limit) ? (storeWaiting[limit] as number) : 0,
        { limit },
      );
      this.#metrics.setGauge("flow.limit_units_used", stats.unitsUsed, { limit });
    }
    // Only groups with waiting jobs are listed: one reported before and gone now goes to 0.
    const waitingByGroup = this.#gate.groupSizes();
    for (const group of this.#groupsReported) if (!(group in waitingByGroup)) this.#metrics.setGauge("flow.group_waiting", 0, { group });
    for (const [group, waiting] of Object.entries(waitingByGroup)) {
      if (group === "") continue;
      this.#groupsReported.add(group);
      this.#metrics.setGauge("flow.group_waiting", waiting, { group });
    }
    return this.#metrics;
  }

  /** Jobs running now, per mode. */
  runningCounts(): Record<string, number> {
    return Object.fromEntries(this.#runningByMode);
  }

  /** Jobs waiting in this engine for a slot: queued (ready or delayed), or claimed and not started. */
  get queuedCount(): number {
    return (this.#source ? this.#claimedWaiting.size : this.#queue.size) + this.#gate.size;
  }

  /** Resolves once every staged transition is durable. */
  flush(): Promise<void> {
    return this.#committer.flush();
  }

  /**
   * Stops the engine: no new submissions (`ShuttingDownError`), no new dispatch or claims;
   * claimed jobs not started are handed back to the store; in-flight jobs may finish for
   * `graceMs`, then they are aborted and go back to `retrying` (their attempt not counted);
   * every transition is flushed; executors and then the store are closed; registered shutdown
   * callbacks run in reverse order. Idempotent; `runLoop()` resolves when it is done.
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
   * leaves the queue, a running one is aborted and writes nothing more. A rejection of an older
   * holding (a version before this engine's current lease) is ignored.
   */
  #forget(jobId: string, reason: unknown, expectedVersion: number | undefined): void {
    const active = this.#active.get(jobId);
    if (!active) return;
    if (active.leaseVersion !== undefined && expectedVersion !== undefined && expectedVersion < active.leaseVersion) return;
    if (active.running) {
      if (active.running.abortKind === undefined) active.running.stop("lost", reason);
      return;
    }
    if (active.settling) return; // its own commit tells it
    if (active.queued) {
      if (this.#source) this.#removeWaiting(active);
      else {
        this.#unqueue(active);
        this.#queue.refreshTimer();
      }
    }
    this.#release(jobId);
    this.#checkDrained();
  }

  /** Jobs still running or committing their terminal record. */
  #inFlight(): Promise<unknown>[] {
    const out: Promise<unknown>[] = [];
    for (const running of this.#attempts) out.push(running.done);
    for (const a of this.#active.values()) {
      if (a.running && !this.#attempts.has(a.running)) out.push(a.running.done);
      else if (a.settling) out.push(a.settling.outcome.promise);
    }
    return out;
  }

  #abortInFlight(): void {
    for (const running of this.#attempts) {
      if (running.abortKind === undefined) running.stop("shutdown", new InterruptedError(running.job.id, "aborted by engine shutdown"));
    }
  }

  async #doShutdown(graceMs: number): Promise<void> {
    this.#state = "stopping";
    this.#stopController.abort();
    this.#queue.stop();
    this.#gate.stop();
    if (this.#rescanTimer) clearInterval(this.#rescanTimer);
    await this.#rescanning?.catch(() => 0);
    // No batch may run into the closed store; one in flight is bounded by batchSize.
    await this.#pruner?.stop();
    await this.#schedules.stop();
    if (this.#source) {
      await this.#source.stopClaiming().catch(() => {});
      // Claimed jobs that never started go back to the store at once, for another engine to take.
      for (const active of this.#claimedWaiting.all()) this.#handBack(active);
      for (const active of this.#gate.drain()) this.#handBack(active);
    }
    // Attempts in open batches are started (their attempt counted): call them now, within the grace.
    if (this.#batchers) for (const batcher of this.#batchers.values()) batcher.flushAll();
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
    await this.#source?.stopRenewing().catch(() => {});
    this.#source?.setKeepAlive(false);
    this.#remoteResults.stop();
    // Results of jobs that did not finish will come from a later run, not from this engine.
    this.#waiters.rejectAll((id) => new ShuttingDownError(`engine shut down before job ${id} finished`));
    const report = await this.#shutdown.run();
    for (const { name, error } of report.errors) this.#reportError(error, `shutdown step "${name}" failed`);
    if (!this.#source) storesWithoutClaimsInUse.delete(this.#store);
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

/**
 * A store with claims orders them by its own aging rate: an engine asked for another would not
 * keep the starvation bound its `agingRate` states, so the mismatch is refused.
 */
function checkAgingRate(store: JobStore, asked: number | undefined): void {
  // A rate that is no number at all is the scheduler's to refuse, with its own error.
  if (typeof asked !== "number" || !Number.isFinite(asked) || !hasClaims(store)) return;
  const ordered = store.claimAgingRate;
  if (ordered === undefined || ordered === asked) return;
  throw new IncompatibleStoreError(
    `the engine's agingRate is ${asked}, but its store orders claims by agingRate ${ordered}: ` +
      "open the store with the same agingRate (createEngine does), or leave the engine's unset to follow the store",
  );
}

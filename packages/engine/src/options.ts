import { hostname } from "node:os";
import { generateJobId, systemClock, ValidationError, type Clock, type RandomSource } from "@pyrexis/models";
import { silentLogger, type Executor, type Logger } from "@pyrexis/executors";
import { MetricsRegistry } from "@pyrexis/metrics";
import { MAX_LEASE_MS, MIN_LEASE_MS, type JobStore } from "@pyrexis/storage";
import type { SchedulerFactory } from "./local-queue.js";
import type { BatchHandler } from "./batch-handler.js";
import { checkDeadLetterRoute, type DeadLetterRoute } from "./dead-letter-route.js";
import { resolveRetention, type RetentionOptions, type RetentionPolicy } from "./retention.js";
import type { EngineTracing } from "./tracing-hooks.js";
import type { ShutdownCoordinator } from "./shutdown.js";
import { DEFAULT_SCHEDULE_REFRESH_MS } from "./schedules.js";
import { checkGroupWeights } from "@pyrexis/scheduler";
import { resolveLimits, type LimitSettings, type LimitsOptions } from "./flow-control/limits.js";

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
  /** Where jobs and results live. The engine closes it on shutdown unless `closeStore` is false. */
  store: JobStore;
  /** Close the store on shutdown (default true); false for a store instance several engines share. */
  closeStore?: boolean | undefined;
  /** Executors by mode. The engine closes them on shutdown. */
  executors: ExecutorSource;
  /**
   * Names of the registered handlers; when given, submitting an unknown handler fails at once
   * with `HandlerNotFoundError` instead of failing the job later.
   */
  handlerNames?: readonly string[] | undefined;
  /**
   * Batching handlers by name (each made with `batchHandler`): the engine runs their jobs (async
   * mode only) in calls of up to `maxSize` jobs. `createEngine` finds them in `handlers`.
   */
  batchHandlers?: Readonly<Record<string, BatchHandler>> | undefined;
  /** Concurrent jobs per mode: a number for every mode, or per mode. Defaults: async 64, others the number of cores. */
  concurrency?: number | Readonly<Record<string, number>> | undefined;
  /** Builds the scheduler of each mode (default: `PriorityScheduler` with `agingRate`). Stores without claims only. */
  createScheduler?: SchedulerFactory | undefined;
  /**
   * Aging of the default scheduler, priority points per second of waiting (default the
   * scheduler's). On a store with claims the store orders the claims, by its own aging rate:
   * `createEngine` opens its stores with this one. A store that reports another
   * (`claimAgingRate`) is refused with `IncompatibleStoreError`; unset, the engine follows the
   * store's.
   */
  agingRate?: number | undefined;
  /** Batch transitions into one store commit per tick (default true). */
  groupCommit?: boolean | undefined;
  /** Largest number of job changes in one commit (default 1000). */
  maxCommitBatch?: number | undefined;
  metrics?: MetricsRegistry | undefined;
  /** Time and timers of the engine (attempt timeouts, backoff waits, lease renewal, polling). */
  clock?: Clock | undefined;
  /** Randomness of backoff jitter. */
  random?: RandomSource | undefined;
  logger?: Logger | undefined;
  /** Tracing hooks, e.g. `openTelemetryTracing()` from `@pyrexis/engine/tracing`; none by default (no tracing work at all). */
  tracing?: EngineTracing | undefined;
  /**
   * Route every job that ends `failed` to this handler: a job `<id>.dead-letter` whose payload
   * names the failed job, its input and its error, written in the same commit as the failure.
   * None by default.
   */
  deadLetter?: DeadLetterRoute | undefined;
  shutdownCoordinator?: ShutdownCoordinator | undefined;
  /** Default grace period of {@link Engine.shutdown} (ms, default 10000). */
  shutdownGraceMs?: number | undefined;
  /**
   * Stores without claims only: while `runLoop` runs, look for jobs that other processes
   * submitted to the same store every this many ms (see `Engine.rescan`). A store with claims
   * sees every job without it.
   */
  rescanIntervalMs?: number | undefined;
  /** Claims: this engine's owner id in leases (unique per engine). Default `<host>/<pid>/<random>`. */
  owner?: string | undefined;
  /** Claims: lease length in ms (default 30000). A job whose lease expires may be run by another engine. */
  leaseMs?: number | undefined;
  /** Claims: how often all leases are renewed, in ms; at most a third of `leaseMs` (default `leaseMs / 3`). */
  renewIntervalMs?: number | undefined;
  /**
   * Claims: jobs claimed ahead of free slots per mode, so a freed slot starts the next job without
   * a store round trip (default 0: claim for free slots only). Each prefetched job has its
   * attempt counted while it waits; a crash costs it that attempt, a shutdown releases it.
   */
  prefetch?: number | undefined;
  /**
   * Claims: how often an idle engine checks the store for work written elsewhere, in ms (default
   * 10 when the store has a cheap change mark, else 250). Each check costs one `changeMark`
   * call (or one claim); a claim is made only when the mark moved.
   */
  pollIntervalMs?: number | undefined;
  /** Claims: an idle engine claims at least this often even when nothing changed (delayed jobs coming due), in ms (default 1000). */
  idleClaimIntervalMs?: number | undefined;
  /**
   * Delete finished jobs and their results by age and/or count per status, in bounded batches on
   * the engine's clock while `runLoop` runs (see {@link RetentionOptions}). Needs a store with the
   * prune capability. Off by default: nothing is ever deleted.
   */
  retention?: RetentionOptions | undefined;
  /**
   * Schedules: while `runLoop` runs, how often the engine re-reads the store's schedules to see
   * ones defined or removed elsewhere, in ms (default 10000). Each tick re-reads them anyway.
   */
  scheduleRefreshMs?: number | undefined;
  /**
   * Named limits jobs can use (`limits: [{ key, units }]` on a job): a rate (`{ units, perMs }`:
   * no window of `perMs` ms starts more than `units` units) and/or `maxConcurrent` (jobs using it
   * running at once). A job without room waits; it never fails for it. Held by this engine: each
   * engine on a shared store applies its own (see the engine README).
   *
   * @example
   * ```ts
   * limits: { openai: { rate: { units: 90_000, perMs: 60_000 }, maxConcurrent: 16 } }
   * ```
   */
  limits?: LimitsOptions | undefined;
  /** Dispatch weights of job groups (`group` on a job), for fair sharing; groups not named weigh 1. */
  groupWeights?: Readonly<Record<string, number>> | undefined;
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

/** The claim settings of an engine, checked. */
export interface ClaimSettings {
  readonly owner: string;
  readonly leaseMs: number;
  readonly renewIntervalMs: number;
  readonly prefetch: number;
  readonly pollIntervalMs: number | undefined;
  readonly idleClaimIntervalMs: number;
}

/** The engine's options with defaults applied. */
export interface ResolvedOptions {
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly graceMs: number;
  readonly claims: ClaimSettings;
  readonly deadLetter: DeadLetterRoute | undefined;
  /** The checked `retention` option, or `undefined` when retention is off. */
  readonly retention: RetentionPolicy | undefined;
  readonly scheduleRefreshMs: number;
  /** The checked `limits` option. */
  readonly limits: ReadonlyMap<string, LimitSettings>;
  /** The checked `groupWeights` option. */
  readonly groupWeights: Readonly<Record<string, number>>;
}

const DEFAULT_LEASE_MS = 30_000;

function invalid(field: string, message: string): ValidationError {
  return new ValidationError(`invalid engine option: ${field} ${message}`, [{ path: [field], message }]);
}

function checkInt(value: unknown, field: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer ${min}–${max}, got ${typeof value === "number" ? value : typeof value}`);
  }
  return value;
}

/** A default owner id: host and pid (so a machine can tell its dead engines) and a random part. */
export function defaultOwner(): string {
  return `${hostname()}/${process.pid}/${generateJobId().slice(-12)}`;
}

/** Applies defaults and checks the options; throws `ValidationError` naming the bad field. */
export function resolveOptions(options: EngineOptions): ResolvedOptions {
  const leaseMs = checkInt(options.leaseMs, "leaseMs", Math.max(MIN_LEASE_MS, 30), MAX_LEASE_MS) ?? DEFAULT_LEASE_MS;
  const renewIntervalMs = checkInt(options.renewIntervalMs, "renewIntervalMs", 1, MAX_LEASE_MS) ?? Math.floor(leaseMs / 3);
  // Renewal must be well inside the lease: two renewals may fail before a lease is lost.
  if (renewIntervalMs > leaseMs / 3) {
    throw invalid("renewIntervalMs", `must be at most a third of leaseMs (${leaseMs} ms), got ${renewIntervalMs}`);
  }
  const owner = options.owner ?? defaultOwner();
  if (typeof owner !== "string" || owner.length === 0 || owner.length > 256) {
    throw invalid("owner", "must be a non-empty string of at most 256 characters");
  }
  const graceMs = checkInt(options.shutdownGraceMs, "shutdownGraceMs", 0, 2_147_483_647) ?? 10_000;
  const retention = resolveRetention(options.retention);
  return {
    retention,
    limits: resolveLimits(options.limits),
    groupWeights: checkGroupWeights(options.groupWeights, "groupWeights"),
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    logger: options.logger ?? silentLogger,
    metrics: options.metrics ?? new MetricsRegistry(),
    graceMs,
    deadLetter: checkDeadLetterRoute(options.deadLetter),
    scheduleRefreshMs: checkInt(options.scheduleRefreshMs, "scheduleRefreshMs", 10, 86_400_000) ?? DEFAULT_SCHEDULE_REFRESH_MS,
    claims: {
      owner,
      leaseMs,
      renewIntervalMs,
      prefetch: checkInt(options.prefetch, "prefetch", 0, 10_000) ?? 0,
      pollIntervalMs: checkInt(options.pollIntervalMs, "pollIntervalMs", 1, 60_000),
      idleClaimIntervalMs: checkInt(options.idleClaimIntervalMs, "idleClaimIntervalMs", 1, 3_600_000) ?? 1000,
    },
  };
}

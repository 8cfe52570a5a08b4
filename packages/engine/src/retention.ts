import { ValidationError, type Clock, type ClockTimer } from "@pyrexis/models";
import { hasPrune, MAX_PRUNE_LIMIT, type FinishedStatus, type JobStore, type PruneJobStore, type PruneRequest } from "@pyrexis/storage";

// Retention: an engine deletes finished jobs (and their results) by age and/or count per status,
// so a worker that runs for weeks does not fill its disk. The rules can only name the three
// terminal statuses (the options are checked against exactly those, and the store's prune
// refuses any other), so retention that deletes unfinished work cannot be written down.
//
// The pruner runs on the engine's Clock, one bounded store call (`batchSize` jobs) per timer
// tick: after a batch that left more to delete, the next batch is a zero-delay timer later, so
// dispatch, commits and claims interleave with a long prune instead of waiting for it. A round
// is every rule's batches until none reports `more`; the next round starts `intervalMs` after.
// Several engines on one store may prune at once: deleting is idempotent in every store.

/** How long finished jobs of one status are kept. At least one limit; a job goes once it exceeds either. */
export interface RetentionRule {
  /** Delete jobs that finished more than this many ms ago (an integer ≥ 1). */
  readonly maxAgeMs?: number | undefined;
  /** Keep at most this many of the newest finished jobs of the status (an integer ≥ 1); delete the older ones. */
  readonly maxCount?: number | undefined;
}

/**
 * The engine's `retention` option: which finished jobs to delete, and how often. Only the three
 * terminal statuses can have a rule; a status without one is kept forever.
 *
 * @example
 * ```ts
 * const engine = new Engine({
 *   store,
 *   executors,
 *   retention: { completed: { maxAgeMs: 7 * 86_400_000, maxCount: 100_000 }, failed: { maxAgeMs: 30 * 86_400_000 } },
 * });
 * ```
 */
export interface RetentionOptions {
  readonly completed?: RetentionRule | undefined;
  readonly failed?: RetentionRule | undefined;
  readonly cancelled?: RetentionRule | undefined;
  /** Time between the end of one pruning round and the start of the next, ms (default 60000, at least 1). */
  readonly intervalMs?: number | undefined;
  /** Most jobs one store call deletes (default 500, 1–10000). One call per timer tick. */
  readonly batchSize?: number | undefined;
}

/** One store request of a round: a status and one of its limits. */
export interface RetentionStep {
  readonly status: FinishedStatus;
  /** `finishedBefore = now − maxAgeMs`, or `keepLatest = maxCount`. */
  readonly limit: { readonly maxAgeMs: number } | { readonly maxCount: number };
}

/** {@link RetentionOptions} checked, as the steps of one round. */
export interface RetentionPolicy {
  readonly steps: readonly RetentionStep[];
  readonly intervalMs: number;
  readonly batchSize: number;
}

const FINISHED: readonly FinishedStatus[] = ["completed", "failed", "cancelled"];
const OPTION_KEYS: ReadonlySet<string> = new Set([...FINISHED, "intervalMs", "batchSize"]);
const RULE_KEYS: ReadonlySet<string> = new Set(["maxAgeMs", "maxCount"]);
const MAX_INT = 2_147_483_647;

function invalid(path: string, message: string): ValidationError {
  return new ValidationError(`invalid engine option: retention${path} ${message}`, [
    { path: ["retention", ...path.split(".").filter(Boolean)], message },
  ]);
}

function positiveInt(value: unknown, path: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
    throw invalid(path, `must be an integer 1–${max}, got ${typeof value === "number" ? String(value) : typeof value}`);
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks the `retention` option (throws `ValidationError` naming the field): an object whose
 * keys are `completed`, `failed`, `cancelled` (each a rule with `maxAgeMs` and/or `maxCount`,
 * positive integers), `intervalMs` and `batchSize`; any other key (e.g. `pending`) is refused,
 * so retention can never name unfinished work; at least one rule. `undefined` when absent.
 */
export function resolveRetention(value: unknown): RetentionPolicy | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) throw invalid("", "must be an object { completed?, failed?, cancelled?, intervalMs?, batchSize? }");
  for (const key of Object.keys(value)) {
    if (!OPTION_KEYS.has(key)) {
      throw invalid(
        `.${key}`,
        `is not a finished status: retention deletes only completed, failed and cancelled jobs (or set intervalMs, batchSize)`,
      );
    }
  }
  const steps: RetentionStep[] = [];
  for (const status of FINISHED) {
    const rule = value[status];
    if (rule === undefined) continue;
    if (!isPlainObject(rule)) throw invalid(`.${status}`, "must be an object { maxAgeMs?, maxCount? }");
    for (const key of Object.keys(rule)) if (!RULE_KEYS.has(key)) throw invalid(`.${status}.${key}`, "is not a rule (maxAgeMs, maxCount)");
    const maxAgeMs = positiveInt(rule.maxAgeMs, `.${status}.maxAgeMs`, Number.MAX_SAFE_INTEGER);
    const maxCount = positiveInt(rule.maxCount, `.${status}.maxCount`, MAX_INT);
    if (maxAgeMs === undefined && maxCount === undefined) throw invalid(`.${status}`, "needs maxAgeMs or maxCount (or both)");
    if (maxAgeMs !== undefined) steps.push({ status, limit: { maxAgeMs } });
    if (maxCount !== undefined) steps.push({ status, limit: { maxCount } });
  }
  if (steps.length === 0) throw invalid("", "needs a rule for completed, failed or cancelled");
  return Object.freeze({
    steps: Object.freeze(steps),
    intervalMs: positiveInt(value.intervalMs, ".intervalMs", MAX_INT) ?? 60_000,
    batchSize: positiveInt(value.batchSize, ".batchSize", MAX_PRUNE_LIMIT) ?? 500,
  });
}

/** The store request of one step at `now`. */
export function pruneRequestOf(step: RetentionStep, now: number, batchSize: number): PruneRequest {
  return "maxAgeMs" in step.limit
    ? { status: step.status, finishedBefore: now - step.limit.maxAgeMs, limit: batchSize }
    : { status: step.status, keepLatest: step.limit.maxCount, limit: batchSize };
}

/** Checks that the store can prune; throws `ValidationError` (the option cannot work on it). */
export function prunableStore(store: JobStore): PruneJobStore {
  if (!hasPrune(store)) {
    throw invalid("", "needs a store with the prune capability (capabilities.prune and pruneFinished); this store has none");
  }
  return store;
}

/** What the pruner reports to its engine. */
export interface RetentionHost {
  /** A batch deleted these jobs. */
  pruned(status: FinishedStatus, deleted: readonly string[]): void;
  /** A batch failed; the round goes on with the next step, and the next round retries. */
  error(error: unknown, context: string): void;
}

/** Runs the rounds of a {@link RetentionPolicy} on a clock's timers; see the file header. */
export class RetentionPruner {
  readonly #store: PruneJobStore;
  readonly #policy: RetentionPolicy;
  readonly #clock: Clock;
  readonly #host: RetentionHost;
  #timer: ClockTimer | undefined;
  #batch: Promise<void> | undefined;
  #step = 0;
  #stopped = true;

  constructor(store: PruneJobStore, policy: RetentionPolicy, clock: Clock, host: RetentionHost) {
    this.#store = store;
    this.#policy = policy;
    this.#clock = clock;
    this.#host = host;
  }

  /** Schedules the first round `intervalMs` from now. Idempotent. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(this.#policy.intervalMs);
  }

  /** Stops scheduling and waits for a batch in flight. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#batch;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#batch = this.#runBatch();
    }, ms);
    this.#timer.unref();
  }

  /** One store call for the current step, then the next timer: at once when more remain, else the next step or round. */
  async #runBatch(): Promise<void> {
    const { steps, batchSize, intervalMs } = this.#policy;
    const step = steps[this.#step] as RetentionStep;
    let more = false;
    try {
      const report = await this.#store.pruneFinished(pruneRequestOf(step, this.#clock.now(), batchSize));
      more = report.more;
      if (report.deleted.length > 0) this.#host.pruned(step.status, report.deleted);
    } catch (e) {
      this.#host.error(e, `retention: pruning ${step.status} jobs failed`);
    }
    if (more && !this.#stopped) {
      this.#schedule(0);
      return;
    }
    this.#step = (this.#step + 1) % steps.length;
    this.#schedule(this.#step === 0 ? intervalMs : 0);
  }
}

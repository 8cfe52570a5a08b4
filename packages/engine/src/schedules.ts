// Cron schedules: definitions kept in the store (its `schedules` capability), ticks turned into
// ordinary jobs. Exactly one job per tick across every engine on a store comes from the job id:
// `schedule:<name>:<tick as ISO-8601 UTC>` is the same in every engine, and the store refuses a
// second insert of it (DuplicateJobError: another engine got the tick). The store also keeps the
// latest tick submitted (`lastTickAt`, only raised), which is where a restart resumes and where
// catch-up starts. All timing goes through the engine's Clock: one timer per engine, for the
// earliest next tick of all schedules or the next refresh of the list, whichever comes first.
import {
  DuplicateJobError,
  ErrorCode,
  HandlerNotFoundError,
  IncompatibleStoreError,
  isPyrexisError,
  parseJobSpec,
  UnknownModeError,
  ValidationError,
  type Clock,
  type ClockTimer,
  type Job,
  type JobSpecInput,
} from "@pyrexis/models";
import { hasSchedules, type JobStore, type ScheduledJobSpec, type ScheduleRecord, type SchedulesJobStore } from "@pyrexis/storage";
import { assertScheduleName } from "@pyrexis/storage/kit";
import { parseCron, type CronTicks } from "./cron.js";

/** Missed ticks one catch-up submits at most, unless `catchUpLimit` says otherwise. */
export const DEFAULT_CATCH_UP_LIMIT = 10;
/** Largest `catchUpLimit`. */
export const MAX_CATCH_UP_LIMIT = 1000;
/** How often a running engine re-reads the schedules of its store by default (ms). */
export const DEFAULT_SCHEDULE_REFRESH_MS = 10_000;

/** The job of a schedule's ticks: a job spec without `id`, `runAt` or `delayMs` (each tick gets its id, and runs at its tick). */
export type ScheduleSpecInput = Omit<JobSpecInput, "id" | "runAt" | "delayMs">;

/** Options of `Engine.schedule`. */
export interface ScheduleOptions {
  /** A five-field cron expression (`minute hour day-of-month month day-of-week`) or a nickname (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`). */
  cron: string;
  /** The IANA timezone the expression is read in (default `"UTC"`), e.g. `"America/New_York"`. */
  timezone?: string | undefined;
  /** The job each tick submits. */
  spec: ScheduleSpecInput;
  /**
   * After a time with no engine running, submit the ticks missed since the last one submitted (at
   * most `catchUpLimit`, the latest ones). Default false: only ticks from the engine's start on.
   */
  catchUp?: boolean | undefined;
  /** Most missed ticks one catch-up submits, 1–1000 (default 10). */
  catchUpLimit?: number | undefined;
}

/** A stored schedule and its next tick. */
export interface ScheduleInfo extends ScheduleRecord {
  /** The next tick after now (epoch ms), by the cron expression; absent if it has none. */
  readonly nextTickAt?: number | undefined;
}

/** The deterministic job id of one tick of a schedule. */
export function tickJobId(name: string, tickAt: number): string {
  return `schedule:${name}:${new Date(tickAt).toISOString()}`;
}

/** What the schedules need from their engine. */
export interface ScheduleHost {
  readonly store: JobStore;
  readonly clock: Clock;
  /** Submits one tick's job (the engine's own `submitJobs`: validation, events, dispatch). */
  submit(spec: JobSpecInput): Promise<Job>;
  /** Checks a spec's handler and mode against the engine's (throws the engine's typed errors). */
  checkSpec(spec: { readonly handler: string; readonly mode: string }): void;
  /** A tick was handled: `submitted` false when another engine had already submitted it. */
  ticked(event: { name: string; tickAt: number; jobId: string; submitted: boolean }): void;
  reportError(error: unknown, context: string): void;
}

/** A schedule this engine tracks: its record, its parsed expression and the tick it is past. */
interface Tracked {
  record: ScheduleRecord;
  ticks: CronTicks;
  /** Every tick up to and including this instant is handled (by this engine or another). */
  base: number;
}

/** Throws `IncompatibleStoreError` unless `store` keeps schedules. */
function schedulesOf(store: JobStore): SchedulesJobStore {
  if (!hasSchedules(store)) {
    throw new IncompatibleStoreError(
      "this store does not keep schedules (capabilities.schedules): use MemoryJobStore, SQLite or PostgreSQL, or a store that implements ScheduleMethods",
    );
  }
  return store;
}

/** Checks a schedule's options and builds its record; throws a typed error naming the bad field, writing nothing. */
function scheduleRecord(name: unknown, options: unknown, now: number, checkSpec: ScheduleHost["checkSpec"]): ScheduleRecord {
  assertScheduleName(name);
  if (typeof options !== "object" || options === null) {
    throw new ValidationError(`schedule "${name}": options must be an object { cron, timezone?, spec, catchUp?, catchUpLimit? }`);
  }
  const o = options as Record<string, unknown>;
  const known = new Set(["cron", "timezone", "spec", "catchUp", "catchUpLimit"]);
  for (const key of Object.keys(o)) {
    if (!known.has(key))
      throw new ValidationError(`schedule "${name}": unknown option ${key}`, [{ path: [key], message: "unknown option" }]);
  }
  const ticks = parseCron(o.cron, o.timezone ?? "UTC");
  const catchUp = o.catchUp ?? false;
  if (typeof catchUp !== "boolean")
    throw new ValidationError(`schedule "${name}": catchUp must be a boolean`, [{ path: ["catchUp"], message: "must be a boolean" }]);
  const limit = o.catchUpLimit ?? DEFAULT_CATCH_UP_LIMIT;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_CATCH_UP_LIMIT) {
    throw new ValidationError(`schedule "${name}": catchUpLimit must be an integer 1–${MAX_CATCH_UP_LIMIT}`, [
      { path: ["catchUpLimit"], message: `must be an integer 1–${MAX_CATCH_UP_LIMIT}` },
    ]);
  }
  if (typeof o.spec !== "object" || o.spec === null || Array.isArray(o.spec)) {
    throw new ValidationError(`schedule "${name}": spec must be a job spec object`, [
      { path: ["spec"], message: "must be a job spec object" },
    ]);
  }
  for (const key of ["id", "runAt", "delayMs"]) {
    if ((o.spec as Record<string, unknown>)[key] !== undefined) {
      throw new ValidationError(`schedule "${name}": spec.${key} is not allowed (each tick gets its own id and runs at its tick)`, [
        { path: ["spec", key], message: "not allowed in a schedule" },
      ]);
    }
  }
  const { id: _id, runAt: _runAt, delayMs: _delayMs, ...spec } = parseJobSpec(o.spec, `schedule "${name}" spec`);
  checkSpec(spec);
  return {
    name,
    cron: ticks.expression,
    timezone: ticks.timezone,
    spec: spec satisfies ScheduledJobSpec,
    catchUp,
    catchUpLimit: limit,
    createdAt: now,
  };
}

/**
 * Checks a schedule's definition as `Engine.schedule` does and returns the record a store keeps,
 * without an engine (the CLI writes schedules this way). `handlers`, when given, are the known
 * handler names; `modes` the execution modes a worker will have. Throws the same typed errors as
 * `Engine.schedule`.
 *
 * @example
 * ```ts
 * const record = buildScheduleRecord("nightly", { cron: "0 3 * * *", spec: { handler: "reindex" } }, { now: Date.now(), modes: ["async"] });
 * ```
 */
export function buildScheduleRecord(
  name: string,
  options: ScheduleOptions,
  context: { readonly now: number; readonly modes: readonly string[]; readonly handlers?: readonly string[] | undefined },
): ScheduleRecord {
  return scheduleRecord(name, options, context.now, (spec) => {
    if (context.handlers !== undefined && !context.handlers.includes(spec.handler))
      throw new HandlerNotFoundError(spec.handler, context.handlers);
    if (!context.modes.includes(spec.mode)) throw new UnknownModeError(spec.mode, context.modes);
  });
}

/** The first tick of a stored schedule after `after` (epoch ms); `undefined` when it has none or cannot be read. */
export function nextScheduleTick(record: Pick<ScheduleRecord, "cron" | "timezone">, after: number): number | undefined {
  try {
    return parseCron(record.cron, record.timezone).next(after);
  } catch {
    return undefined; // a stored expression this version cannot read
  }
}

/**
 * The schedules of one engine: defining, listing and removing them in the store, and, while the
 * engine's loop runs, submitting their ticks.
 */
export class EngineSchedules {
  readonly #host: ScheduleHost;
  readonly #refreshMs: number;
  readonly #tracked = new Map<string, Tracked>();
  #startedAt = 0;
  #running = false;
  #timer: ClockTimer | undefined;
  /** The refresh in progress; a wake during it asks for one more after it. */
  #refreshing: Promise<void> | undefined;
  #again = false;
  /** Schedules whose stored expression no longer parses: reported once each. */
  readonly #broken = new Set<string>();
  /** Schedules whose handler or mode this engine lacks: reported once each. */
  readonly #unrunnable = new Set<string>();

  constructor(host: ScheduleHost, refreshMs: number) {
    this.#host = host;
    this.#refreshMs = refreshMs;
  }

  /** Defines a schedule (or finds the identical one); see `Engine.schedule`. */
  async define(name: string, options: ScheduleOptions): Promise<ScheduleInfo> {
    const record = scheduleRecord(name, options, this.#host.clock.now(), (spec) => this.#host.checkSpec(spec));
    const store = schedulesOf(this.#host.store);
    const { schedule } = await store.putSchedule(record);
    this.wake();
    return this.#info(schedule);
  }

  /** Every schedule of the store, in name order, with its next tick. */
  async list(): Promise<ScheduleInfo[]> {
    const stored = await schedulesOf(this.#host.store).listSchedules();
    return stored.map((s) => this.#info(s));
  }

  /** Removes a schedule; true when there was one. Ticks already submitted stay. */
  async remove(name: string): Promise<boolean> {
    const removed = await schedulesOf(this.#host.store).deleteSchedule(name);
    this.#tracked.delete(name);
    this.wake();
    return removed;
  }

  /** Starts submitting ticks (the engine's loop started); a store without schedules has none to submit. */
  start(): void {
    if (this.#running || !hasSchedules(this.#host.store)) return;
    this.#running = true;
    this.#startedAt = this.#host.clock.now();
    this.wake();
  }

  /** Stops submitting; resolves when a refresh in progress has ended. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#refreshing;
  }

  /** Re-reads the schedules and submits what is due, now. */
  wake(): void {
    if (!this.#running) return;
    if (this.#refreshing) {
      this.#again = true;
      return;
    }
    this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#refreshing = this.#refresh()
      .catch((error: unknown) => {
        // Stopping: a submission refused by the shutting-down engine is the next start's tick.
        if (this.#running) this.#host.reportError(error, "schedules: reading or submitting ticks failed; trying again at the next refresh");
      })
      .finally(() => {
        this.#refreshing = undefined;
        if (!this.#running) return;
        if (this.#again) {
          this.#again = false;
          this.wake();
        } else this.#arm();
      });
  }

  #info(record: ScheduleRecord): ScheduleInfo {
    const nextTickAt = nextScheduleTick(record, this.#host.clock.now());
    return nextTickAt === undefined ? record : { ...record, nextTickAt };
  }

  async #refresh(): Promise<void> {
    const store = schedulesOf(this.#host.store);
    const stored = await store.listSchedules();
    const seen = new Set<string>();
    for (const record of stored) {
      seen.add(record.name);
      this.#track(record);
    }
    for (const name of [...this.#tracked.keys()]) if (!seen.has(name)) this.#tracked.delete(name);
    let failed: unknown;
    for (const tracked of [...this.#tracked.values()]) {
      if (!this.#running) return;
      // An engine submits only the schedules it can run (engines with different handlers may
      // share a store): another engine takes the others' ticks.
      if (!this.#canRun(tracked.record)) continue;
      // One schedule's failure must not hold up the others' ticks.
      await this.#submitDue(store, tracked).catch((error: unknown) => (failed ??= error));
    }
    if (failed !== undefined)
      throw failed instanceof Error ? failed : new TypeError(`a schedule's ticks failed with a non-Error (${typeof failed})`);
  }

  /** False (reported once) for a schedule whose handler or mode this engine does not have. */
  #canRun(record: ScheduleRecord): boolean {
    try {
      this.#host.checkSpec(record.spec);
      this.#unrunnable.delete(record.name);
      return true;
    } catch (error) {
      if (!this.#unrunnable.has(record.name)) {
        this.#unrunnable.add(record.name);
        this.#host.reportError(error, `schedule "${record.name}": this engine cannot run its job; its ticks are left to engines that can`);
      }
      return false;
    }
  }

  /** Tracks a stored schedule, or updates what this engine knows of it. */
  #track(record: ScheduleRecord): void {
    const previous = this.#tracked.get(record.name);
    const storedBase = Math.max(record.createdAt, record.lastTickAt ?? record.createdAt);
    // The same schedule (a removed and re-created one has another createdAt or definition).
    if (previous !== undefined && previous.record.createdAt === record.createdAt && previous.record.cron === record.cron) {
      previous.base = Math.max(previous.base, storedBase);
      previous.record = record;
      return;
    }
    let ticks: CronTicks;
    try {
      ticks = parseCron(record.cron, record.timezone);
    } catch (error) {
      if (!this.#broken.has(record.name)) {
        this.#broken.add(record.name);
        this.#host.reportError(error, `schedule "${record.name}": its stored cron expression or timezone cannot be read; skipped`);
      }
      return;
    }
    // Without catch-up, ticks from before this engine started are not this engine's to submit.
    const base = record.catchUp ? storedBase : Math.max(storedBase, this.#startedAt);
    this.#tracked.set(record.name, { record, ticks, base });
  }

  async #submitDue(store: SchedulesJobStore, tracked: Tracked): Promise<void> {
    const now = this.#host.clock.now();
    const { record } = tracked;
    // Without catch-up a late wake submits only the latest due tick.
    const due = tracked.ticks.between(tracked.base, now, record.catchUp ? record.catchUpLimit : 1);
    for (const tickAt of due) {
      if (!this.#running || this.#tracked.get(record.name) !== tracked) return;
      const jobId = tickJobId(record.name, tickAt);
      let submitted = false;
      // Another engine may have it already: a read is cheaper than a refused insert.
      if ((await store.getJob(jobId)) === undefined) {
        try {
          await this.#host.submit({ ...record.spec, id: jobId, runAt: tickAt });
          submitted = true;
        } catch (error) {
          if (!(error instanceof DuplicateJobError || isPyrexisError(error, ErrorCode.DUPLICATE_JOB))) throw error;
        }
      }
      tracked.base = tickAt;
      if (!(await store.recordScheduleTick(record.name, tickAt))) {
        // Removed meanwhile: a tick submitted in that instant stays, no later one comes.
        this.#tracked.delete(record.name);
      }
      this.#host.ticked({ name: record.name, tickAt, jobId, submitted });
    }
  }

  /** One timer: the earliest next tick of all schedules, or the next refresh. */
  #arm(): void {
    const now = this.#host.clock.now();
    let at = now + this.#refreshMs;
    for (const tracked of this.#tracked.values()) {
      const next = tracked.ticks.next(Math.max(tracked.base, now));
      if (next !== undefined && next < at) at = next;
    }
    this.#timer = this.#host.clock.setTimeout(() => {
      this.#timer = undefined;
      this.wake();
    }, at - now);
    this.#timer.unref();
  }
}

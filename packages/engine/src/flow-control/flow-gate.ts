// The flow-control stage of dispatch: ready jobs that use limits or name a group wait here, per
// mode, in a FairScheduler (weighted fair queuing among groups, priority with aging inside each);
// a job starts only when every limit it names has room. Jobs that use the same limits share a
// lane, so a job waiting for its limit holds up neither unrelated jobs nor other groups, and a
// limit refused to a job stays refused to every job after it in the same pass (all of its
// limits are held for it): a heavy job is not starved by lighter ones that would fit sooner.
//
// Nothing polls: a job blocked by a rate is woken by one clock timer at the exact time its weight
// fits (the sliding-window log knows it); one blocked by a concurrency cap is woken when a slot
// comes back (an attempt ended) or units are credited by a charge.
import { LimitCapacityError, type Clock, type ClockTimer, type Job, type JobLimit } from "@pyrexis/models";
import { FairScheduler, type FairEntry } from "@pyrexis/scheduler";
import type { LimitSettings } from "./limits.js";
import { SlidingWindowLog, type WindowEntry } from "./sliding-window.js";

/**
 * What the gate holds of a job: the engine's queue entry (its job, priority and age), which is
 * the fair scheduler's entry itself (no object per job): its `group` is the job's, its `lane`
 * the job's limit keys (see {@link laneOf}).
 */
export interface GateSubject extends FairEntry {
  readonly id: string;
  readonly job: Job;
  readonly priority: number;
  readonly enqueuedAt: number;
  readonly runAt: number | undefined;
  readonly mode: string;
  /** When it entered the gate (clock ms; set by the gate), for the wait metric. */
  gatedAt: number;
}

/** The live state of one limit in this engine. */
class LimitState {
  readonly settings: LimitSettings;
  readonly window: SlidingWindowLog | undefined;
  running = 0;
  /** The pass in which a better job was refused by this limit: later jobs of that pass wait too. */
  heldInPass = 0;
  /** Units admitted (after charges), for metrics. */
  unitsUsed = 0;
  /** Jobs in the gate that use this limit (waiting for it or for another of theirs), for metrics. */
  waiting = 0;

  constructor(settings: LimitSettings) {
    this.settings = settings;
    this.window = settings.rate === undefined ? undefined : new SlidingWindowLog(settings.rate.units, settings.rate.perMs);
  }
}

/** What one limit holds now, for metrics. */
export interface LimitStats {
  /** Units admitted since the engine started, after charges and credits. */
  readonly unitsUsed: number;
  /** Units admitted in the current window of its rate (0 without a rate). */
  readonly unitsInWindow: number;
  /** Jobs running that use it. */
  readonly running: number;
  /** Jobs in the gate that use it. */
  readonly waiting: number;
}

/** What the gate tells the engine. */
export interface GateHost {
  /** A limit may have room now (a slot came back, units were credited, a rate window moved): pump. */
  room(): void;
  /** A handler's `ctx.charge` could not be applied (the job does not use that limit). */
  badCharge(jobId: string, message: string): void;
  /** A job names a limit this engine does not define; called once per key. */
  unknownLimit(key: string, jobId: string): void;
}

/** What a permit tells its gate. */
interface PermitHost {
  roomLater(): void;
  badCharge(jobId: string, message: string): void;
}

/**
 * What a started job holds: a slot of every limit with `maxConcurrent` and its admission in every
 * rate window. {@link release} gives the slots back once; {@link charge} corrects the units.
 * A job with one limit (the common case) holds it without arrays.
 */
export class Permit {
  readonly jobId: string;
  readonly #gate: PermitHost;
  readonly #limits: LimitState | readonly LimitState[];
  readonly #entries: WindowEntry | undefined | readonly (WindowEntry | undefined)[];
  #released = false;
  /**
   * Set when the job can never fit here: its weight on a limit exceeds that limit's capacity in
   * this engine (it came from a process that could not check it: the CLI, another engine's
   * configuration). Such a permit holds nothing; the engine fails the attempt with this error
   * instead of calling the handler, so the job neither waits forever nor holds its limit's lane.
   */
  readonly refused: LimitCapacityError | undefined;

  constructor(
    gate: PermitHost,
    jobId: string,
    limits: LimitState | readonly LimitState[],
    entries: WindowEntry | undefined | readonly (WindowEntry | undefined)[],
    refused?: LimitCapacityError,
  ) {
    this.#gate = gate;
    this.jobId = jobId;
    this.#limits = limits;
    this.#entries = entries;
    this.refused = refused;
  }

  get #count(): number {
    return Array.isArray(this.#limits) ? this.#limits.length : 1;
  }

  #limit(i: number): LimitState {
    const limits = this.#limits;
    return Array.isArray(limits) ? (limits[i] as LimitState) : (limits as LimitState);
  }

  #entry(i: number): WindowEntry | undefined {
    const entries = this.#entries;
    return typeof entries === "object" ? entries[i] : entries;
  }

  /**
   * The handler's real usage: sets the units of its admission on limit `key` (default: the first
   * of the job's limits with a rate) to `units`; a charge it cannot apply is reported as an
   * `engine:error`.
   */
  charge(units: number, key: string | undefined): void {
    for (let i = 0; i < this.#count; i++) {
      const limit = this.#limit(i);
      if (key === undefined ? limit.window === undefined : limit.settings.key !== key) continue;
      const entry = this.#entry(i);
      if (entry === undefined || limit.window === undefined) break;
      // After the window moved past the admission, a correction changes nothing.
      const before = limit.window.unitsOf(entry);
      if (before !== undefined) {
        limit.unitsUsed += units - before;
        limit.window.adjust(entry, units);
        if (units < before) this.#gate.roomLater();
      }
      return;
    }
    this.#gate.badCharge(
      this.jobId,
      key === undefined
        ? `job ${this.jobId} charged ${units} units but uses no limit with a rate`
        : `job ${this.jobId} charged ${units} units to limit ${JSON.stringify(key)}, which it does not use with a rate`,
    );
  }

  /**
   * Gives the concurrency slots back (the attempt ended, however it ended). Idempotent. The
   * caller dispatches right after (the engine pumps when an attempt ends), so no wake-up here.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (let i = 0; i < this.#count; i++) {
      const limit = this.#limit(i);
      if (limit.settings.maxConcurrent !== undefined) limit.running--;
    }
  }

  /** The job never started: slots back and its admissions credited in full. */
  refund(): void {
    for (let i = 0; i < this.#count; i++) {
      const limit = this.#limit(i);
      const entry = this.#entry(i);
      if (entry !== undefined && limit.window !== undefined) {
        limit.unitsUsed -= limit.window.unitsOf(entry) ?? 0;
        limit.window.adjust(entry, 0);
      }
    }
    this.release();
    this.#gate.roomLater();
  }
}

/** Options of {@link FlowGate}. */
export interface FlowGateOptions {
  readonly limits: ReadonlyMap<string, LimitSettings>;
  readonly groupWeights: Readonly<Record<string, number>>;
  readonly agingRate: number;
  readonly clock: Clock;
  readonly host: GateHost;
}

/** Lane of a job: the keys of the limits it uses, in the order it named them. */
export function laneOf(limits: readonly JobLimit[] | undefined): string {
  if (limits === undefined) return "";
  if (limits.length === 1) return (limits[0] as JobLimit).key;
  return limits.map((l) => l.key).join("\u0000");
}

/**
 * The flow-control stage: per mode, the ready jobs that use limits or name a group (see the file
 * comment). The engine pushes ready jobs in, and takes the next one that fits with {@link next}.
 */
export class FlowGate<S extends GateSubject = GateSubject> {
  readonly #limits = new Map<string, LimitState>();
  readonly #queues = new Map<string, FairScheduler<S>>();
  readonly #options: FlowGateOptions;
  readonly #clock: Clock;
  #pass = 0;
  #timer: ClockTimer | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #roomQueued = false;
  #size = 0;
  /** State of the `next` call in progress (fields, so `#accept` is one bound function, not a closure per call). */
  #now = 0;
  #wakeAt = Number.POSITIVE_INFINITY;
  readonly #accept = (subject: S): boolean => this.#fits(subject);
  /** Limit keys of jobs that this engine does not define, already told to the host. */
  readonly #unknownKeys = new Set<string>();

  constructor(options: FlowGateOptions) {
    this.#options = options;
    this.#clock = options.clock;
    for (const [key, settings] of options.limits) this.#limits.set(key, new LimitState(settings));
  }

  /** True when `job` goes through the gate (it uses a limit or names a group). */
  static wants(job: Job): boolean {
    return job.limits !== undefined || job.group !== undefined;
  }

  /** Jobs waiting in the gate, all modes. */
  get size(): number {
    return this.#size;
  }

  /** Jobs of `mode` waiting in the gate. */
  sizeOf(mode: string): number {
    return this.#queues.get(mode)?.size ?? 0;
  }

  /** Queues a ready job. */
  push(subject: S): void {
    this.#queueOf(subject.mode).push(subject);
    subject.gatedAt = this.#clock.now();
    this.#size++;
    this.#count(subject, 1);
  }

  /**
   * Charges a job's group for a dispatch made without queuing (the engine started it at once,
   * with nothing waiting): the fair queue's tags move as a pop of it would move them.
   */
  charge(subject: S): void {
    this.#queueOf(subject.mode).charge(subject.group);
  }

  #queueOf(mode: string): FairScheduler<S> {
    let queue = this.#queues.get(mode);
    if (queue === undefined) {
      queue = new FairScheduler<S>({
        agingRate: this.#options.agingRate,
        clock: this.#clock,
        weights: this.#options.groupWeights,
      });
      this.#queues.set(mode, queue);
    }
    return queue;
  }

  /** Counts a job in (+1) or out (−1) of the waiting gauges of the limits it uses. */
  #count(subject: S, by: 1 | -1): void {
    const limits = subject.job.limits;
    if (limits === undefined) return;
    for (const { key } of limits) {
      const limit = this.#limits.get(key);
      if (limit !== undefined) limit.waiting += by;
    }
  }

  /** Removes a waiting job; true when it was here. */
  remove(subject: S): boolean {
    const removed = this.#queues.get(subject.mode)?.remove(subject.id) ?? false;
    if (removed) {
      this.#size--;
      this.#count(subject, -1);
    }
    return removed;
  }

  /** Every waiting job, removed from the gate (shutdown hands them back). */
  drain(): S[] {
    const out: S[] = [];
    for (const queue of this.#queues.values()) for (let e = queue.pop(); e !== undefined; e = queue.pop()) out.push(e);
    this.#size = 0;
    for (const limit of this.#limits.values()) limit.waiting = 0;
    return out;
  }

  /**
   * Takes the next job of `mode` whose limits all have room, in fair order, with its permit (its
   * slots and units are taken). `undefined` when none fits now; then a timer is armed for the
   * earliest time a refused weight fits (slots coming back wake the engine through the permit).
   */
  next(mode: string): { subject: S; permit: Permit | undefined } | undefined {
    const queue = this.#queues.get(mode);
    if (queue === undefined || queue.size === 0) return undefined;
    this.#pass++;
    const now = (this.#now = this.#clock.now());
    this.#wakeAt = Number.POSITIVE_INFINITY;
    const subject = queue.popWhere(this.#accept);
    if (subject === undefined) {
      this.#armTimer(this.#wakeAt);
      return undefined;
    }
    this.#size--;
    this.#count(subject, -1);
    // A job that only names a group holds nothing.
    return { subject, permit: subject.job.limits === undefined ? undefined : this.#takeFor(subject.job, now) };
  }

  /** The capacity error of a job whose weight on one of its limits exceeds that limit's capacity here. */
  #oversized(job: Job): LimitCapacityError | undefined {
    for (const { key, units } of job.limits ?? []) {
      const window = this.#limits.get(key)?.window;
      if (window !== undefined && units > window.units) return new LimitCapacityError(key, units, window.units);
    }
    return undefined;
  }

  /** Whether a lane head fits now (in the `next` call in progress). */
  #fits(subject: S): boolean {
    const limits = subject.job.limits;
    if (limits === undefined) return true;
    const pass = this.#pass;
    const now = this.#now;
    let fits = true;
    for (const { key, units } of limits) {
      const limit = this.#limits.get(key);
      if (limit === undefined) continue; // checked at submit; a job from another engine's config runs unlimited here (told by #takeFor)
      if (limit.window !== undefined && units > limit.window.units) return true; // never fits: taken at once, to be refused
      if (limit.heldInPass === pass) fits = false;
      else if (limit.settings.maxConcurrent !== undefined && limit.running >= limit.settings.maxConcurrent) fits = false;
      else if (limit.window !== undefined) {
        const at = limit.window.fitsAt(units, now);
        if (at > now) {
          fits = false;
          if (at < this.#wakeAt) this.#wakeAt = at;
        }
      }
    }
    // Refused: hold every limit it names for it, for the rest of this pass.
    if (!fits) for (const { key } of limits) this.#hold(key, pass);
    return fits;
  }

  /**
   * A permit for this one job if all its limits have room now (no fairness: `runNext` uses it for
   * the job it already holds); `undefined` otherwise.
   */
  tryTake(subject: S, now: number = this.#clock.now()): Permit | undefined {
    for (const { key, units } of subject.job.limits ?? []) {
      const limit = this.#limits.get(key);
      if (limit === undefined) continue;
      if (limit.window !== undefined && units > limit.window.units) return this.#takeFor(subject.job, now); // to be refused
      if (limit.settings.maxConcurrent !== undefined && limit.running >= limit.settings.maxConcurrent) return undefined;
      if (limit.window !== undefined && limit.window.fitsAt(units, now) > now) return undefined;
    }
    return this.#takeFor(subject.job, now);
  }

  /**
   * A permit recorded without checks, for a job the store admitted (flow claims): it keeps this
   * engine's limit metrics and refuses a job over a limit's capacity here, as {@link tryTake} does.
   */
  record(job: Job): Permit {
    return this.#takeFor(job, this.#clock.now());
  }

  #hold(key: string, pass: number): void {
    const limit = this.#limits.get(key);
    if (limit !== undefined) limit.heldInPass = pass;
  }

  #takeFor(job: Job, now: number): Permit {
    const limits = job.limits ?? [];
    if (limits.length === 1) {
      const { key, units } = limits[0] as JobLimit;
      const limit = this.#limits.get(key);
      if (limit !== undefined) {
        // It can never start here: a permit that holds nothing and carries the error to fail with.
        if (limit.window !== undefined && units > limit.window.units)
          return new Permit(this, job.id, [], [], new LimitCapacityError(key, units, limit.window.units));
        return new Permit(this, job.id, limit, this.#admit(limit, units, now));
      }
    } else {
      const refused = this.#oversized(job);
      if (refused !== undefined) return new Permit(this, job.id, [], [], refused);
    }
    const states: LimitState[] = [];
    const entries: (WindowEntry | undefined)[] = [];
    for (const { key, units } of limits) {
      const limit = this.#limits.get(key);
      if (limit === undefined) {
        this.#unknownLimit(key, job.id);
        continue;
      }
      states.push(limit);
      entries.push(this.#admit(limit, units, now));
    }
    return new Permit(this, job.id, states, entries);
  }

  /**
   * A job names a limit this engine does not define (another process submitted it, checking
   * against its own limits): it runs unlimited on that key here. Told once per key, so an
   * operator learns that a worker lacks a limit its jobs rely on.
   */
  #unknownLimit(key: string, jobId: string): void {
    if (this.#unknownKeys.has(key)) return;
    this.#unknownKeys.add(key);
    this.#options.host.unknownLimit(key, jobId);
  }

  /** Takes a slot and admits `units` on one limit. */
  #admit(limit: LimitState, units: number, now: number): WindowEntry | undefined {
    if (limit.settings.maxConcurrent !== undefined) limit.running++;
    if (limit.window === undefined) return undefined;
    limit.unitsUsed += units;
    return limit.window.take(units, now);
  }

  /** Asks the engine to pump once, after the current call stack (slots back, credits). */
  roomLater(): void {
    if (this.#roomQueued) return;
    this.#roomQueued = true;
    queueMicrotask(() => {
      this.#roomQueued = false;
      this.#options.host.room();
    });
  }

  /** Reports a charge that could not be applied. */
  badCharge(jobId: string, message: string): void {
    this.#options.host.badCharge(jobId, message);
  }

  #armTimer(at: number): void {
    if (at === Number.POSITIVE_INFINITY || (this.#timer !== undefined && at >= this.#timerAt)) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.#options.host.room();
      },
      Math.max(0, at - this.#clock.now()),
    );
    // The run loop keeps the process alive; a job waiting for its limit alone must not.
    this.#timer.unref();
  }

  /** Units admitted (after charges, in all and in the current window), jobs running and jobs waiting, per limit. */
  limitStats(now: number = this.#clock.now()): Record<string, LimitStats> {
    const out: Record<string, LimitStats> = {};
    for (const [key, limit] of this.#limits) {
      const stats = {
        unitsUsed: limit.unitsUsed,
        unitsInWindow: limit.window?.used(now) ?? 0,
        running: limit.running,
        waiting: limit.waiting,
      };
      // An own property whatever the name (a limit may be called `__proto__`).
      Object.defineProperty(out, key, { value: stats, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  /** Waiting jobs per group (all modes; `""` for jobs without a group). */
  groupSizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const queue of this.#queues.values()) for (const [g, n] of Object.entries(queue.groupSizes())) out[g] = (out[g] ?? 0) + n;
    return out;
  }

  /** Stops the timer. */
  stop(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }
}

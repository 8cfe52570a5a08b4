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
import { type Clock, type ClockTimer, type Job, type JobLimit } from "@pyrexis/models";
import { FairScheduler, type FairEntry } from "@pyrexis/scheduler";
import type { LimitSettings } from "./limits.js";
import { SlidingWindowLog, type WindowEntry } from "./sliding-window.js";

/** What the gate holds of a job: the engine's queue entry (its job, priority and age). */
export interface GateSubject {
  readonly id: string;
  readonly job: Job;
  readonly priority: number;
  readonly enqueuedAt: number;
  readonly runAt: number | undefined;
  readonly mode: string;
}

/** The gate's scheduler entry of one waiting job. */
interface GateEntry<S extends GateSubject> extends FairEntry {
  readonly subject: S;
  /** When it entered the gate (clock ms), for the limit-wait metric. */
  readonly since: number;
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

  constructor(settings: LimitSettings) {
    this.settings = settings;
    this.window = settings.rate === undefined ? undefined : new SlidingWindowLog(settings.rate.units, settings.rate.perMs);
  }
}

/** What the gate tells the engine. */
export interface GateHost {
  /** A limit may have room now (a slot came back, units were credited, a rate window moved): pump. */
  room(): void;
  /** A handler's `ctx.charge` could not be applied (the job does not use that limit). */
  badCharge(jobId: string, message: string): void;
}

/**
 * What a started job holds: a slot of every limit with `maxConcurrent` and its admission in every
 * rate window. {@link release} gives the slots back once; {@link charge} corrects the units.
 */
export class Permit {
  readonly jobId: string;
  /** Time the job waited in the gate, ms. */
  readonly waitedMs: number;
  readonly #gate: FlowGate;
  readonly #limits: readonly LimitState[];
  readonly #entries: (WindowEntry | undefined)[];
  #released = false;

  constructor(gate: FlowGate, jobId: string, limits: readonly LimitState[], entries: (WindowEntry | undefined)[], waitedMs: number) {
    this.#gate = gate;
    this.jobId = jobId;
    this.#limits = limits;
    this.#entries = entries;
    this.waitedMs = waitedMs;
  }

  /**
   * The handler's real usage: sets the units of its admission on limit `key` (default: the first
   * of the job's limits with a rate) to `units`; a charge it cannot apply is reported as an
   * `engine:error`.
   */
  charge(units: number, key: string | undefined): void {
    const problem = this.#apply(units, key);
    if (problem !== undefined) this.#gate.badCharge(this.jobId, problem);
  }

  #apply(units: number, key: string | undefined): string | undefined {
    let i = -1;
    for (let j = 0; j < this.#limits.length; j++) {
      const limit = this.#limits[j] as LimitState;
      if (key === undefined ? limit.window !== undefined : limit.settings.key === key) {
        i = j;
        break;
      }
    }
    const entry = this.#entries[i];
    const limit = this.#limits[i];
    if (i < 0 || entry === undefined || limit?.window === undefined) {
      return key === undefined
        ? `job ${this.jobId} charged ${units} units but uses no limit with a rate`
        : `job ${this.jobId} charged ${units} units to limit ${JSON.stringify(key)}, which it does not use with a rate`;
    }
    const before = entry.units;
    limit.unitsUsed += units - before;
    limit.window.adjust(entry, units);
    if (units < before) this.#gate.roomLater();
    return undefined;
  }

  /** Gives the concurrency slots back (the attempt ended, however it ended). Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    let freed = false;
    for (const limit of this.#limits) {
      if (limit.settings.maxConcurrent !== undefined) {
        limit.running--;
        freed = true;
      }
    }
    if (freed) this.#gate.roomLater();
  }

  /** The job never started: slots back and its admissions credited in full. */
  refund(): void {
    for (let i = 0; i < this.#limits.length; i++) {
      const entry = this.#entries[i];
      const limit = this.#limits[i] as LimitState;
      if (entry !== undefined && limit.window !== undefined) {
        limit.unitsUsed -= entry.units;
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
function laneOf(limits: readonly JobLimit[] | undefined): string {
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
  readonly #queues = new Map<string, FairScheduler<GateEntry<S>>>();
  readonly #options: FlowGateOptions;
  readonly #clock: Clock;
  #pass = 0;
  #timer: ClockTimer | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #roomQueued = false;
  #size = 0;

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
    let queue = this.#queues.get(subject.mode);
    if (queue === undefined) {
      queue = new FairScheduler<GateEntry<S>>({
        agingRate: this.#options.agingRate,
        clock: this.#clock,
        weights: this.#options.groupWeights,
      });
      this.#queues.set(subject.mode, queue);
    }
    const job = subject.job;
    queue.push({
      id: subject.id,
      priority: subject.priority,
      enqueuedAt: subject.enqueuedAt,
      runAt: subject.runAt,
      group: job.group,
      lane: laneOf(job.limits),
      subject,
      since: this.#clock.now(),
    });
    this.#size++;
  }

  /** Removes a waiting job; true when it was here. */
  remove(id: string, mode: string): boolean {
    const removed = this.#queues.get(mode)?.remove(id) ?? false;
    if (removed) this.#size--;
    return removed;
  }

  /** Every waiting job, removed from the gate (shutdown hands them back). */
  drain(): S[] {
    const out: S[] = [];
    for (const queue of this.#queues.values()) for (let e = queue.pop(); e !== undefined; e = queue.pop()) out.push(e.subject);
    this.#size = 0;
    return out;
  }

  /**
   * Takes the next job of `mode` whose limits all have room, in fair order, with its permit (its
   * slots and units are taken). `undefined` when none fits now; then a timer is armed for the
   * earliest time a refused weight fits (slots coming back wake the engine through the permit).
   */
  next(mode: string): { subject: S; permit: Permit } | undefined {
    const queue = this.#queues.get(mode);
    if (queue === undefined || queue.size === 0) return undefined;
    const pass = ++this.#pass;
    const now = this.#clock.now();
    let wakeAt = Number.POSITIVE_INFINITY;
    const accept = (entry: GateEntry<S>): boolean => {
      const limits = entry.subject.job.limits;
      if (limits === undefined) return true;
      let fits = true;
      for (const { key, units } of limits) {
        const limit = this.#limits.get(key);
        if (limit === undefined) continue; // checked at submit; a job from another engine's config runs unlimited here
        if (limit.heldInPass === pass) fits = false;
        else if (limit.settings.maxConcurrent !== undefined && limit.running >= limit.settings.maxConcurrent) fits = false;
        else if (limit.window !== undefined) {
          const at = limit.window.fitsAt(units, now);
          if (at > now) {
            fits = false;
            if (at < wakeAt) wakeAt = at;
          }
        }
      }
      // Refused: hold every limit it names for it, for the rest of this pass.
      if (!fits) for (const { key } of limits) this.#hold(key, pass);
      return fits;
    };
    const entry = queue.popWhere(accept);
    if (entry === undefined) {
      this.#armTimer(wakeAt);
      return undefined;
    }
    this.#size--;
    return { subject: entry.subject, permit: this.#take(entry, now) };
  }

  /**
   * A permit for this one job if all its limits have room now (no fairness: `runNext` uses it for
   * the job it already holds); `undefined` otherwise.
   */
  tryTake(subject: S): Permit | undefined {
    const now = this.#clock.now();
    for (const { key, units } of subject.job.limits ?? []) {
      const limit = this.#limits.get(key);
      if (limit === undefined) continue;
      if (limit.settings.maxConcurrent !== undefined && limit.running >= limit.settings.maxConcurrent) return undefined;
      if (limit.window !== undefined && limit.window.fitsAt(units, now) > now) return undefined;
    }
    return this.#takeFor(subject.job, now, now);
  }

  #hold(key: string, pass: number): void {
    const limit = this.#limits.get(key);
    if (limit !== undefined) limit.heldInPass = pass;
  }

  #take(entry: GateEntry<S>, now: number): Permit {
    return this.#takeFor(entry.subject.job, now, entry.since);
  }

  #takeFor(job: Job, now: number, since: number): Permit {
    const states: LimitState[] = [];
    const entries: (WindowEntry | undefined)[] = [];
    for (const { key, units } of job.limits ?? []) {
      const limit = this.#limits.get(key);
      if (limit === undefined) continue;
      if (limit.settings.maxConcurrent !== undefined) limit.running++;
      states.push(limit);
      entries.push(limit.window?.take(units, now));
      if (limit.window !== undefined) limit.unitsUsed += units;
    }
    return new Permit(this, job.id, states, entries, now - since);
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

  /** Units admitted (after charges) and jobs running, per limit. */
  limitStats(now: number = this.#clock.now()): Record<string, { unitsUsed: number; unitsInWindow: number; running: number }> {
    const out: Record<string, { unitsUsed: number; unitsInWindow: number; running: number }> = {};
    for (const [key, limit] of this.#limits) {
      out[key] = { unitsUsed: limit.unitsUsed, unitsInWindow: limit.window?.used(now) ?? 0, running: limit.running };
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

/** A pending timer of a {@link Clock}; pass it to {@link Clock.clearTimeout}. */
export interface ClockTimer {
  /** Lets the process exit while only this timer is pending (real timers); a no-op for fake ones. */
  unref(): void;
}

/**
 * A source of the current time in epoch milliseconds, and of timers that fire by that time.
 * Injected everywhere time matters (scheduling, aging, backoff, timeouts, leases) so tests use
 * fake time ({@link ManualClock}) instead of sleeps.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once, `ms` (≥ 0) from now by this clock. */
  setTimeout(fn: () => void, ms: number): ClockTimer;
  /** Cancels a timer of this clock; unknown or fired timers are ignored. */
  clearTimeout(timer: ClockTimer | undefined): void;
}

/** Node's timers cap delays at 2^31 − 1 ms; longer ones would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** The real clock: `Date.now()` and Node's timers. */
export const systemClock: Clock = Object.freeze({
  now: (): number => Date.now(),
  setTimeout: (fn: () => void, ms: number): ClockTimer => setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS)),
  clearTimeout: (timer: ClockTimer | undefined): void => clearTimeout(timer as NodeJS.Timeout | undefined),
});

/** A fake timer: fires when its clock is advanced to `at`. */
class ManualTimer implements ClockTimer {
  constructor(
    readonly at: number,
    readonly seq: number,
    readonly fn: () => void,
  ) {}
  unref(): void {}
}

/**
 * A clock that moves only when told to; for tests. Its timers fire, in time order, during
 * {@link advance} and {@link set}: each one sees `now()` equal to its due time, and a timer that
 * a callback sets within the advanced span fires in the same call.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Set<ManualTimer>();

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    if (typeof fn !== "function") throw new TypeError("setTimeout needs a function");
    const timer = new ManualTimer(this.#now + Math.max(0, Number.isFinite(ms) ? ms : 0), this.#seq++, fn);
    this.#timers.add(timer);
    return timer;
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    if (timer instanceof ManualTimer) this.#timers.delete(timer);
  }

  /** Timers not yet fired (for tests). */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms` (≥ 0), firing the timers due on the way. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance(ms) needs ms >= 0, got ${ms}`);
    this.#runUntil(this.#now + ms);
  }

  /** Sets the time, firing the timers due on the way; it may not go backwards. */
  set(now: number): void {
    if (now < this.#now) throw new RangeError(`clock cannot go back from ${this.#now} to ${now}`);
    this.#runUntil(now);
  }

  #runUntil(target: number): void {
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.#timers) {
        if (t.at <= target && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (next === undefined) break;
      this.#timers.delete(next);
      if (next.at > this.#now) this.#now = next.at;
      next.fn();
    }
    this.#now = target;
  }
}

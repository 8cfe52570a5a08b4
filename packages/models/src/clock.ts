/**
 * A source of the current time in epoch milliseconds. Injected everywhere time matters
 * (scheduling, aging, backoff, timestamps) so tests use fake time instead of sleeps.
 */
export interface Clock {
  now(): number;
}

/** The real clock (`Date.now()`). */
export const systemClock: Clock = Object.freeze({ now: (): number => Date.now() });

/** A clock that moves only when told to; for tests. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start = 0) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  /** Moves time forward by `ms` (≥ 0). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance(ms) needs ms >= 0, got ${ms}`);
    this.#now += ms;
  }
  /** Sets the time; it may not go backwards. */
  set(now: number): void {
    if (now < this.#now) throw new RangeError(`clock cannot go back from ${this.#now} to ${now}`);
    this.#now = now;
  }
}

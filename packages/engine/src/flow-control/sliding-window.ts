// The rate part of a limit: a sliding-window log. Why a log and not GCRA or a counter:
// - a fixed-window counter lets 2 × units through across a window edge (a full window's worth at
//   its end, another at the start of the next);
// - GCRA with a burst of `units` is a virtual schedule, not a window: after a burst it refills
//   continuously, so a window that holds the burst and half the refill sees 1.5 × units (up to
//   2 × units − 1 in the worst case); to keep every window at `units` its burst must shrink;
// - the log keeps each admission (time, units) for `perMs` and admits a weight only when the
//   units of the admissions in (now − perMs, now] plus the weight fit. The window ending at any
//   admission then holds at most `units`, and so does every window, because a window's sum is
//   at most the sum of the window ending at its last admission. It is exact, needs no tuning,
//   knows the exact time a weight will fit (no polling), and lets a charge after the call move
//   an admission's units up or down. Memory: one entry per admission still in the window, at
//   most `units` of them (every weight is at least 1).

/**
 * An admission in the log: its sequence number (a handle for a later charge). Admissions live in
 * two typed-array rings, not in an object each: a high limit keeps tens of thousands of them for a
 * whole window, and objects that live that long are what the garbage collector pays most for.
 */
export type WindowEntry = number;

/** A sliding-window log of `units` per `perMs` (see the file comment). Times are the caller's clock. */
export class SlidingWindowLog {
  readonly units: number;
  readonly perMs: number;
  #at = new Float64Array(64);
  #amount = new Float64Array(64);
  /** Sequence numbers of the oldest admission still in the window and of the next one. */
  #head = 0;
  #tail = 0;
  #used = 0;

  constructor(units: number, perMs: number) {
    this.units = units;
    this.perMs = perMs;
  }

  /** Units admitted in the window ending at `now` (after charges). */
  used(now: number): number {
    this.#prune(now);
    return this.#used;
  }

  /** The earliest time ≥ `now` at which `units` fit, assuming nothing else is admitted meanwhile. */
  fitsAt(units: number, now: number): number {
    this.#prune(now);
    let over = this.#used + units - this.units;
    if (over <= 0) return now;
    const mask = this.#at.length - 1;
    for (let seq = this.#head; seq < this.#tail; seq++) {
      over -= this.#amount[seq & mask] as number;
      if (over <= 0) return (this.#at[seq & mask] as number) + this.perMs;
    }
    // Only a weight above the capacity gets here: refused at submit, and by the gate before it asks.
    return Number.POSITIVE_INFINITY;
  }

  /** Admits `units` at `now` (the caller checked {@link fitsAt}); returns the entry for a later charge. */
  take(units: number, now: number): WindowEntry {
    if (this.#tail - this.#head === this.#at.length) this.#grow();
    const mask = this.#at.length - 1;
    const seq = this.#tail++;
    this.#at[seq & mask] = now;
    this.#amount[seq & mask] = units;
    this.#used += units;
    return seq;
  }

  /** Units of an admission still in the window, or `undefined` once it left it. */
  unitsOf(entry: WindowEntry): number | undefined {
    return entry >= this.#head && entry < this.#tail ? this.#amount[entry & (this.#at.length - 1)] : undefined;
  }

  /** Sets an admission's units to `units` (what the call really used): the difference is charged or credited. */
  adjust(entry: WindowEntry, units: number): void {
    if (entry < this.#head || entry >= this.#tail) return; // it left the window: nothing to correct
    const i = entry & (this.#at.length - 1);
    this.#used += units - (this.#amount[i] as number);
    this.#amount[i] = units;
  }

  #prune(now: number): void {
    const edge = now - this.perMs;
    const mask = this.#at.length - 1;
    while (this.#head < this.#tail && (this.#at[this.#head & mask] as number) <= edge) {
      this.#used -= this.#amount[this.#head & mask] as number;
      this.#head++;
    }
  }

  /** Doubles the rings (sizes stay powers of two, so a sequence number masks to its slot). */
  #grow(): void {
    const size = this.#at.length;
    const at = new Float64Array(size * 2);
    const amount = new Float64Array(size * 2);
    for (let seq = this.#head; seq < this.#tail; seq++) {
      at[seq & (size * 2 - 1)] = this.#at[seq & (size - 1)] as number;
      amount[seq & (size * 2 - 1)] = this.#amount[seq & (size - 1)] as number;
    }
    this.#at = at;
    this.#amount = amount;
  }
}

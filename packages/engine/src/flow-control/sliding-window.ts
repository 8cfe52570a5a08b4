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

/** One admission in the log: its time and its units (changed by a charge). */
export interface WindowEntry {
  readonly at: number;
  units: number;
  /** False once the entry left the window (a charge then changes nothing). */
  inWindow: boolean;
}

/** A sliding-window log of `units` per `perMs` (see the file comment). Times are the caller's clock. */
export class SlidingWindowLog {
  readonly units: number;
  readonly perMs: number;
  readonly #log: WindowEntry[] = [];
  #head = 0;
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
    for (let i = this.#head; i < this.#log.length; i++) {
      const e = this.#log[i] as WindowEntry;
      over -= e.units;
      if (over <= 0) return e.at + this.perMs;
    }
    // Only a weight above the capacity gets here; checked at submit, so never in practice.
    return Number.POSITIVE_INFINITY;
  }

  /** Admits `units` at `now` (the caller checked {@link fitsAt}); returns the entry for a later charge. */
  take(units: number, now: number): WindowEntry {
    const entry: WindowEntry = { at: now, units, inWindow: true };
    this.#log.push(entry);
    this.#used += units;
    return entry;
  }

  /** Sets an admission's units to `units` (what the call really used): the difference is charged or credited. */
  adjust(entry: WindowEntry, units: number): void {
    if (!entry.inWindow) return;
    this.#used += units - entry.units;
    entry.units = units;
  }

  #prune(now: number): void {
    const log = this.#log;
    const edge = now - this.perMs;
    let head = this.#head;
    while (head < log.length && (log[head] as WindowEntry).at <= edge) {
      const e = log[head] as WindowEntry;
      e.inWindow = false;
      this.#used -= e.units;
      head++;
    }
    // Compact once the dead prefix is most of the array (amortised O(1) per entry).
    if (head > 1024 && head * 2 > log.length) {
      log.splice(0, head);
      head = 0;
    }
    this.#head = head;
  }
}

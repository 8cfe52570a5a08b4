import { DuplicateJobError, ValidationError, systemClock, type Clock } from "@pyrexis/models";
import { DEFAULT_AGING_RATE, assertAgingRate, assertPriority, assertTimestamp, keyMs, scaleOf } from "./aging.js";
import { SlotHeap, SlotTable } from "./slot-heap.js";
import type { Scheduler, SchedulerEntry } from "./scheduler.js";

/** Options of {@link PriorityScheduler}. */
export interface PrioritySchedulerOptions {
  /**
   * Priority points an entry gains per second of waiting once ready (≥ 0; 0 turns aging off).
   * Default {@link DEFAULT_AGING_RATE} (0.1).
   */
  readonly agingRate?: number | undefined;
  /** Source of "now" for `enqueuedAt` defaults and due checks. Default `systemClock`. */
  readonly clock?: Clock | undefined;
}

/**
 * The in-memory {@link Scheduler}: a binary heap of ready entries ordered by a fixed aging key
 * (see {@link agingKeyMs}), FIFO among equal keys, and a second heap of delayed entries ordered by
 * `runAt` that feeds the first when due. O(log n) `push`/`pop`/`remove`, O(1) `has`/`size`.
 *
 * It owns no timers: delayed entries move to the ready heap when `pop`, `peek`, `readyCount` or
 * `nextRunAt` look at the clock. Use `nextRunAt()` to know when to wake.
 *
 * @example
 * ```ts
 * const s = new PriorityScheduler({ agingRate: 0.1 });
 * s.push({ id: "a", priority: 1 });
 * s.push({ id: "b", priority: 9 });
 * s.push({ id: "later", priority: 10, runAt: Date.now() + 60_000 });
 * s.pop()?.id; // "b"
 * s.nextRunAt(); // when "later" becomes due
 * ```
 */
export class PriorityScheduler<T extends SchedulerEntry = SchedulerEntry> implements Scheduler<T> {
  /** Priority points per second of waiting, as configured. */
  readonly agingRate: number;
  readonly #clock: Clock;
  readonly #scale: number;
  readonly #table = new SlotTable<T>();
  readonly #ready = new SlotHeap(this.#table, false);
  /** Keyed by `−runAt`, so the max-heap yields the earliest `runAt` first. */
  readonly #delayed = new SlotHeap(this.#table, true);
  readonly #byId = new Map<string, number>();
  #seq = 0;

  constructor(options: PrioritySchedulerOptions = {}) {
    const agingRate = options.agingRate ?? DEFAULT_AGING_RATE;
    assertAgingRate(agingRate);
    this.agingRate = agingRate;
    this.#scale = scaleOf(agingRate);
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Queues `entry` (the same object comes back from `pop`). It is ready at
   * `max(enqueuedAt ?? now, runAt ?? −∞)` and waits in the delayed heap while `runAt > now`.
   *
   * @throws {@link DuplicateJobError} when an entry with this id is queued.
   * @throws {@link ValidationError} when `id` is not a string, `priority` not an integer 0–10,
   * or `enqueuedAt`/`runAt` not finite. Nothing changes on a throw.
   */
  push(entry: T): void {
    const { id, priority, enqueuedAt, runAt } = entry;
    if (typeof id !== "string") {
      throw new ValidationError(`id must be a string, got ${typeof id}`, [{ path: ["id"], message: "must be a string" }]);
    }
    assertPriority(priority);
    if (enqueuedAt !== undefined) assertTimestamp("enqueuedAt", enqueuedAt);
    if (runAt !== undefined) assertTimestamp("runAt", runAt);
    const byId = this.#byId;
    if (byId.has(id)) throw new DuplicateJobError(id);

    // Read the clock only when needed: pushes that carry enqueuedAt and no runAt skip it.
    if (runAt === undefined) {
      const readyKey = keyMs(priority, enqueuedAt ?? this.#clock.now(), this.#scale);
      const slot = this.#table.alloc(entry, readyKey);
      byId.set(id, slot);
      this.#ready.push(readyKey, this.#seq++, slot);
      return;
    }
    const now = this.#clock.now();
    const base = enqueuedAt ?? now;
    const readyKey = keyMs(priority, runAt > base ? runAt : base, this.#scale);
    const slot = this.#table.alloc(entry, readyKey);
    byId.set(id, slot);
    if (runAt > now) this.#delayed.push(-runAt, this.#seq++, slot);
    else this.#ready.push(readyKey, this.#seq++, slot);
  }

  /** Removes and returns the ready entry with the highest effective priority (FIFO on ties). */
  pop(): T | undefined {
    if (this.#delayed.length !== 0) this.#promote();
    const slot = this.#ready.pop();
    if (slot < 0) return undefined;
    const entry = this.#table.entries[slot] as T;
    this.#table.release(slot);
    this.#byId.delete(entry.id);
    return entry;
  }

  /** The entry `pop()` would return now, without removing it. */
  peek(): T | undefined {
    if (this.#delayed.length !== 0) this.#promote();
    const slot = this.#ready.topSlot();
    return slot < 0 ? undefined : this.#table.entries[slot];
  }

  /** Removes a queued entry (ready or delayed) by id in O(log n); true when it was queued. */
  remove(id: string): boolean {
    const slot = this.#byId.get(id);
    if (slot === undefined) return false;
    this.#byId.delete(id);
    const p = this.#table.pos[slot] as number;
    if (p >= 0) this.#ready.removeAt(p);
    else this.#delayed.removeAt(~p);
    this.#table.release(slot);
    return true;
  }

  /** True when an entry with this id is queued (ready or delayed). O(1). */
  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** The queued entry with this id, or `undefined`. */
  get(id: string): T | undefined {
    const slot = this.#byId.get(id);
    return slot === undefined ? undefined : this.#table.entries[slot];
  }

  /** All queued entries, ready and delayed. */
  get size(): number {
    return this.#byId.size;
  }

  /** Entries that may pop now (moves due delayed entries into the ready heap first). */
  get readyCount(): number {
    if (this.#delayed.length !== 0) this.#promote();
    return this.#ready.length;
  }

  /** Earliest `runAt` of a delayed entry that is not yet due, or `undefined`. */
  nextRunAt(): number | undefined {
    if (this.#delayed.length === 0) return undefined;
    this.#promote();
    return this.#delayed.length === 0 ? undefined : -this.#delayed.topKey();
  }

  /** A snapshot of every queued entry (ready and delayed), in no particular order. */
  entries(): T[] {
    const out: T[] = [];
    const entries = this.#table.entries;
    for (const slot of this.#byId.values()) out.push(entries[slot] as T);
    return out;
  }

  /** Drops every queued entry and releases the storage. */
  clear(): void {
    this.#ready.clear();
    this.#delayed.clear();
    this.#table.reset();
    this.#byId.clear();
  }

  /** Moves every delayed entry with `runAt <= now` into the ready heap, in `runAt` order. */
  #promote(): void {
    const delayed = this.#delayed;
    const now = this.#clock.now();
    // Keys are −runAt: due while −key <= now. Equal runAt pop in push order; `seq` is kept.
    while (delayed.length !== 0 && -delayed.topKey() <= now) {
      const seq = delayed.topSeq();
      const slot = delayed.pop();
      this.#ready.push(this.#table.readyKey[slot] as number, seq, slot);
    }
  }
}

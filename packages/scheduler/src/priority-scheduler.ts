import { DuplicateJobError, ValidationError, systemClock, type Clock } from "@pyrexis/models";
import { DEFAULT_AGING_RATE, assertAgingRate, assertPriority, assertTimestamp, keyMs, scaleOf } from "./aging.js";
import { BucketQueue } from "./bucket-queue.js";
import { IdIndex } from "./id-index.js";
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
  readonly clock?: Pick<Clock, "now"> | undefined;
}

/**
 * The in-memory {@link Scheduler}: ready entries in a bucket queue ordered by a fixed aging key
 * (see {@link agingKeyMs}), FIFO among equal keys, and a binary heap of delayed entries ordered by
 * `runAt` that feeds it when due. Ready entries sit in one FIFO ring per priority level (0–10),
 * plus a small per-level heap for entries that arrive out of readyAt order; `pop` compares the 11
 * level heads. `push` is O(1) amortised (O(log n) out of order or delayed), `pop` O(11) plus
 * amortised O(1) (O(log n) from a heap), `remove` O(1) amortised or O(log n), `has`/`size` O(1).
 * Ids are indexed in a hash table of its own (typed arrays, linear probing) whose hash is seeded
 * per scheduler at random, so ids that collide cannot be computed in advance; `push`, `has`, `get`
 * and `remove` hash the id once, `pop` does not hash it.
 *
 * It owns no timers: delayed entries become ready when `pop`, `peek`, `readyCount` or
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
  readonly #clock: Pick<Clock, "now">;
  readonly #scale: number;
  readonly #table = new SlotTable<T>();
  readonly #ready = new BucketQueue(this.#table);
  /** Keyed by `−runAt`, so the max-heap yields the earliest `runAt` first. */
  readonly #delayed = new SlotHeap(this.#table, "delayed");
  /** Id → slot, for `has`, `remove` and duplicate detection. */
  readonly #ids = new IdIndex();
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
   * O(1) amortised; O(log n) for a delayed entry or one whose readyAt is earlier than the last
   * ready entry queued at its priority.
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

    // Read the clock only when needed: pushes that carry enqueuedAt and no runAt skip it. The
    // clock is read before anything changes, so a throwing clock leaves the queue as it was.
    if (runAt === undefined) {
      const readyKey = keyMs(priority, enqueuedAt ?? this.#clock.now(), this.#scale);
      const slot = this.#claim(entry, id, priority);
      this.#ready.push(priority, readyKey, this.#seq++, slot);
      return;
    }
    const now = this.#clock.now();
    const base = enqueuedAt ?? now;
    const readyKey = keyMs(priority, runAt > base ? runAt : base, this.#scale);
    const slot = this.#claim(entry, id, priority);
    if (runAt > now) {
      this.#table.readyKey[slot] = readyKey;
      this.#delayed.push(-runAt, this.#seq++, slot);
    } else {
      this.#ready.push(priority, readyKey, this.#seq++, slot);
    }
  }

  /** Removes and returns the ready entry with the highest effective priority (FIFO on ties). */
  pop(): T | undefined {
    if (this.#delayed.length !== 0) this.#promote();
    const slot = this.#ready.pop();
    if (slot < 0) return undefined;
    const entry = this.#table.entries[slot] as T;
    this.#ids.delete(slot);
    this.#table.release(slot);
    return entry;
  }

  /** The entry `pop()` would return now, without removing it. */
  peek(): T | undefined {
    if (this.#delayed.length !== 0) this.#promote();
    const slot = this.#ready.topSlot();
    return slot < 0 ? undefined : this.#table.entries[slot];
  }

  /**
   * Removes a queued entry (ready or delayed) by id; true when it was queued. O(1) amortised for
   * an in-order ready entry (it leaves a tombstone, dropped in bulk), O(log n) from a heap.
   */
  remove(id: string): boolean {
    const slot = this.#ids.find(id);
    if (slot < 0) return false;
    this.#ids.delete(slot);
    const p = this.#table.pos[slot] as number;
    if (p >= 0) this.#ready.remove(slot);
    else this.#delayed.removeAt(~p);
    this.#table.release(slot);
    return true;
  }

  /** True when an entry with this id is queued (ready or delayed). O(1). */
  has(id: string): boolean {
    return this.#ids.find(id) >= 0;
  }

  /** The queued entry with this id, or `undefined`. */
  get(id: string): T | undefined {
    const slot = this.#ids.find(id);
    return slot < 0 ? undefined : this.#table.entries[slot];
  }

  /** All queued entries, ready and delayed. */
  get size(): number {
    return this.#ids.size;
  }

  /** Entries that may pop now (makes due delayed entries ready first). */
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
    this.#ids.forEach((slot) => out.push(entries[slot] as T));
    return out;
  }

  /**
   * Entries its tables have room for: they grow to the most it ever held at once and shrink only
   * on {@link clear}. For the fair scheduler, which reuses only queues that never grew.
   * @internal
   */
  get slotCapacity(): number {
    return this.#table.pos.length;
  }

  /** Drops every queued entry and releases the storage. */
  clear(): void {
    this.#ready.clear();
    this.#delayed.clear();
    this.#table.reset();
    this.#ids.clear();
  }

  /**
   * Takes a slot for `entry` and indexes its id: one probe finds either the id (a duplicate: the
   * slot is given back, so nothing changes on the throw) or the free bucket it goes in.
   */
  #claim(entry: T, id: string, priority: number): number {
    const table = this.#table;
    const slot = table.alloc(entry);
    if (!this.#ids.insert(id, slot)) {
      table.release(slot);
      throw new DuplicateJobError(id);
    }
    table.level[slot] = priority;
    return slot;
  }

  /** Moves every delayed entry with `runAt <= now` into the ready queue, in `runAt` order. */
  #promote(): void {
    const delayed = this.#delayed;
    const table = this.#table;
    const now = this.#clock.now();
    // Keys are −runAt: due while −key <= now. Equal runAt pop in push order; `seq` is kept.
    while (delayed.length !== 0 && -delayed.topKey() <= now) {
      const seq = delayed.topSeq();
      const slot = delayed.pop();
      this.#ready.push(table.level[slot] as number, table.readyKey[slot] as number, seq, slot);
    }
  }
}

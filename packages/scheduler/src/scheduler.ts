/** What the scheduler orders: an id, a priority and when it was enqueued / may run. */
export interface SchedulerEntry {
  /** Unique among queued entries. */
  readonly id: string;
  /** 0–10, higher runs first. */
  readonly priority: number;
  /** Epoch ms the entry was enqueued; defaults to the clock's now at `push`. */
  readonly enqueuedAt?: number | undefined;
  /** Epoch ms before which the entry must not pop (delayed entry). */
  readonly runAt?: number | undefined;
}

/**
 * A priority queue of job entries with aging and delayed entries. The engine holds one;
 * replace it to change the ordering policy.
 *
 * @example
 * ```ts
 * const s: Scheduler = new PriorityScheduler();
 * s.push({ id: "a", priority: 5 });
 * s.push({ id: "b", priority: 5, runAt: Date.now() + 1_000 });
 * s.pop()?.id; // "a"; "b" pops once its runAt has passed
 * const wake = s.nextRunAt(); // arm one timer for this, or undefined
 * ```
 */
export interface Scheduler<T extends SchedulerEntry = SchedulerEntry> {
  /** Queues an entry. Throws on a duplicate id or an invalid priority. */
  push(entry: T): void;
  /** Removes and returns the ready entry with the highest effective priority, or `undefined`. */
  pop(): T | undefined;
  /** Removes an entry (ready or delayed) by id; true when it was queued. */
  remove(id: string): boolean;
  /** True when an entry with this id is queued (ready or delayed). */
  has(id: string): boolean;
  /** All queued entries, ready and delayed. */
  readonly size: number;
  /** Entries that may pop now. */
  readonly readyCount: number;
  /** Earliest `runAt` of a delayed entry that is not yet due, or `undefined`. */
  nextRunAt(): number | undefined;
}

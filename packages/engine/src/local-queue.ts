import type { Clock, ClockTimer } from "@pyrexis/models";
import { agingKeyMs, type Scheduler, type SchedulerEntry } from "@pyrexis/scheduler";

/** What the engine queues: the scheduler entry of a job plus its mode. */
export interface QueueEntry extends SchedulerEntry {
  readonly mode: string;
}

/** A scheduler the engine can use: the {@link Scheduler} contract plus `peek()`. */
export interface PeekableScheduler<T extends SchedulerEntry> extends Scheduler<T> {
  /** The entry `pop()` would return, without removing it. */
  peek(): T | undefined;
}

/** Builds the scheduler of one mode. */
export type SchedulerFactory = (mode: string) => PeekableScheduler<QueueEntry>;

/**
 * The engine's dispatch seam: where due jobs come from. This in-memory implementation keeps
 * one scheduler per mode (so a full mode never blocks another) and one timer for the earliest
 * delayed job. It serves stores without claims; on a store with claims the engine claims from
 * the store instead (see `ClaimSource`).
 */
export class LocalQueue {
  readonly #schedulers = new Map<string, PeekableScheduler<QueueEntry>>();
  /** The keys of `#schedulers`, as an array the dispatch loop can walk without an iterator. */
  readonly #modes: string[] = [];
  readonly #createScheduler: SchedulerFactory;
  readonly #clock: Clock;
  readonly #onDue: () => void;
  readonly #agingRate: number;
  #timer: ClockTimer | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  /** `onDue` is called when a delayed entry becomes due (one timer, never polling). */
  constructor(createScheduler: SchedulerFactory, clock: Clock, agingRate: number, onDue: () => void) {
    this.#agingRate = agingRate;
    this.#createScheduler = createScheduler;
    this.#clock = clock;
    this.#onDue = onDue;
  }

  #scheduler(mode: string): PeekableScheduler<QueueEntry> {
    let s = this.#schedulers.get(mode);
    if (!s) {
      s = this.#createScheduler(mode);
      this.#schedulers.set(mode, s);
      this.#modes.push(mode);
    }
    return s;
  }

  push(entry: QueueEntry): void {
    this.#scheduler(entry.mode).push(entry);
    if (entry.runAt !== undefined && entry.runAt > this.#clock.now()) this.#armTimer();
  }

  /** Pops the best due entry of `mode`. */
  popMode(mode: string): QueueEntry | undefined {
    return this.#schedulers.get(mode)?.pop();
  }

  /** Pops the best due entry of any mode (highest effective priority, then oldest). */
  popAny(): QueueEntry | undefined {
    // Each mode's best entry, compared across modes by the same aging key the schedulers use.
    let best: { mode: string; key: number; readyAt: number } | undefined;
    for (const [mode, s] of this.#schedulers) {
      const e = s.peek();
      if (!e) continue;
      const readyAt = Math.max(e.enqueuedAt ?? 0, e.runAt ?? 0);
      const key = agingKeyMs(e.priority, readyAt, this.#agingRate);
      if (!best || key > best.key || (key === best.key && readyAt < best.readyAt)) best = { mode, key, readyAt };
    }
    return best ? this.#schedulers.get(best.mode)?.pop() : undefined;
  }

  remove(entry: { id: string; mode: string }): boolean {
    return this.#schedulers.get(entry.mode)?.remove(entry.id) ?? false;
  }

  /** Modes that have (or had) queued entries; `popMode` tells which have a due one. */
  get modes(): readonly string[] {
    return this.#modes;
  }

  get size(): number {
    let n = 0;
    for (const s of this.#schedulers.values()) n += s.size;
    return n;
  }

  get readyCount(): number {
    let n = 0;
    for (const s of this.#schedulers.values()) n += s.readyCount;
    return n;
  }

  /** Queued entries per mode. */
  sizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [mode, s] of this.#schedulers) out[mode] = s.size;
    return out;
  }

  nextRunAt(): number | undefined {
    let next: number | undefined;
    for (const s of this.#schedulers.values()) {
      const t = s.nextRunAt();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  /** (Re)arms the single timer for the earliest delayed entry. */
  #armTimer(): void {
    const next = this.nextRunAt();
    if (next === undefined) return;
    if (this.#timer && next >= this.#timerAt) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timerAt = next;
    const delay = Math.max(0, next - this.#clock.now());
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#onDue();
      this.#armTimer();
    }, delay);
    // The engine's run loop keeps the process alive; a pending retry alone must not.
    this.#timer.unref();
  }

  /** Re-arms the timer (after entries were popped or removed). */
  refreshTimer(): void {
    this.#armTimer();
  }

  /** Stops the timer. */
  stop(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }
}

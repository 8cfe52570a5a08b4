import type { Job } from "@pyrexis/models";
import { claimKey } from "./claims-kit.js";

/** What the index needs of a stored record: its current job (replaced on every write). */
export interface IndexedRecord {
  readonly job: Job;
}

/**
 * One queued sighting of a record: valid while the record still has this version. Writes do not
 * search the heaps; a record that changed leaves a stale entry behind, dropped when it surfaces.
 */
interface Entry<R extends IndexedRecord> {
  readonly record: R;
  readonly version: number;
  readonly key: number;
  readonly runAt: number;
  readonly id: string;
}

/** A binary heap over an array; `before(a, b)` is true when `a` must come out first. */
class Heap<T> {
  readonly #items: T[] = [];
  constructor(readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const a = this.#items;
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(item, a[parent] as T)) break;
      a[i] = a[parent] as T;
      i = parent;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && this.before(a[r] as T, a[l] as T) ? r : l;
      if (!this.before(a[child] as T, last)) break;
      a[i] = a[child] as T;
      i = child;
    }
    a[i] = last;
    return top;
  }
}

/** The ready and delayed entries of one mode. */
class ModeQueue<R extends IndexedRecord> {
  /** Due entries, claim order: key descending, then id ascending. */
  readonly ready = new Heap<Entry<R>>((a, b) => a.key > b.key || (a.key === b.key && a.id < b.id));
  /** Not yet due, earliest `runAt` first. */
  readonly delayed = new Heap<Entry<R>>((a, b) => a.runAt < b.runAt || (a.runAt === b.runAt && a.id < b.id));

  /** Moves the entries due at `now` into `ready`. */
  promote(now: number): void {
    for (let e = this.delayed.peek(); e !== undefined && e.runAt <= now; e = this.delayed.peek()) {
      this.delayed.pop();
      this.ready.push(e);
    }
  }
}

/**
 * The claim order of a {@link MemoryJobStore}'s claimable jobs, per mode: a claim pops the best
 * due entries in O(log n) each instead of scanning every job.
 */
export class MemoryClaimIndex<R extends IndexedRecord> {
  readonly #modes = new Map<string, ModeQueue<R>>();
  readonly #agingRate: number;

  constructor(agingRate: number) {
    this.#agingRate = agingRate;
  }

  /** Queues `record` as it is now; call after every write that leaves it `pending` or `retrying`. */
  track(record: R, now: number): void {
    const job = record.job;
    let q = this.#modes.get(job.mode);
    if (q === undefined) {
      q = new ModeQueue<R>();
      this.#modes.set(job.mode, q);
    }
    const entry: Entry<R> = { record, version: job.version, key: claimKey(job, this.#agingRate), runAt: job.runAt, id: job.id };
    if (job.runAt <= now) q.ready.push(entry);
    else q.delayed.push(entry);
  }

  /**
   * Takes up to `limit` due records in claim order across `modes` (all when undefined) for which
   * `accept` is true; records `accept` refuses stay queued.
   */
  take(now: number, limit: number, modes: readonly string[] | undefined, accept: (job: Job) => boolean): R[] {
    const queues: ModeQueue<R>[] = [];
    for (const [mode, q] of this.#modes) {
      if (modes !== undefined && !modes.includes(mode)) continue;
      q.promote(now);
      queues.push(q);
    }
    const taken: R[] = [];
    const refused: Entry<R>[][] = queues.map(() => []);
    while (taken.length < limit) {
      let best = -1;
      let bestEntry: Entry<R> | undefined;
      for (let i = 0; i < queues.length; i++) {
        const e = this.#validHead(queues[i] as ModeQueue<R>);
        if (e !== undefined && (bestEntry === undefined || e.key > bestEntry.key || (e.key === bestEntry.key && e.id < bestEntry.id))) {
          best = i;
          bestEntry = e;
        }
      }
      if (bestEntry === undefined) break;
      (queues[best] as ModeQueue<R>).ready.pop();
      if (accept(bestEntry.record.job)) taken.push(bestEntry.record);
      else (refused[best] as Entry<R>[]).push(bestEntry);
    }
    for (let i = 0; i < queues.length; i++) for (const e of refused[i] as Entry<R>[]) (queues[i] as ModeQueue<R>).ready.push(e);
    return taken;
  }

  /** The head of `q.ready` after dropping stale entries (the record changed since it was queued). */
  #validHead(q: ModeQueue<R>): Entry<R> | undefined {
    for (let e = q.ready.peek(); e !== undefined; e = q.ready.peek()) {
      const job = e.record.job;
      if (job.version === e.version && (job.status === "pending" || job.status === "retrying")) return e;
      q.ready.pop();
    }
    return undefined;
  }

  /** Drops everything. */
  clear(): void {
    this.#modes.clear();
  }
}

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

/** The ready and delayed entries of one (mode, handler). */
class ClaimQueue<R extends IndexedRecord> {
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

  get empty(): boolean {
    return this.ready.size === 0 && this.delayed.size === 0;
  }
}

/**
 * The claim order of a {@link MemoryJobStore}'s claimable jobs, one queue per (mode, handler): a
 * claim merges the heads of the queues its `modes` and `handlers` select and pops the best due
 * entries in O(log n) each, so a filtered claim never walks past jobs it may not take.
 */
export class MemoryClaimIndex<R extends IndexedRecord> {
  /** mode → handler → queue. */
  readonly #queues = new Map<string, Map<string, ClaimQueue<R>>>();
  readonly #agingRate: number;

  constructor(agingRate: number) {
    this.#agingRate = agingRate;
  }

  /** Queues `record` as it is now; call after every write that leaves it `pending` or `retrying`. */
  track(record: R, now: number): void {
    const job = record.job;
    let byHandler = this.#queues.get(job.mode);
    if (byHandler === undefined) {
      byHandler = new Map();
      this.#queues.set(job.mode, byHandler);
    }
    let q = byHandler.get(job.handler);
    if (q === undefined) {
      q = new ClaimQueue<R>();
      byHandler.set(job.handler, q);
    }
    const entry: Entry<R> = { record, version: job.version, key: claimKey(job, this.#agingRate), runAt: job.runAt, id: job.id };
    if (job.runAt <= now) q.ready.push(entry);
    else q.delayed.push(entry);
  }

  /** Takes up to `limit` due records in claim order across `modes` and `handlers` (all when undefined). */
  take(now: number, limit: number, modes: readonly string[] | undefined, handlers: readonly string[] | undefined): R[] {
    const queues = this.#select(modes, handlers);
    for (const q of queues) q.promote(now);
    const taken: R[] = [];
    while (taken.length < limit) {
      let best: ClaimQueue<R> | undefined;
      let bestEntry: Entry<R> | undefined;
      for (const q of queues) {
        const e = this.#validHead(q);
        if (e !== undefined && (bestEntry === undefined || e.key > bestEntry.key || (e.key === bestEntry.key && e.id < bestEntry.id))) {
          best = q;
          bestEntry = e;
        }
      }
      if (best === undefined || bestEntry === undefined) break;
      best.ready.pop();
      taken.push(bestEntry.record);
    }
    this.#dropEmpty(modes);
    return taken;
  }

  /** The queues of the asked modes and handlers. */
  #select(modes: readonly string[] | undefined, handlers: readonly string[] | undefined): ClaimQueue<R>[] {
    const out: ClaimQueue<R>[] = [];
    const byMode = modes === undefined ? this.#queues.values() : modes.map((m) => this.#queues.get(m));
    for (const byHandler of new Set(byMode)) {
      if (byHandler === undefined) continue;
      if (handlers === undefined) for (const q of byHandler.values()) out.push(q);
      else
        for (const h of new Set(handlers)) {
          const q = byHandler.get(h);
          if (q !== undefined) out.push(q);
        }
    }
    return out;
  }

  /** Forgets the drained queues of `modes` (all when undefined), so handlers that come and go leave nothing behind. */
  #dropEmpty(modes: readonly string[] | undefined): void {
    for (const mode of modes ?? [...this.#queues.keys()]) {
      const byHandler = this.#queues.get(mode);
      if (byHandler === undefined) continue;
      for (const [handler, q] of byHandler) if (q.empty) byHandler.delete(handler);
      if (byHandler.size === 0) this.#queues.delete(mode);
    }
  }

  /** The head of `q.ready` after dropping stale entries (the record changed since it was queued). */
  #validHead(q: ClaimQueue<R>): Entry<R> | undefined {
    for (let e = q.ready.peek(); e !== undefined; e = q.ready.peek()) {
      const job = e.record.job;
      if (job.version === e.version && (job.status === "pending" || job.status === "retrying")) return e;
      q.ready.pop();
    }
    return undefined;
  }

  /** Drops everything. */
  clear(): void {
    this.#queues.clear();
  }
}

// The ready entries, as a bucket queue: one bucket per priority level (0–10).
//
// Within a level the aging key is `priority · scale − readyAt` with the same `priority · scale`
// for every entry, so the order (key desc, seq asc) is (readyAt asc, seq asc): plain FIFO when
// entries arrive in readyAt order, which is the normal case (readyAt = now at push). So each
// level keeps a FIFO ring for in-order arrivals — O(1) append and shift on contiguous typed
// arrays — and a small "late lane" heap for the few that arrive out of order (an explicit past
// `enqueuedAt`, a delayed entry promoted after later pushes, a clock that steps back). `pop`
// compares at most 11 cached level heads. This replaced a single binary heap of all ready entries
// because it does O(1) work per entry instead of O(log n) cache-missing sifts.

import { MAX_PRIORITY } from "@pyrexis/models";
import { MIN_CAPACITY, SlotHeap, type SlotTable } from "./slot-heap.js";

const LEVELS = MAX_PRIORITY + 1;
const DEAD = -1;
/**
 * Ring indexes are absolute and wrap at 2^30, so `index << 1` fits `table.pos` (Int32) and every
 * power-of-two capacity divides the wrap: an element keeps its index when the ring is resized
 * (only its physical cell `index & (capacity − 1)` moves), so growing and shrinking never rewrite
 * `table.pos`; growing is a block copy.
 */
const WRAP = 0x3fffffff;

/**
 * One level's FIFO of `(key, seq, slot)` triples, interleaved in one Float64Array used as a ring
 * buffer (one allocation per resize, one cache line per element). Its contents are sorted by
 * (key desc, seq asc); a removed entry leaves a tombstone (`slot = −1`) until the head passes it or
 * a compaction drops it. Invariant: when `length > 0` the head is live.
 */
class Ring {
  /** `cells[3c]`, `cells[3c + 1]`, `cells[3c + 2]`: key, seq and slot of physical cell `c`. */
  cells: Float64Array = new Float64Array(3 * MIN_CAPACITY);
  /** Number of cells, a power of two. */
  capacity = MIN_CAPACITY;
  /** Absolute index of the first element. */
  head = 0;
  /** Elements from `head`, tombstones included. */
  length = 0;
  /** Tombstones among them. */
  dead = 0;
  /** Key and seq of the last element appended; an entry may be appended only if it sorts after. */
  lastKey: number = Number.POSITIVE_INFINITY;
  lastSeq = 0;

  /** True when an entry `(key, seq)` sorts after the tail, so appending keeps the ring sorted. */
  fits(key: number, seq: number): boolean {
    return key < this.lastKey || (key === this.lastKey && seq > this.lastSeq);
  }

  append(key: number, seq: number, slot: number, pos: Int32Array): void {
    if (this.length === this.capacity) this.#grow();
    const a = (this.head + this.length++) & WRAP;
    const c = 3 * (a & (this.capacity - 1));
    const cells = this.cells;
    cells[c] = key;
    cells[c + 1] = seq;
    cells[c + 2] = slot;
    pos[slot] = a << 1;
    this.lastKey = key;
    this.lastSeq = seq;
  }

  /** Offset in `cells` of the head; only meaningful when `length > 0`. */
  headCell(): number {
    return 3 * (this.head & (this.capacity - 1));
  }

  /** Removes the head (live by the invariant) and any tombstones behind it; returns its slot. */
  shift(): number {
    const cells = this.cells;
    const m = this.capacity - 1;
    let h = this.head;
    const top = cells[3 * (h & m) + 2] as number;
    let n = this.length - 1;
    h = (h + 1) & WRAP;
    while (n !== 0 && cells[3 * (h & m) + 2] === DEAD) {
      h = (h + 1) & WRAP;
      n--;
      this.dead--;
    }
    this.head = h;
    this.length = n;
    if (n === 0) {
      this.lastKey = Number.POSITIVE_INFINITY;
    } else if (n < this.capacity >> 2 && this.capacity > MIN_CAPACITY) {
      // Give memory back after a burst: halve once a quarter full, as the heaps do.
      this.#moveTo(this.capacity >> 1, undefined);
    }
    return top;
  }

  /** Removes the element at absolute index `a` (from `table.pos`, decoded). */
  kill(a: number, pos: Int32Array): void {
    if (a === this.head) {
      this.shift();
      return;
    }
    this.cells[3 * (a & (this.capacity - 1)) + 2] = DEAD;
    // Compact once tombstones are more than half the ring: O(length) paid for by > length/2
    // removals, so removal stays O(1) amortised and removed entries' cells do not pile up.
    if (++this.dead * 2 > this.length) {
      let capacity = this.capacity;
      while (capacity > MIN_CAPACITY && this.length - this.dead < capacity >> 2) capacity >>= 1;
      this.#moveTo(capacity, pos);
    }
  }

  reset(): void {
    this.cells = new Float64Array(3 * MIN_CAPACITY);
    this.capacity = MIN_CAPACITY;
    this.head = 0;
    this.length = 0;
    this.dead = 0;
    this.lastKey = Number.POSITIVE_INFINITY;
  }

  /**
   * Doubles the capacity. An element at absolute index `a` moves from cell `a mod n` to cell
   * `a mod 2n`: one block copy of everything, then the run whose index has bit `n` set moves up
   * by `n` (the live range is at most two runs, on either side of the physical end).
   */
  #grow(): void {
    const n = this.capacity;
    const cells = new Float64Array(6 * n);
    cells.set(this.cells);
    const hc = this.head & (n - 1);
    const first = Math.min(this.length, n - hc); // cells hc … hc + first − 1
    if ((this.head & n) !== 0) cells.copyWithin(3 * (n + hc), 3 * hc, 3 * (hc + first));
    else if (this.length > first) cells.copyWithin(3 * n, 0, 3 * (this.length - first));
    this.cells = cells;
    this.capacity = 2 * n;
  }

  /**
   * Copies the elements to a new array of `capacity` cells. With `pos`, drops the tombstones on
   * the way (live elements get new indexes, so `pos` is rewritten); without, keeps indexes.
   */
  #moveTo(capacity: number, pos: Int32Array | undefined): void {
    const from = this.cells;
    const to = new Float64Array(3 * capacity);
    const om = this.capacity - 1;
    const nm = capacity - 1;
    let w = this.head;
    for (let r = 0, a = this.head; r < this.length; r++, a = (a + 1) & WRAP) {
      const i = 3 * (a & om);
      const s = from[i + 2] as number;
      if (pos !== undefined) {
        if (s === DEAD) continue;
        pos[s] = w << 1;
      }
      const j = 3 * (w & nm);
      to[j] = from[i] as number;
      to[j + 1] = from[i + 1] as number;
      to[j + 2] = s;
      w = (w + 1) & WRAP;
    }
    this.cells = to;
    this.capacity = capacity;
    if (pos !== undefined) {
      this.length -= this.dead;
      this.dead = 0;
    }
  }
}

/**
 * The ready entries, ordered by `(key desc, seq asc)` exactly like a single heap would order them,
 * bucketed by priority level. `push` is O(1) amortised (O(log n) for an out-of-order arrival),
 * `pop` compares at most 11 level heads, `remove` is O(1) amortised (a tombstone) or O(log n)
 * (late lane). Slots' positions are kept in `table.pos`.
 * @internal
 */
export class BucketQueue {
  /** Live ready entries. */
  length = 0;
  /** Bit `l` is set while level `l` holds an entry. */
  #nonEmpty = 0;
  /** Each non-empty level's best entry, cached so `pop` scans 11 numbers, not 11 structures. */
  readonly #headKey = new Float64Array(LEVELS);
  readonly #headSeq = new Float64Array(LEVELS);
  /** 1 when that best entry is the top of the late lane, 0 when it is the ring's head. */
  readonly #headLate = new Uint8Array(LEVELS);
  readonly #rings: Ring[] = Array.from({ length: LEVELS }, () => new Ring());
  /** Late lanes, created on first use: most schedulers never need one. */
  readonly #late: (SlotHeap | undefined)[] = Array.from({ length: LEVELS }, () => undefined);
  readonly #table: SlotTable<unknown>;

  constructor(table: SlotTable<unknown>) {
    this.#table = table;
  }

  /** Queues `slot` at priority `level` (its `table.level` must already say so). */
  push(level: number, key: number, seq: number, slot: number): void {
    const ring = this.#rings[level] as Ring;
    let late = 0;
    if (ring.fits(key, seq)) {
      ring.append(key, seq, slot, this.#table.pos);
    } else {
      let heap = this.#late[level];
      if (heap === undefined) this.#late[level] = heap = new SlotHeap(this.#table, "late");
      heap.push(key, seq, slot);
      late = 1;
    }
    this.length++;
    const bit = 1 << level;
    const hk = this.#headKey[level] as number;
    // An append to a non-empty ring never beats the level's head; anything else may.
    if ((this.#nonEmpty & bit) === 0 || key > hk || (key === hk && seq < (this.#headSeq[level] as number))) {
      this.#nonEmpty |= bit;
      this.#headKey[level] = key;
      this.#headSeq[level] = seq;
      this.#headLate[level] = late;
    }
  }

  /** Removes the first entry; returns its slot, or −1 when empty. */
  pop(): number {
    const level = this.#best();
    if (level < 0) return -1;
    const slot = this.#headLate[level] === 1 ? (this.#late[level] as SlotHeap).pop() : (this.#rings[level] as Ring).shift();
    this.length--;
    this.#refresh(level);
    return slot;
  }

  /** The first entry's slot, or −1 when empty. */
  topSlot(): number {
    const level = this.#best();
    if (level < 0) return -1;
    if (this.#headLate[level] === 1) return (this.#late[level] as SlotHeap).topSlot();
    const ring = this.#rings[level] as Ring;
    return ring.cells[ring.headCell() + 2] as number;
  }

  /** Removes a queued slot (`table.pos[slot]` ≥ 0). */
  remove(slot: number): void {
    const table = this.#table;
    const level = table.level[slot] as number;
    const p = table.pos[slot] as number;
    if ((p & 1) === 1) (this.#late[level] as SlotHeap).removeAt(p >> 1);
    else (this.#rings[level] as Ring).kill(p >> 1, table.pos);
    this.length--;
    this.#refresh(level);
  }

  clear(): void {
    for (const ring of this.#rings) ring.reset();
    this.#late.fill(undefined);
    this.#nonEmpty = 0;
    this.length = 0;
  }

  /** The level holding the first entry, or −1. Starts at the top level: it usually wins. */
  #best(): number {
    let m = this.#nonEmpty;
    if (m === 0) return -1;
    const headKey = this.#headKey;
    const headSeq = this.#headSeq;
    let best = 31 - Math.clz32(m);
    let bk = headKey[best] as number;
    let bq = headSeq[best] as number;
    m ^= 1 << best;
    while (m !== 0) {
      const l = 31 - Math.clz32(m);
      m ^= 1 << l;
      const k = headKey[l] as number;
      if (k > bk || (k === bk && (headSeq[l] as number) < bq)) {
        best = l;
        bk = k;
        bq = headSeq[l] as number;
      }
    }
    return best;
  }

  /** Recomputes level `level`'s cached head after its first entry may have changed. */
  #refresh(level: number): void {
    const ring = this.#rings[level] as Ring;
    const heap = this.#late[level];
    const lateLive = heap !== undefined && heap.length !== 0;
    if (ring.length !== 0) {
      const c = ring.headCell();
      const k = ring.cells[c] as number;
      const q = ring.cells[c + 1] as number;
      if (lateLive) {
        const lk = heap.topKey();
        if (lk > k || (lk === k && heap.topSeq() < q)) {
          this.#setHead(level, lk, heap.topSeq(), 1);
          return;
        }
      }
      this.#setHead(level, k, q, 0);
    } else if (lateLive) {
      this.#setHead(level, heap.topKey(), heap.topSeq(), 1);
    } else {
      this.#nonEmpty &= ~(1 << level);
    }
  }

  #setHead(level: number, key: number, seq: number, late: number): void {
    this.#headKey[level] = key;
    this.#headSeq[level] = seq;
    this.#headLate[level] = late;
  }
}

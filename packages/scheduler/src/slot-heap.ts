// Struct-of-arrays storage: typed arrays keep the compares on contiguous memory (no pointer
// chasing, no per-entry objects for the GC to trace). The delayed heap and the ready queue's
// per-level late lanes are SlotHeaps; the ready queue's FIFO rings live in bucket-queue.ts.

/** Smallest capacity of a heap or ring; they never shrink below it. @internal */
export const MIN_CAPACITY = 64;

function grown<A extends Float64Array | Int32Array | Uint8Array>(old: A, capacity: number): A {
  const next = new (old.constructor as new (n: number) => A)(capacity);
  next.set(old.subarray(0, Math.min(old.length, capacity)));
  return next;
}

/**
 * Per-entry storage indexed by slot number, shared by the ready queue and the delayed heap.
 * `pos[slot]` says where the entry is, kept current on every move so removal by id needs no
 * search: `~i` at index `i` of the delayed heap (< 0), `2i + 1` at index `i` of its level's late
 * heap, `2a` at absolute index `a` of its level's FIFO ring. `level[slot]` is its priority and
 * `readyKey[slot]` its aging key (written for delayed entries only: the ready queue keeps its own
 * copy). Freed slots are reused (LIFO).
 * @internal
 */
export class SlotTable<T> {
  entries: (T | undefined)[] = [];
  pos: Int32Array = new Int32Array(MIN_CAPACITY);
  readyKey: Float64Array = new Float64Array(MIN_CAPACITY);
  level: Uint8Array = new Uint8Array(MIN_CAPACITY);
  #free: number[] = [];
  #next = 0;

  alloc(entry: T): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.#next++;
      if (slot === this.pos.length) {
        this.pos = grown(this.pos, slot * 2);
        this.readyKey = grown(this.readyKey, slot * 2);
        this.level = grown(this.level, slot * 2);
      }
    }
    this.entries[slot] = entry;
    return slot;
  }

  /** Frees a slot and drops the entry reference so a removed entry can be collected. */
  release(slot: number): void {
    this.entries[slot] = undefined;
    this.#free.push(slot);
  }

  reset(): void {
    this.entries = [];
    this.pos = new Int32Array(MIN_CAPACITY);
    this.readyKey = new Float64Array(MIN_CAPACITY);
    this.level = new Uint8Array(MIN_CAPACITY);
    this.#free = [];
    this.#next = 0;
  }
}

/**
 * A binary max-heap of slots ordered by `(key desc, seq asc)`: keys, sequence numbers and slots
 * live in parallel typed arrays indexed by heap position. Sifts move a hole instead of swapping.
 * Every move writes the slot's position to `table.pos`, encoded as {@link SlotTable} describes.
 * @internal
 */
export class SlotHeap {
  length = 0;
  #key: Float64Array = new Float64Array(MIN_CAPACITY);
  #seq: Float64Array = new Float64Array(MIN_CAPACITY);
  #slot: Int32Array = new Int32Array(MIN_CAPACITY);
  readonly #table: SlotTable<unknown>;
  /** `table.pos` gets `((i << #shift) | #tag) ^ #mask`: `~i` (delayed) or `2i + 1` (late lane). */
  readonly #shift: number;
  readonly #tag: number;
  readonly #mask: number;

  constructor(table: SlotTable<unknown>, lane: "delayed" | "late") {
    this.#table = table;
    const delayed = lane === "delayed";
    this.#shift = delayed ? 0 : 1;
    this.#tag = delayed ? 0 : 1;
    this.#mask = delayed ? -1 : 0;
  }

  /** Key of the top slot; only valid when `length > 0`. */
  topKey(): number {
    return this.#key[0] as number;
  }

  /** Sequence number of the top slot; only valid when `length > 0`. */
  topSeq(): number {
    return this.#seq[0] as number;
  }

  /** The top slot, or −1 when empty. */
  topSlot(): number {
    return this.length === 0 ? -1 : (this.#slot[0] as number);
  }

  push(key: number, seq: number, slot: number): void {
    const i = this.length++;
    if (i === this.#key.length) {
      const capacity = i * 2;
      this.#key = grown(this.#key, capacity);
      this.#seq = grown(this.#seq, capacity);
      this.#slot = grown(this.#slot, capacity);
    }
    this.#up(i, key, seq, slot);
  }

  /** Removes the top; returns its slot, or −1 when empty. */
  pop(): number {
    if (this.length === 0) return -1;
    const top = this.#slot[0] as number;
    this.#removeAt(0);
    return top;
  }

  /** Removes the slot at heap position `i` (from `table.pos`, decoded). */
  removeAt(i: number): void {
    this.#removeAt(i);
  }

  clear(): void {
    this.length = 0;
    this.#key = new Float64Array(MIN_CAPACITY);
    this.#seq = new Float64Array(MIN_CAPACITY);
    this.#slot = new Int32Array(MIN_CAPACITY);
  }

  #removeAt(i: number): void {
    const n = --this.length;
    // Give memory back after a burst: halve once the heap is a quarter full.
    if (n < this.#key.length >> 2 && this.#key.length > MIN_CAPACITY) {
      const capacity = this.#key.length >> 1;
      this.#key = grown(this.#key, capacity);
      this.#seq = grown(this.#seq, capacity);
      this.#slot = grown(this.#slot, capacity);
    }
    if (i === n) return;
    // The last element fills the hole; it may belong above or below it.
    const k = this.#key[n] as number;
    const q = this.#seq[n] as number;
    const s = this.#slot[n] as number;
    if (i > 0) {
      const p = (i - 1) >> 1;
      const pk = this.#key[p] as number;
      if (k > pk || (k === pk && q < (this.#seq[p] as number))) {
        this.#up(i, k, q, s);
        return;
      }
    }
    this.#down(i, k, q, s);
  }

  #up(i: number, k: number, q: number, s: number): void {
    const key = this.#key;
    const seq = this.#seq;
    const slot = this.#slot;
    const pos = this.#table.pos;
    const shift = this.#shift;
    const tag = this.#tag;
    const mask = this.#mask;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pk = key[p] as number;
      if (!(k > pk || (k === pk && q < (seq[p] as number)))) break;
      const ps = slot[p] as number;
      key[i] = pk;
      seq[i] = seq[p] as number;
      slot[i] = ps;
      pos[ps] = ((i << shift) | tag) ^ mask;
      i = p;
    }
    key[i] = k;
    seq[i] = q;
    slot[i] = s;
    pos[s] = ((i << shift) | tag) ^ mask;
  }

  #down(i: number, k: number, q: number, s: number): void {
    const key = this.#key;
    const seq = this.#seq;
    const slot = this.#slot;
    const pos = this.#table.pos;
    const shift = this.#shift;
    const tag = this.#tag;
    const mask = this.#mask;
    const n = this.length;
    const half = n >> 1;
    while (i < half) {
      let c = 2 * i + 1;
      let ck = key[c] as number;
      let cq = seq[c] as number;
      const r = c + 1;
      if (r < n) {
        const rk = key[r] as number;
        const rq = seq[r] as number;
        if (rk > ck || (rk === ck && rq < cq)) {
          c = r;
          ck = rk;
          cq = rq;
        }
      }
      if (!(ck > k || (ck === k && cq < q))) break;
      const cs = slot[c] as number;
      key[i] = ck;
      seq[i] = cq;
      slot[i] = cs;
      pos[cs] = ((i << shift) | tag) ^ mask;
      i = c;
    }
    key[i] = k;
    seq[i] = q;
    slot[i] = s;
    pos[s] = ((i << shift) | tag) ^ mask;
  }
}

// An indexed binary min-heap of objects, for FairScheduler's groups. Each item records its own
// index (and its heap), so a group that empties by `remove` leaves its heap in O(log n) without a
// search. Array of objects, not struct-of-arrays like slot-heap.ts: there is one item per group,
// not per entry, and the scheduler reads the group's fields anyway.

/** What a {@link GroupHeap} holds: the heap and index it is at, kept current by the heap. @internal */
export interface HeapItem {
  /** The heap holding the item, `undefined` when none does (typed by the item: a `GroupHeap` of its kind). */
  heap: object | undefined;
  /** Its index in that heap's array. */
  heapIndex: number;
}

/**
 * Binary min-heap ordered by `before` (a strict total order: the scheduler's keys are unique, so
 * the order items come out in never depends on the heap's shape). @internal
 */
export class GroupHeap<T extends HeapItem> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => boolean;

  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
  }

  get size(): number {
    return this.#items.length;
  }

  /** The first item, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    item.heap = this;
    this.#up(item, this.#items.length);
  }

  /** Removes and returns the first item. */
  pop(): T | undefined {
    const top = this.#items[0];
    if (top !== undefined) this.delete(top);
    return top;
  }

  /** Removes `item`, which this heap holds. */
  delete(item: T): void {
    const items = this.#items;
    const i = item.heapIndex;
    item.heap = undefined;
    const last = items.pop() as T;
    if (last === item) return;
    // The last item fills the hole, then moves whichever way its key sends it.
    if (i > 0 && this.#before(last, items[(i - 1) >> 1] as T)) this.#up(last, i);
    else this.#down(last, i);
  }

  /** Moves `item` up from the hole at `i` to its place. */
  #up(item: T, i: number): void {
    const items = this.#items;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p] as T;
      if (!this.#before(item, parent)) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  /** Moves `item` down from the hole at `i` to its place. */
  #down(item: T, i: number): void {
    const items = this.#items;
    const n = items.length;
    const half = n >> 1;
    while (i < half) {
      let c = 2 * i + 1;
      let child = items[c] as T;
      const r = c + 1;
      if (r < n && this.#before(items[r] as T, child)) {
        c = r;
        child = items[r] as T;
      }
      if (!this.#before(child, item)) break;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}

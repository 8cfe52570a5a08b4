// An indexed binary min-heap of objects, for FairScheduler's groups. Each item records its own
// index (and its heap), so a group that empties by `remove` leaves its heap in O(log n) without a
// search. Array of objects, not struct-of-arrays like slot-heap.ts: there is one item per group,
// not per entry, and the scheduler reads the group's fields anyway. The order is fixed, (heapKey,
// stamp), rather than a comparator passed in: FairScheduler's two heaps then share one
// monomorphic compare that V8 can inline (a comparator per heap makes it a polymorphic call).

/** What a {@link GroupHeap} holds: the heap and index it is at, kept current by the heap. @internal */
export interface HeapItem {
  /** The heap holding the item, `undefined` when none does (typed by the item: a `GroupHeap` of its kind). */
  heap: object | undefined;
  /** Its index in that heap's array. */
  heapIndex: number;
  /** Primary key, smaller first; set before the item is pushed and not changed while held. */
  heapKey: number;
  /** Tie-break, smaller first; unique among the items of one heap, and not changed while held either. */
  readonly stamp: number;
}

/** True when `a` goes before `b`. */
function before(a: HeapItem, b: HeapItem): boolean {
  return a.heapKey < b.heapKey || (a.heapKey === b.heapKey && a.stamp < b.stamp);
}

/**
 * Binary min-heap by (heapKey, stamp): a strict total order, as stamps are unique, so the order
 * items come out in never depends on the heap's shape. @internal
 */
export class GroupHeap<T extends HeapItem> {
  readonly #items: T[] = [];

  /** Items held. */
  get size(): number {
    return this.#items.length;
  }

  /** The first item, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Adds `item`, which no heap holds; its `heapKey` and `stamp` must be set. */
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

  /** Removes every item. */
  clear(): void {
    for (const item of this.#items) item.heap = undefined;
    this.#items.length = 0;
  }

  /** Removes `item`, which this heap holds. */
  delete(item: T): void {
    const items = this.#items;
    const i = item.heapIndex;
    item.heap = undefined;
    const last = items.pop() as T;
    if (last === item) return;
    // The last item fills the hole, then moves whichever way its key sends it.
    if (i > 0 && before(last, items[(i - 1) >> 1] as T)) this.#up(last, i);
    else this.#down(last, i);
  }

  /** Moves `item` up from the hole at `i` to its place, no higher than index `top`. */
  #up(item: T, i: number, top = 0): void {
    const items = this.#items;
    while (i > top) {
      const p = (i - 1) >> 1;
      const parent = items[p] as T;
      if (!before(item, parent)) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  /**
   * Moves `item` down from the hole at `i` to its place, bottom-up (Floyd): the hole goes down to
   * a leaf by the better child (one compare a level), then `item` rises from there. The item
   * filling a hole is the heap's last, which usually belongs near the bottom, so this is about
   * half the compares of testing it against both children at every level.
   */
  #down(item: T, i: number): void {
    const items = this.#items;
    const n = items.length;
    const top = i;
    for (let c = 2 * i + 1; c < n; c = 2 * i + 1) {
      if (c + 1 < n && before(items[c + 1] as T, items[c] as T)) c++;
      const child = items[c] as T;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    this.#up(item, i, top);
  }
}

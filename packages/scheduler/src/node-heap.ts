/**
 * One queued entry inside a {@link NodeHeap}. `pos` is its index in the heap array (−1 when
 * out), kept current on every move so removal by id is O(log n) without tombstones.
 * @internal
 */
export interface HeapNode<T> {
  readonly entry: T;
  /** Ordering key: higher first. */
  key: number;
  /** Push sequence number: lower first among equal keys (FIFO). */
  readonly seq: number;
  pos: number;
  /** The key this entry gets in the ready heap (delayed entries use `−runAt` meanwhile). */
  readonly readyKey: number;
}

/** True when `a` must come out before `b`. */
function before<T>(a: HeapNode<T>, b: HeapNode<T>): boolean {
  return a.key > b.key || (a.key === b.key && a.seq < b.seq);
}

/**
 * A binary max-heap of {@link HeapNode}s ordered by `(key desc, seq asc)`, backed by a plain
 * array. Sifts move a hole instead of swapping, so each level costs one write.
 * @internal
 */
export class NodeHeap<T> {
  readonly items: HeapNode<T>[] = [];

  get length(): number {
    return this.items.length;
  }

  peek(): HeapNode<T> | undefined {
    return this.items[0];
  }

  push(node: HeapNode<T>): void {
    const a = this.items;
    a.push(node);
    this.#up(a.length - 1, node);
  }

  pop(): HeapNode<T> | undefined {
    const a = this.items;
    const top = a[0];
    if (top === undefined) return undefined;
    const last = a.pop() as HeapNode<T>;
    if (last !== top) this.#down(0, last);
    top.pos = -1;
    return top;
  }

  /** Removes the node at `node.pos`; the caller guarantees it is in this heap. */
  remove(node: HeapNode<T>): void {
    const a = this.items;
    const i = node.pos;
    const last = a.pop() as HeapNode<T>;
    node.pos = -1;
    if (last === node) return;
    // The former last node fills the hole; it may belong above or below it.
    if (i > 0 && before(last, a[(i - 1) >> 1] as HeapNode<T>)) this.#up(i, last);
    else this.#down(i, last);
  }

  clear(): void {
    for (const n of this.items) n.pos = -1;
    this.items.length = 0;
  }

  #up(i: number, node: HeapNode<T>): void {
    const a = this.items;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p] as HeapNode<T>;
      if (!before(node, parent)) break;
      a[i] = parent;
      parent.pos = i;
      i = p;
    }
    a[i] = node;
    node.pos = i;
  }

  #down(i: number, node: HeapNode<T>): void {
    const a = this.items;
    const n = a.length;
    const half = n >> 1;
    while (i < half) {
      let c = 2 * i + 1;
      let child = a[c] as HeapNode<T>;
      const r = c + 1;
      if (r < n) {
        const right = a[r] as HeapNode<T>;
        if (before(right, child)) {
          c = r;
          child = right;
        }
      }
      if (!before(child, node)) break;
      a[i] = child;
      child.pos = i;
      i = c;
    }
    a[i] = node;
    node.pos = i;
  }
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * Claimed jobs waiting for a slot, per mode, in claim order (the store's priority-with-aging
 * order). A job leaves when it starts, goes to the flow gate, is handed back or is cancelled.
 * The lists are short (a mode's free slots plus its prefetch), so removal by search is fine.
 */
export class ClaimedWaiting<T extends { readonly mode: string }> {
  readonly #byMode = new Map<string, T[]>();
  #size = 0;

  /** Jobs waiting, over every mode. */
  get size(): number {
    return this.#size;
  }

  /** Jobs waiting in `mode`. */
  sizeOf(mode: string): number {
    return this.#byMode.get(mode)?.length ?? 0;
  }

  /** The jobs waiting in `mode`, in claim order (the list itself: read it, do not change it). */
  listOf(mode: string): readonly T[] {
    return this.#byMode.get(mode) ?? NONE;
  }

  /** The modes that have (or had) waiting jobs. */
  modes(): IterableIterator<string> {
    return this.#byMode.keys();
  }

  /** Adds a claimed job at the end of its mode's list. */
  push(item: T): void {
    let list = this.#byMode.get(item.mode);
    if (!list) {
      list = [];
      this.#byMode.set(item.mode, list);
    }
    list.push(item);
    this.#size++;
  }

  /** Every job waiting in `mode`, taken out, in claim order. */
  takeAll(mode: string): T[] {
    const list = this.#byMode.get(mode);
    if (list === undefined || list.length === 0) return [];
    this.#byMode.set(mode, []);
    this.#size -= list.length;
    return list;
  }

  /** The first job waiting in `mode`, taken out; `undefined` when none. */
  shift(mode: string): T | undefined {
    const item = this.#byMode.get(mode)?.shift();
    if (item !== undefined) this.#size--;
    return item;
  }

  /** Takes `item` out; false when it was not waiting. */
  remove(item: T): boolean {
    const list = this.#byMode.get(item.mode);
    const i = list?.indexOf(item) ?? -1;
    if (!list || i < 0) return false;
    list.splice(i, 1);
    this.#size--;
    return true;
  }

  /** Every waiting job, in mode then claim order (a copy: callers may remove while iterating). */
  all(): T[] {
    const out: T[] = [];
    for (const list of this.#byMode.values()) out.push(...list);
    return out;
  }
}

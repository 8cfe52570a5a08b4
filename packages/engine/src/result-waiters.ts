import type { Result } from "@pyrexis/models";

/** A `waitForResult` caller. */
interface Waiter {
  resolve(result: Result): void;
  reject(error: unknown): void;
}

/**
 * The callers of `waitForResult`, by job id. The engine settles them when a job it ran ends; with
 * a shared store it also asks the store for the results of jobs it does not hold ({@link ids}),
 * since another engine may have finished them.
 */
export class ResultWaiters {
  readonly #byId = new Map<string, Waiter[]>();

  /** Number of jobs waited for. */
  get size(): number {
    return this.#byId.size;
  }

  /** Ids of the jobs waited for. */
  ids(): string[] {
    return [...this.#byId.keys()];
  }

  /** True when someone waits for `id`. */
  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /**
   * Registers a waiter for `id`; returns its promise and a function that checks the store (call
   * it after registering, so a result written in between is not missed).
   */
  wait(
    id: string,
    signal: AbortSignal | undefined,
  ): { promise: Promise<Result>; settle: (result: Result | undefined, error?: unknown) => void } {
    let settleFn!: (result: Result | undefined, error?: unknown) => void;
    const promise = new Promise<Result>((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => finish(undefined, signal?.reason);
      const waiter: Waiter = { resolve: (r) => finish(r), reject: (e) => finish(undefined, e) };
      const finish = (r: Result | undefined, error?: unknown): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        this.#remove(id, waiter);
        if (r) resolve(r);
        else reject(error);
      };
      settleFn = finish;
      const list = this.#byId.get(id);
      if (list) list.push(waiter);
      else this.#byId.set(id, [waiter]);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    return { promise, settle: settleFn };
  }

  /** Resolves every waiter of `id` with `result`, or rejects them with `error`. */
  settle(id: string, result: Result | undefined, error: unknown): void {
    const list = this.#byId.get(id);
    if (!list) return;
    this.#byId.delete(id);
    for (const w of list) {
      if (result) w.resolve(result);
      else w.reject(error);
    }
  }

  /** Rejects every waiter with `errorOf(id)`. */
  rejectAll(errorOf: (id: string) => unknown): void {
    for (const id of this.ids()) this.settle(id, undefined, errorOf(id));
  }

  #remove(id: string, waiter: Waiter): void {
    const list = this.#byId.get(id);
    if (!list) return;
    const i = list.indexOf(waiter);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#byId.delete(id);
  }
}

// Shared test utilities (not a test file).

/** An async source you push into by hand; counts how many items were pulled. */
export interface Channel<T> extends AsyncIterable<T> {
  push(item: T): void;
  end(): void;
  readonly pulled: number;
  readonly closed: boolean;
}

export function channel<T>(): Channel<T> {
  const queue: T[] = [];
  let ended = false;
  let closed = false;
  let pulled = 0;
  let waiter: (() => void) | undefined;
  const wake = (): void => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };
  return {
    push(item: T) {
      queue.push(item);
      wake();
    },
    end() {
      ended = true;
      wake();
    },
    get pulled() {
      return pulled;
    },
    get closed() {
      return closed;
    },
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          if (queue.length > 0) {
            pulled++;
            yield queue.shift()!;
            continue;
          }
          if (ended) return;
          await new Promise<void>((r) => (waiter = r));
        }
      } finally {
        closed = true;
      }
    },
  };
}

/** Resolves after `n` microtask hops: deterministic "async work" without timers. */
export async function hops(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

export async function* range(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** True once `p` has settled (checked after the current microtasks drain). */
export function tracked<T>(p: Promise<T>): { readonly settled: boolean; readonly value: T | undefined } {
  const state: { settled: boolean; value: T | undefined } = { settled: false, value: undefined };
  p.then(
    (v) => {
      state.settled = true;
      state.value = v;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}

// Stream helpers. Each returns a TransformStage: usable as a pipeline stage and, called directly,
// as a lazy transform over any (async) iterable. All are pull-based: nothing is read from the
// source until the consumer asks, and at most a bounded number of items is read ahead.
import type { AnyIterable, TransformStage } from "./types.js";
import { type ItemFn, type StreamEnv, asyncIteratorOf, closeQuietly, isStreamSource, isThenable, throwIfAborted } from "./internal.js";
import { implStage, opStage } from "./stage.js";

/** Options of {@link map}. */
export interface MapOptions {
  /** Calls of `fn` in flight at once (default 1). Also the read-ahead bound on the source. */
  readonly concurrency?: number;
  /** Emit results in input order (default `true`); `false` emits each as soon as it is ready. */
  readonly ordered?: boolean;
  /** Stage name (default: `fn.name`, else `"map"`). */
  readonly name?: string;
}

/** Options of the single-callback helpers. */
export interface HelperOptions {
  /** Stage name (default: the callback's name, else the helper's name). */
  readonly name?: string;
}

/** Options of {@link batch}. */
export interface BatchOptions {
  /**
   * Emit a partial batch once its first item has waited this long (ms), so a slow source still
   * makes progress. Default: wait until the batch is full or the source ends.
   */
  readonly maxWaitMs?: number;
  /** Stage name (default `"batch"`). */
  readonly name?: string;
}

/**
 * Maps each item through `fn` (sync or async). With `concurrency > 1`, up to that many calls run
 * at once and the source is read at most `concurrency` items ahead of the consumer. `fn` receives
 * the item's 0-based index and an `AbortSignal` that aborts when the run stops.
 *
 * @example
 * ```ts
 * const embed = map(async (text: string, _i, signal) => callModel(text, { signal }), { concurrency: 16 });
 * for await (const vector of embed(texts)) console.log(vector);
 * ```
 */
export function map<T, R>(
  fn: (item: T, index: number, signal: AbortSignal) => R | PromiseLike<R>,
  options: MapOptions = {},
): TransformStage<T, R> {
  assertFunction(fn, "map");
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`map: concurrency must be an integer >= 1, got ${concurrency}`);
  }
  const name = options.name ?? (fn.name || "map");
  if (concurrency === 1) return opStage(name, { kind: "map", fn: fn });
  const ordered = options.ordered ?? true;
  return implStage(name, (source, env) => mapConcurrent(source, fn as ItemFn<unknown>, concurrency, ordered, env));
}

/**
 * Keeps the items for which `predicate` (sync or async) is truthy.
 *
 * @example
 * ```ts
 * const nonEmpty = filter((s: string) => s.length > 0);
 * ```
 */
export function filter<T, S extends T>(
  predicate: (item: T, index: number, signal: AbortSignal) => item is S,
  options?: HelperOptions,
): TransformStage<T, S>;
export function filter<T>(
  predicate: (item: T, index: number, signal: AbortSignal) => unknown,
  options?: HelperOptions,
): TransformStage<T, T>;
export function filter<T>(
  predicate: (item: T, index: number, signal: AbortSignal) => unknown,
  options: HelperOptions = {},
): TransformStage<T, T> {
  assertFunction(predicate, "filter");
  return opStage(options.name ?? (predicate.name || "filter"), { kind: "filter", fn: predicate });
}

/**
 * Calls `fn` (sync or async; awaited) for each item and passes the item on unchanged: for
 * logging, side effects, counting.
 */
export function tap<T>(fn: (item: T, index: number, signal: AbortSignal) => unknown, options: HelperOptions = {}): TransformStage<T, T> {
  assertFunction(fn, "tap");
  return opStage(options.name ?? (fn.name || "tap"), { kind: "tap", fn: fn });
}

/**
 * Passes the first `count` items, then stops reading the source (its `return()` is called, so a
 * generator source runs its `finally`).
 */
export function take<T>(count: number, options: HelperOptions = {}): TransformStage<T, T> {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`take: count must be an integer >= 0, got ${count}`);
  return opStage(options.name ?? "take", { kind: "take", count });
}

/**
 * Maps each item to an iterable or async iterable (or a promise of one) and emits its items in
 * order. The inner stream is read lazily too.
 */
export function flatMap<T, R>(
  fn: (item: T, index: number, signal: AbortSignal) => AnyIterable<R> | PromiseLike<AnyIterable<R>>,
  options: HelperOptions = {},
): TransformStage<T, R> {
  assertFunction(fn, "flatMap");
  return implStage(options.name ?? (fn.name || "flatMap"), (source, env) => flatMapImpl(source, fn as ItemFn<unknown>, env));
}

/**
 * Groups items into arrays of `size` (the last may be shorter). With `maxWaitMs`, a partial batch
 * is emitted once its first item has waited that long. Holds at most one batch in memory.
 *
 * @example
 * ```ts
 * pipeline(batch(32, { maxWaitMs: 50 }), map(runModelOnBatch, { concurrency: 2 }))
 * ```
 */
export function batch<T>(size: number, options: BatchOptions = {}): TransformStage<T, T[]> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch: size must be an integer >= 1, got ${size}`);
  const { maxWaitMs } = options;
  if (maxWaitMs !== undefined && !(Number.isFinite(maxWaitMs) && maxWaitMs >= 0)) {
    throw new RangeError(`batch: maxWaitMs must be a finite number >= 0, got ${maxWaitMs}`);
  }
  return implStage(options.name ?? "batch", (source, env) =>
    maxWaitMs === undefined ? batchBySize(source, size, env) : batchWithWait(source, size, maxWaitMs, env),
  );
}

function assertFunction(fn: unknown, helper: string): void {
  if (typeof fn !== "function") throw new TypeError(`${helper}: callback must be a function`);
}

const NONE: unique symbol = Symbol("none");
const WOKE: unique symbol = Symbol("woke");

async function* mapConcurrent(
  source: AnyIterable<unknown>,
  fn: ItemFn<unknown>,
  concurrency: number,
  ordered: boolean,
  env: StreamEnv,
): AsyncGenerator<unknown, void, undefined> {
  const { signal, scope } = env;
  throwIfAborted(signal);
  const it = asyncIteratorOf(source);
  // Aborted when we stop early, so calls still in flight can give up.
  const calls = new AbortController();
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onAbort = (): void => notify();
  signal.addEventListener("abort", onAbort, { once: true });

  let pulled = 0; // items read from the source (or being read): in flight + buffered
  let emitted = 0;
  let pulling: Promise<void> | undefined;
  let sourceDone = false;
  let closed = false;
  let failure: { error: unknown } | undefined;
  const results = new Map<number, unknown>(); // ordered: by index, until their turn
  const ready: unknown[] = []; // unordered: in completion order

  const startCall = (item: unknown, i: number): void => {
    let p: PromiseLike<unknown>;
    try {
      const r = fn(item as never, i, calls.signal);
      p = isThenable(r) ? r : Promise.resolve(r);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (v) => {
        if (closed) return;
        if (ordered) results.set(i, v);
        else ready.push(v);
        notify();
      },
      (e: unknown) => {
        failure ??= { error: scope.wrap(e, env.name, env.stageIndex, i) };
        notify();
      },
    );
  };

  const pull = (): void => {
    const i = pulled++;
    pulling = Promise.resolve()
      .then(() => it.next())
      .then(
        (r) => {
          pulling = undefined;
          if (r.done) {
            sourceDone = true;
            pulled--;
          } else if (!closed) startCall(r.value, i);
          notify();
        },
        (e: unknown) => {
          pulling = undefined;
          sourceDone = true;
          pulled--;
          failure ??= { error: e };
          notify();
        },
      );
  };

  try {
    for (;;) {
      throwIfAborted(signal);
      if (failure) throw failure.error;
      // Start the next read before emitting, so calls keep running while the consumer works.
      if (!sourceDone && pulling === undefined && pulled - emitted < concurrency) pull();
      let next: unknown = NONE;
      if (ordered) {
        if (results.has(emitted)) {
          next = results.get(emitted);
          results.delete(emitted);
        }
      } else if (ready.length > 0) {
        next = ready.shift();
      }
      if (next !== NONE) {
        emitted++;
        yield next;
        continue;
      }
      if (sourceDone && pulling === undefined && pulled === emitted) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    closed = true;
    signal.removeEventListener("abort", onAbort);
    if (pulled !== emitted) calls.abort(signal.aborted ? signal.reason : undefined);
    if (!sourceDone) {
      // Never wait on a read still pending: the source may never answer.
      if (pulling) void pulling.then(() => closeQuietly(it));
      else await closeQuietly(it);
    }
  }
}

async function* flatMapImpl(source: AnyIterable<unknown>, fn: ItemFn<unknown>, env: StreamEnv): AsyncGenerator<unknown, void, undefined> {
  const { signal, scope } = env;
  throwIfAborted(signal);
  let i = 0;
  for await (const item of source) {
    const index = i++;
    try {
      let inner = fn(item as never, index, signal);
      if (isThenable(inner)) inner = await inner;
      if (!isStreamSource(inner)) throw new TypeError("flatMap: callback must return an iterable or async iterable");
      for await (const v of inner) {
        yield v;
        throwIfAborted(signal);
      }
    } catch (e) {
      throw scope.wrap(e, env.name, env.stageIndex, index);
    }
    throwIfAborted(signal);
  }
}

async function* batchBySize(source: AnyIterable<unknown>, size: number, env: StreamEnv): AsyncGenerator<unknown[], void, undefined> {
  const { signal } = env;
  throwIfAborted(signal);
  let buf: unknown[] = [];
  for await (const item of source) {
    buf.push(item);
    if (buf.length >= size) {
      const out = buf;
      buf = [];
      yield out;
    }
    throwIfAborted(signal);
  }
  if (buf.length > 0) yield buf;
}

async function* batchWithWait(
  source: AnyIterable<unknown>,
  size: number,
  maxWaitMs: number,
  env: StreamEnv,
): AsyncGenerator<unknown[], void, undefined> {
  const { signal } = env;
  throwIfAborted(signal);
  const it = asyncIteratorOf(source);
  let buf: unknown[] = [];
  let pending: Promise<IteratorResult<unknown>> | undefined;
  let sourceDone = false;
  // Global setTimeout on purpose: fake timers (vi.useFakeTimers) drive it in tests.
  let timer: ReturnType<typeof setTimeout> | undefined;
  let due = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  signal.addEventListener("abort", notify, { once: true });
  try {
    for (;;) {
      throwIfAborted(signal);
      if (due) {
        due = false;
        const out = buf;
        buf = [];
        yield out;
        continue;
      }
      pending ??= Promise.resolve().then(() => it.next());
      const r = await Promise.race([
        pending,
        new Promise<typeof WOKE>((resolve) => {
          wake = () => resolve(WOKE);
        }),
      ]);
      wake = undefined;
      if (r === WOKE) continue; // the timer fired or the signal aborted: handled above
      pending = undefined;
      if (r.done) {
        sourceDone = true;
        break;
      }
      buf.push(r.value);
      if (buf.length === 1) {
        timer = setTimeout(() => {
          timer = undefined;
          due = true;
          notify();
        }, maxWaitMs);
      }
      if (buf.length >= size) {
        clearTimeout(timer);
        timer = undefined;
        const out = buf;
        buf = [];
        yield out;
      }
    }
    clearTimeout(timer);
    timer = undefined;
    if (buf.length > 0) yield buf;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", notify);
    if (!sourceDone) {
      // A read still pending: close after it answers (a rejected read means the source is done).
      if (pending)
        void pending.then(
          () => closeQuietly(it),
          () => undefined,
        );
      else await closeQuietly(it);
    }
  }
}

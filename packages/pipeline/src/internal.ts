// Internal plumbing shared by the helpers and the runner. Not exported from the package entry.
import { setImmediate as realSetImmediate } from "node:timers";
import { PipelineStageError } from "./errors.js";
import type { AnyIterable, MetricsSink, StageContext, StageProgress } from "./types.js";

/** Name of the timing every stage run records (label `stage`). */
export const STAGE_METRIC = "pipeline.stage";

/** A step that can run fused with its neighbours in one loop, without a generator per stage. */
export type FusedOp =
  | { readonly kind: "map"; readonly fn: ItemFn<unknown> }
  | { readonly kind: "filter"; readonly fn: ItemFn<unknown> }
  | { readonly kind: "tap"; readonly fn: ItemFn<unknown> }
  | { readonly kind: "take"; readonly count: number };

/** Callback shape of the item helpers. */
export type ItemFn<R> = (item: never, index: number, signal: AbortSignal) => R;

/** How the runner wires a stream stage. */
export interface StreamEnv {
  readonly name: string;
  readonly stageIndex: number | undefined;
  readonly signal: AbortSignal;
  readonly scope: ErrorScope;
}

/** A helper's own implementation over a source, attributing its errors itself. */
export type StreamImpl = (source: AnyIterable<unknown>, env: StreamEnv) => AsyncIterable<unknown>;

/** Hidden description of a marked stage. `Symbol.for` so a second copy of the package agrees. */
export interface StageMeta {
  readonly kind: "value" | "transform";
  readonly name: string;
  /** Value stage function, or a user transform `(source, ctx) => AsyncIterable`. */
  readonly fn?: (input: never, ctx: StageContext) => unknown;
  readonly op?: FusedOp;
  readonly impl?: StreamImpl;
}

export const META: unique symbol = Symbol.for("pyrexis.pipeline.stage");

export function metaOf(fn: unknown): StageMeta | undefined {
  if (typeof fn !== "function") return undefined;
  return (fn as unknown as { [META]?: StageMeta })[META];
}

/** Attaches `meta` plus the public `stageKind`/`stageName`/`name` properties to `fn`. */
export function brand<F extends object>(fn: F, meta: StageMeta): F {
  Object.defineProperty(fn, META, { value: meta });
  Object.defineProperty(fn, "name", { value: meta.name, configurable: true });
  if (meta.kind === "transform") {
    Object.defineProperty(fn, "stageKind", { value: "transform", enumerable: true });
  }
  Object.defineProperty(fn, "stageName", { value: meta.name, enumerable: true });
  return fn;
}

const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** Stage context for a helper used outside a pipeline. */
export function standaloneEnv(name: string, ctx: StageContext | undefined): StreamEnv {
  const signal = ctx?.signal ?? NEVER_ABORTED;
  return { name: ctx?.stage ?? name, stageIndex: ctx?.index, signal, scope: new ErrorScope(signal) };
}

/**
 * Turns errors into {@link PipelineStageError}s exactly once: errors it produced itself (from an
 * earlier stage of the same run) and the abort reason pass through unchanged.
 */
export class ErrorScope {
  readonly #produced = new WeakSet<object>();
  readonly #signal: AbortSignal;

  constructor(signal: AbortSignal) {
    this.#signal = signal;
  }

  /** True when `e` must propagate unchanged. */
  passes(e: unknown): boolean {
    if (this.#signal.aborted && e === this.#signal.reason) return true;
    return typeof e === "object" && e !== null && this.#produced.has(e);
  }

  /** Wraps `e` as a failure of stage `name` (unless it passes through). */
  wrap(e: unknown, name: string, stageIndex: number | undefined, index?: number): unknown {
    if (this.passes(e)) return e;
    const err = new PipelineStageError(name, e, index === undefined ? { stageIndex } : { stageIndex, index });
    this.#produced.add(err);
    return err;
  }
}

/** Who produced a stream: errors its iterator throws are reported under this stage. */
export interface SourceLabel {
  readonly name: string;
  readonly stageIndex: number | undefined;
}

/** Per-stage counters, throttled progress reports and the stage timing. */
export class StageTracker {
  itemsIn = 0;
  itemsOut = 0;
  readonly name: string;
  readonly index: number;
  readonly #onProgress: ((p: StageProgress) => void) | undefined;
  readonly #metrics: MetricsSink | undefined;
  readonly #intervalMs: number;
  #ticks = 0;
  #nextCheck: number;
  #stride = 1;
  #ticksAtReport = 0;
  #startedAt: number | undefined;
  #lastReport = 0;
  #finished = false;

  constructor(
    name: string,
    index: number,
    onProgress: ((p: StageProgress) => void) | undefined,
    metrics: MetricsSink | undefined,
    intervalMs: number,
  ) {
    this.name = name;
    this.index = index;
    this.#onProgress = onProgress;
    this.#metrics = metrics;
    this.#intervalMs = intervalMs;
    // Without a hook the per-item check never fires, so progress costs one compare per item.
    this.#nextCheck = onProgress ? 1 : Number.POSITIVE_INFINITY;
  }

  /** False when nobody listens: callers may skip {@link tick}. */
  get reporting(): boolean {
    return this.#onProgress !== undefined;
  }

  start(): void {
    if (this.#startedAt !== undefined) return;
    this.#startedAt = performance.now();
    this.#lastReport = this.#startedAt;
  }

  /** Call once per item moved. Reads the clock only every `#stride` items (adaptive). */
  tick(): void {
    if (++this.#ticks >= this.#nextCheck) this.#check();
  }

  #check(): void {
    const now = performance.now();
    const elapsed = now - this.#lastReport;
    const ticks = this.#ticks - this.#ticksAtReport;
    if (elapsed >= this.#intervalMs) {
      this.#lastReport = now;
      this.#ticksAtReport = this.#ticks;
      this.report(false);
    }
    // Aim for about four clock reads per interval at the observed rate: a report is then at most
    // a quarter interval late, and a fast stream reads the clock once per thousands of items.
    // Growing at most 2× per read keeps a burst from stretching the stride over a slow phase.
    const target = elapsed > 0 ? Math.floor(((ticks / elapsed) * this.#intervalMs) / 4) : Number.POSITIVE_INFINITY;
    this.#stride = Math.max(1, Math.min(target, this.#stride * 2, 4096));
    this.#nextCheck = this.#ticks + this.#stride;
  }

  report(done: boolean): void {
    this.#onProgress?.({ stage: this.name, index: this.index, itemsIn: this.itemsIn, itemsOut: this.itemsOut, done });
  }

  /** Final report and timing; idempotent. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.report(true);
    if (this.#startedAt !== undefined) {
      this.#metrics?.observe(STAGE_METRIC, performance.now() - this.#startedAt, { stage: this.name });
    }
  }
}

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as { then?: unknown }).then === "function";
}

export function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return v !== null && typeof v === "object" && typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}

/** True for what a stream stage accepts: async or sync iterables, but not strings. */
export function isStreamSource(v: unknown): v is AnyIterable<unknown> {
  if (v === null || (typeof v !== "object" && typeof v !== "function")) return false;
  const o = v as { [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown };
  return typeof o[Symbol.asyncIterator] === "function" || typeof o[Symbol.iterator] === "function";
}

/** The async iterator of an async or sync iterable (sync ones through an async generator). */
export function asyncIteratorOf<T>(source: AnyIterable<T>): AsyncIterator<T> {
  if (isAsyncIterable(source)) return (source as AsyncIterable<T>)[Symbol.asyncIterator]();
  return fromSync(source as Iterable<T>);
}

async function* fromSync<T>(source: Iterable<T>): AsyncGenerator<T, void, undefined> {
  yield* source;
}

/**
 * Settles like `promise`, or rejects with `signal.reason` as soon as `signal` aborts. One listener
 * per call, removed on settle, so it is meant for whole stages, not for every item.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(noop);
    return Promise.reject(signal.reason as unknown);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      promise.catch(noop);
      reject(signal.reason as unknown);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);

        reject(e);
      },
    );
  });
}

/**
 * Waits for `promise` to settle, but no longer than the current macrotask: cleanup that is only
 * promise work (generators' `finally`, `return()` chains) completes; cleanup blocked on I/O or on
 * code that ignores the signal does not hold the caller. Uses the real `setImmediate` so fake
 * timers in tests do not stall it.
 */
export function settleSoon(promise: Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = realSetImmediate(resolve);
    promise.then(
      () => {
        clearImmediate(t);
        resolve();
      },
      () => {
        clearImmediate(t);
        resolve();
      },
    );
  });
}

/** Calls `iterator.return()` (if any), never throwing. */
export async function closeQuietly(iterator: { return?: () => unknown } | undefined): Promise<void> {
  try {
    await iterator?.return?.();
  } catch {
    // The stream already failed or finished; the run reports its own error.
  }
}

export function noop(): void {}

/** Throws `signal.reason` when aborted (reason typed as unknown, as thrown values are). */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason as unknown;
}

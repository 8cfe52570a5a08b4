import { BatchOutputMismatchError, InvalidBatchOptionsError, type Clock, type ClockTimer } from "@pyrexis/models";

/**
 * How a batching handler groups jobs: up to `maxSize` ready jobs of one handler (and one `key`)
 * go to one call, or fewer once the oldest waited `maxWaitMs` (by the engine's `Clock`).
 */
export interface BatchOptions<P = unknown> {
  /** Most jobs in one call: an integer ≥ 1. */
  readonly maxSize: number;
  /** Longest a job waits for its batch to fill: a finite number ≥ 0 (0 flushes at once). */
  readonly maxWaitMs: number;
  /** The batch key of a job (jobs of different keys never share a call); one key when absent. */
  readonly key?: (payload: P, jobId: string) => string;
}

/** What became of one job of a batch call: its output, or the error its attempt fails with. */
export type BatchItemOutcome = { readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly error: Error };

/**
 * Checks a handler's batch options; throws `InvalidBatchOptionsError` (naming the handler and
 * every bad field) for bad ones, so nothing is registered.
 */
export function validateBatchOptions(handler: string, options: BatchOptions<never>): void {
  const issues: { path: (string | number)[]; message: string }[] = [];
  if (typeof options !== "object" || options === null) {
    throw new InvalidBatchOptionsError(handler, [{ path: ["batch"], message: "must be an object { maxSize, maxWaitMs, key? }" }]);
  }
  if (!Number.isInteger(options.maxSize) || options.maxSize < 1)
    issues.push({ path: ["batch", "maxSize"], message: `must be an integer >= 1, got ${String(options.maxSize)}` });
  if (typeof options.maxWaitMs !== "number" || !Number.isFinite(options.maxWaitMs) || options.maxWaitMs < 0) {
    issues.push({ path: ["batch", "maxWaitMs"], message: `must be a finite number >= 0, got ${String(options.maxWaitMs)}` });
  }
  if (options.key !== undefined && typeof options.key !== "function")
    issues.push({ path: ["batch", "key"], message: "must be a function of (payload, jobId) returning a string" });
  if (issues.length > 0) throw new InvalidBatchOptionsError(handler, issues);
}

/**
 * Maps what a batching handler returned to one outcome per job, in order. An `Error` in a slot
 * fails that job alone (its own retries apply); any other value is that job's output. Anything
 * but an array of exactly `count` values fails every job with `BatchOutputMismatchError`.
 */
export function splitBatchOutputs(handler: string, count: number, outputs: unknown): BatchItemOutcome[] {
  if (!Array.isArray(outputs) || outputs.length !== count) {
    const error = new BatchOutputMismatchError(handler, count, Array.isArray(outputs) ? outputs.length : -1);
    return Array.from({ length: count }, () => ({ ok: false, error }));
  }
  return outputs.map((output: unknown) => (output instanceof Error ? { ok: false, error: output } : { ok: true, output }));
}

interface Pending<T> {
  readonly items: T[];
  timer: ClockTimer | undefined;
}

/**
 * Collects ready jobs of one batching handler into batches, one open batch per key: a batch is
 * handed to `flush` as soon as it holds `maxSize` jobs, or `maxWaitMs` after its first job came
 * (a timer of the injected clock). Keys never mix. Not tied to a store: the engine adds jobs it
 * has durably started, so each job's attempt is counted before its batch runs.
 */
export class BatchAssembler<T extends { readonly jobId: string; readonly payload: unknown }> {
  readonly #options: BatchOptions;
  readonly #clock: Clock;
  readonly #flush: (key: string, items: T[]) => void;
  readonly #open = new Map<string, Pending<T>>();

  constructor(handler: string, options: BatchOptions<never>, clock: Clock, flush: (key: string, items: T[]) => void) {
    validateBatchOptions(handler, options);
    this.#options = options as BatchOptions;
    this.#clock = clock;
    this.#flush = flush;
  }

  /** Jobs waiting in open batches. */
  get waiting(): number {
    let n = 0;
    for (const p of this.#open.values()) n += p.items.length;
    return n;
  }

  /** Adds a job to the open batch of its key, flushing that batch when it is full. */
  add(item: T): void {
    const key = this.#options.key ? this.#options.key(item.payload, item.jobId) : "";
    let pending = this.#open.get(key);
    if (!pending) {
      pending = { items: [], timer: undefined };
      this.#open.set(key, pending);
      if (this.#options.maxSize > 1 && this.#options.maxWaitMs > 0) {
        pending.timer = this.#clock.setTimeout(() => this.#flushKey(key), this.#options.maxWaitMs);
      }
    }
    pending.items.push(item);
    if (pending.items.length >= this.#options.maxSize || pending.timer === undefined) this.#flushKey(key);
  }

  /** Removes a job that has not been handed to its handler yet (it was cancelled); true if found. */
  remove(jobId: string): boolean {
    for (const [key, pending] of this.#open) {
      const i = pending.items.findIndex((it) => it.jobId === jobId);
      if (i < 0) continue;
      pending.items.splice(i, 1);
      if (pending.items.length === 0) {
        this.#clock.clearTimeout(pending.timer);
        this.#open.delete(key);
      }
      return true;
    }
    return false;
  }

  /** Flushes every open batch now (at shutdown). */
  flushAll(): void {
    for (const key of [...this.#open.keys()]) this.#flushKey(key);
  }

  #flushKey(key: string): void {
    const pending = this.#open.get(key);
    if (!pending) return;
    this.#open.delete(key);
    this.#clock.clearTimeout(pending.timer);
    this.#flush(key, pending.items);
  }
}

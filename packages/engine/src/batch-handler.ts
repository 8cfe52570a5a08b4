import type { HandlerContext, Logger } from "@pyrexis/executors";
import { NonRetryableError } from "@pyrexis/models";
import { validateBatchOptions, type BatchOptions } from "./batching.js";

/** One job of a batch call: what a batching handler receives per job, in batch order. */
export interface BatchItem<P = unknown> {
  readonly jobId: string;
  readonly payload: P;
  /** 1 for the job's first attempt (each job keeps its own attempts). */
  readonly attempt: number;
}

/** What a batching handler receives beside its items. */
export interface BatchContext {
  /** The handler's name. */
  readonly handler: string;
  /**
   * Aborted once every job of the call has been aborted (each job's cancel, timeout or lost
   * lease ends that job alone at once; the call goes on for the others and its output for an
   * aborted job is dropped). `signal.reason` is the last job's reason.
   */
  readonly signal: AbortSignal;
  /**
   * Reports progress of one job of the call (`value` a JSON value, else this throws a
   * `ValidationError`); calls for a job not in the call, or after it ended, are dropped.
   */
  progress(jobId: string, value: unknown): void;
  /** `ctx.charge` of one job of the call: its real usage on one of its limits (see `HandlerContext.charge`). */
  charge(jobId: string, units: number, key?: string): void;
  /** Logs with `handler` and `batchSize` bound, to the engine's logger. */
  readonly logger: Logger;
}

/**
 * The function of a batching handler: one output per item, in order. An `Error` in a slot fails
 * that job's attempt alone (its own retries apply); anything else is that job's output (a JSON
 * value; `undefined` becomes `null`). Throwing fails every job of the call.
 */
export type BatchFunction<P = unknown, O = unknown> = (
  items: readonly BatchItem<P>[],
  ctx: BatchContext,
) => readonly (O | Error)[] | Promise<readonly (O | Error)[]>;

/** What {@link batchHandler} attaches to the handler it returns. */
export interface BatchDefinition<P = unknown, O = unknown> {
  readonly options: BatchOptions<P>;
  readonly run: BatchFunction<P, O>;
}

const BATCH: unique symbol = Symbol.for("pyrexis.batchHandler");

/**
 * A batching handler: it fits in a handler map (so it can sit beside other handlers and in a
 * handlers module) and carries its batch definition. Called as a per-job handler it throws:
 * only the engine runs it, in async mode.
 */
export type BatchHandler<P = unknown, O = unknown> = ((payload: unknown, ctx: HandlerContext) => never) & {
  readonly [BATCH]: BatchDefinition<P, O>;
};

/**
 * Declares a batching handler: the engine hands `run` up to `options.maxSize` ready jobs of this
 * handler (and of one `options.key`) at once, or fewer once the first of them waited
 * `options.maxWaitMs`. Each job keeps its own attempts, timeout, retries and result. Async mode
 * only: submitting one of its jobs in another mode is refused. Throws `InvalidBatchOptionsError`
 * for bad options.
 *
 * @example
 * ```ts
 * const engine = await createEngine({
 *   handlers: {
 *     embed: batchHandler({ maxSize: 64, maxWaitMs: 20 }, async (items: readonly BatchItem<{ text: string }>[], ctx) => {
 *       const vectors = await embedMany(items.map((item) => item.payload.text), { signal: ctx.signal });
 *       return vectors; // one per item, in order; an Error in a slot fails that job alone
 *     }),
 *   },
 * });
 * ```
 */
export function batchHandler<P = unknown, O = unknown>(options: BatchOptions<P>, run: BatchFunction<P, O>): BatchHandler<P, O> {
  validateBatchOptions("(batchHandler)", options);
  if (typeof run !== "function") throw new TypeError("batchHandler: run must be a function of (items, ctx)");
  const handler = (): never => {
    throw new NonRetryableError("a batching handler runs only through the engine, which hands it many jobs at once (async mode)");
  };
  const definition: BatchDefinition<P, O> = Object.freeze({ options: Object.freeze({ ...options }), run });
  return Object.assign(handler, { [BATCH]: definition });
}

/** The batch definition of a handler made by {@link batchHandler}; `undefined` for any other value. */
export function batchDefinitionOf(handler: unknown): BatchDefinition | undefined {
  if (typeof handler !== "function") return undefined;
  return (handler as Partial<BatchHandler>)[BATCH];
}

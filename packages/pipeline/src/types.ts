/** Anything a stream stage can read from: an async or a sync iterable (strings excluded). */
export type AnyIterable<T> = AsyncIterable<T> | Iterable<T>;

/**
 * What every stage receives as its second argument.
 *
 * `signal` aborts when the run is cancelled (or when another stage failed); long work should pass
 * it on (`fetch(url, { signal })`).
 */
export interface StageContext {
  readonly signal: AbortSignal;
  /** This stage's name. */
  readonly stage: string;
  /** This stage's position in the pipeline (0-based). */
  readonly index: number;
  /** Copied from the handler context when the pipeline runs as a job handler. */
  readonly jobId?: string;
  /** Copied from the handler context when the pipeline runs as a job handler. */
  readonly attempt?: number;
}

/**
 * A stage of one value: gets the previous stage's output (or the payload), returns its own,
 * synchronously or as a promise. When the previous stage is a stream stage, the value is the lazy
 * `AsyncIterable` of its items.
 *
 * @example
 * ```ts
 * const tokenize: ValueStage<string, string[]> = (text) => text.split(/\s+/);
 * ```
 */
export type ValueStage<I, O> = (input: I, ctx: StageContext) => O | PromiseLike<O>;

/**
 * A stream stage: maps a stream of items to a stream of items, lazily. Make one with
 * {@link transform} or a helper ({@link map}, {@link batch}, …). It is also a plain function, so it
 * can be used outside a pipeline: `for await (const x of map(f)(source)) …`.
 */
export interface TransformStage<I, O> {
  (source: AnyIterable<I>, ctx?: StageContext): AsyncIterable<O>;
  /** Marks a stream stage (functions cannot be told apart reliably otherwise). */
  readonly stageKind: "transform";
  /** The stage's name, used in progress, metrics and errors. */
  readonly stageName: string;
}

/** A stage of either kind, as accepted by {@link pipeline} and {@link runPipeline}. */
export type AnyStage = ValueStage<never, unknown> | TransformStage<never, unknown>;

/**
 * A progress report of one stage. Sent through `ctx.progress` / `onProgress`, throttled per stage
 * (see `progressIntervalMs`), and always once more with `done: true` when the stage ends.
 */
export interface StageProgress {
  /** Stage name. */
  readonly stage: string;
  /** Stage position in the pipeline (0-based). */
  readonly index: number;
  /** Items the stage has read so far (1 for a value stage). */
  readonly itemsIn: number;
  /** Items the stage has produced so far (1 for a finished value stage). */
  readonly itemsOut: number;
  /** True on the stage's last report. */
  readonly done: boolean;
}

/**
 * Where stage timings go. `@pyrexis/metrics`' `MetricsRegistry` satisfies it structurally; any
 * object with this method works.
 */
export interface MetricsSink {
  observe(name: string, ms: number, labels?: Readonly<Record<string, string>>): void;
}

/** The context a job handler receives from an executor (the slice a pipeline uses). */
export interface PipelineContext {
  readonly signal?: AbortSignal;
  /** Receives {@link StageProgress} reports. */
  readonly progress?: (value: unknown) => void;
  readonly jobId?: string;
  readonly attempt?: number;
}

/** Options fixed when a pipeline handler is created. */
export interface PipelineOptions {
  /** Receives one `pipeline.stage` timing per stage run, labelled `{ stage: name }`. */
  readonly metrics?: MetricsSink;
  /**
   * Minimum time between two progress reports of one stream stage (default 100 ms); the final
   * report of each stage is always sent. `0` reports every item.
   */
  readonly progressIntervalMs?: number;
}

/** Options of one {@link runPipeline} call. */
export interface RunOptions extends PipelineOptions {
  /** Aborting it stops the run; the run rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Receives {@link StageProgress} reports. */
  readonly onProgress?: (progress: StageProgress) => void;
  /** Passed on to every stage's context. */
  readonly jobId?: string;
  /** Passed on to every stage's context. */
  readonly attempt?: number;
}

/**
 * One stage's result, as {@link runPipeline} yields it once the stage has finished.
 *
 * `output` is the value the stage returned; for a stream stage that feeds another stage it is
 * `undefined` (its items went on to the next stage and were not kept); for a stream stage that is
 * the last stage it is the collected array.
 */
export interface StageResult {
  readonly stage: string;
  readonly index: number;
  readonly output: unknown;
  readonly itemsIn: number;
  readonly itemsOut: number;
}

/** The job output type of a pipeline whose last stage outputs `T`: streams are collected. */
export type PipelineOutput<T> = T extends AsyncIterable<infer U> ? U[] : T;

/**
 * A pipeline as a job handler: a plain function, so it can live in a handlers module and run on
 * any executor (in-process, worker thread, child process).
 */
export type PipelineHandler<I, O> = (payload: I, ctx?: PipelineContext) => Promise<O>;

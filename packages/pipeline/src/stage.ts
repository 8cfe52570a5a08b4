import type { AnyIterable, AnyStage, StageContext, TransformStage, ValueStage } from "./types.js";
import { type FusedOp, type StageMeta, type StreamImpl, StageTracker, brand, metaOf, standaloneEnv } from "./internal.js";
import { FusedGroup } from "./fused.js";

/**
 * Marks an async-generator function (or any function returning an async iterable) as a stream
 * stage. Stream stages must be marked: a function's kind cannot be told reliably at run time
 * (transpiled generators are plain functions), so an unmarked function is always a value stage.
 * The stage is named after `fn` unless renamed with {@link stage}.
 *
 * @example
 * ```ts
 * const words = transform(async function* words(lines: AsyncIterable<string>) {
 *   for await (const line of lines) yield* line.split(" ");
 * });
 * ```
 */
export function transform<I, O>(fn: (source: AsyncIterable<I>, ctx: StageContext) => AsyncIterable<O>): TransformStage<I, O> {
  if (typeof fn !== "function") throw new TypeError("transform(fn): fn must be a function");
  const name = fn.name || "transform";
  const wrapper = (source: AnyIterable<I>, ctx?: StageContext): AsyncIterable<O> => fn(toAsync(source), ctx ?? standaloneContext(name));
  return brand(wrapper, { kind: "transform", name, fn: fn as StageMeta["fn"] }) as unknown as TransformStage<I, O>;
}

/**
 * Names a stage (value or stream) for progress reports, metrics labels and errors. Returns a new
 * stage; `fn` is not modified.
 *
 * @example
 * ```ts
 * pipeline(stage("tokenize", (s: string) => s.split(" ")), stage("embed", map(embed, { concurrency: 8 })))
 * ```
 */
export function stage<I, O>(name: string, fn: TransformStage<I, O>): TransformStage<I, O>;
export function stage<I, O>(name: string, fn: (input: I, ctx: StageContext) => O): (input: I, ctx: StageContext) => O;
export function stage<S extends AnyStage>(name: string, fn: S): S {
  if (typeof name !== "string" || name === "") throw new TypeError("stage(name, fn): name must be a non-empty string");
  if (typeof fn !== "function") throw new TypeError(`stage("${name}", fn): fn must be a function`);
  const meta = metaOf(fn);
  if (meta?.kind === "transform") {
    const wrapper = (source: AnyIterable<unknown>, ctx?: StageContext): AsyncIterable<unknown> =>
      (fn as unknown as TransformStage<unknown, unknown>)(source, ctx ?? standaloneContext(name));
    return brand(wrapper, { ...meta, name }) as unknown as S;
  }
  assertNotGenerator(fn, name);
  const inner = (meta?.fn ?? fn) as (input: unknown, ctx: StageContext) => unknown;
  const wrapper = (input: unknown, ctx: StageContext): unknown => inner(input, ctx);
  return brand(wrapper, { kind: "value", name, fn: inner }) as unknown as S;
}

/** A stream stage whose items go through fusable step `op`. */
export function opStage<I, O>(name: string, op: FusedOp): TransformStage<I, O> {
  const wrapper = (source: AnyIterable<I>, ctx?: StageContext): AsyncIterable<O> => {
    const env = standaloneEnv(name, ctx);
    const tracker = new StageTracker(env.name, env.stageIndex ?? 0, undefined, undefined, 0);
    const group = new FusedGroup([{ op, tracker, stageIndex: env.stageIndex }], env.signal, env.scope);
    return group.stream(source, undefined) as AsyncIterable<O>;
  };
  return brand(wrapper, { kind: "transform", name, op }) as unknown as TransformStage<I, O>;
}

/** A stream stage implemented by a helper that attributes its own errors. */
export function implStage<I, O>(name: string, impl: StreamImpl): TransformStage<I, O> {
  const wrapper = (source: AnyIterable<I>, ctx?: StageContext): AsyncIterable<O> =>
    impl(source, standaloneEnv(name, ctx)) as AsyncIterable<O>;
  return brand(wrapper, { kind: "transform", name, impl }) as unknown as TransformStage<I, O>;
}

/** A stage as the runner sees it. */
export interface StageDef {
  readonly kind: "value" | "transform";
  readonly name: string;
  readonly index: number;
  readonly fn?: (input: never, ctx: StageContext) => unknown;
  readonly op?: FusedOp;
  readonly impl?: StreamImpl;
}

/** Validates stages and reads their kind and name. Throws `TypeError` on misuse. */
export function normalizeStages(stages: readonly AnyStage[]): StageDef[] {
  const list: unknown = stages;
  if (!Array.isArray(list) || list.length === 0) throw new TypeError("a pipeline needs at least one stage");
  return (list as unknown[]).map((s, index): StageDef => {
    if (typeof s !== "function") throw new TypeError(`pipeline stage #${index} is not a function`);
    const meta = metaOf(s);
    if (meta) return { ...meta, index };
    const name = s.name || `stage${index}`;
    assertNotGenerator(s, name);
    return { kind: "value", name, index, fn: s as ValueStage<never, unknown> };
  });
}

function assertNotGenerator(fn: unknown, name: string): void {
  if (Object.prototype.toString.call(fn) === "[object AsyncGeneratorFunction]") {
    throw new TypeError(`pipeline stage "${name}" is an async generator function; wrap it with transform() to make it a stream stage`);
  }
}

function standaloneContext(name: string): StageContext {
  return { signal: standaloneEnv(name, undefined).signal, stage: name, index: 0 };
}

async function* syncToAsync<T>(source: Iterable<T>): AsyncGenerator<T, void, undefined> {
  yield* source;
}

function toAsync<T>(source: AnyIterable<T>): AsyncIterable<T> {
  return Symbol.asyncIterator in source ? source : syncToAsync(source);
}

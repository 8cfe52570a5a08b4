import type {
  AnyIterable,
  AnyStage,
  PipelineContext,
  PipelineHandler,
  PipelineOptions,
  PipelineOutput,
  RunOptions,
  StageContext,
  StageResult,
  ValueStage,
} from "./types.js";
import {
  ErrorScope,
  type SourceLabel,
  StageTracker,
  type StreamEnv,
  closeQuietly,
  isAsyncIterable,
  isStreamSource,
  raceAbort,
  settleSoon,
  throwIfAborted,
} from "./internal.js";
import { FusedGroup } from "./fused.js";
import { type StageDef, normalizeStages } from "./stage.js";

/** Default minimum time between two progress reports of one stream stage. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 100;

/**
 * Runs `stages` over `input` and yields each stage's {@link StageResult} in stage order, once the
 * stage has finished; the last one holds the job output. Lazy: nothing runs until you iterate.
 *
 * - A value stage gets the previous output (a lazy `AsyncIterable` if that was a stream stage).
 * - A run of stream stages reads the previous output as a stream (an array, iterable or async
 *   iterable); items flow through them one at a time, nothing is collected in between. When the
 *   last stage is a stream stage (or returns an async iterable), its items are collected into an
 *   array: that is the output.
 * - Aborting `signal` stops reading, closes every stream (generators' `finally` run, the source's
 *   `return()` is called) and rejects with `signal.reason`.
 * - A failing stage rejects the run with a {@link PipelineStageError} naming it (and the item).
 *
 * @example
 * ```ts
 * for await (const { stage, output } of runPipeline([parse, map(embed), summarize], input)) {
 *   console.log(stage, output);
 * }
 * ```
 */
export function runPipeline(
  stages: readonly AnyStage[],
  input: unknown,
  options: RunOptions = {},
): AsyncGenerator<StageResult, void, undefined> {
  const defs = normalizeStages(stages);
  const intervalMs = options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
  if (!(intervalMs >= 0)) throw new RangeError(`progressIntervalMs must be >= 0, got ${intervalMs}`);
  return run(defs, input, options, intervalMs);
}

/** A run of consecutive stream stages, wired lazily. */
interface Segment {
  readonly defs: readonly StageDef[];
  readonly trackers: readonly StageTracker[];
  /** Lazy output of the segment (when it feeds a value stage). */
  stream?: AsyncGenerator<unknown, void, undefined>;
}

async function* run(
  defs: readonly StageDef[],
  input: unknown,
  options: RunOptions,
  intervalMs: number,
): AsyncGenerator<StageResult, void, undefined> {
  const outer = options.signal;
  if (outer?.aborted) throw outer.reason as unknown;
  // The stages' signal: follows `outer`, and also aborts when the run fails or is abandoned, so
  // work still in flight (concurrent map calls) can stop.
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(outer?.reason);
  outer?.addEventListener("abort", onAbort, { once: true });
  const signal = controller.signal;
  const scope = new ErrorScope(signal);
  const track = (d: StageDef): StageTracker => new StageTracker(d.name, d.index, options.onProgress, options.metrics, intervalMs);
  const contextOf = (d: StageDef): StageContext => {
    const ctx: { -readonly [K in keyof StageContext]: StageContext[K] } = { signal, stage: d.name, index: d.index };
    if (options.jobId !== undefined) ctx.jobId = options.jobId;
    if (options.attempt !== undefined) ctx.attempt = options.attempt;
    return ctx;
  };

  let open: Segment | undefined; // a segment whose stream a value stage is consuming
  let consumed: Segment | undefined; // that segment, once the value stage is done with it
  let completed = false;
  try {
    let current: unknown = input;
    let label: SourceLabel = { name: "input", stageIndex: -1 };
    let i = 0;
    while (i < defs.length) {
      const d = defs[i]!;
      const isLast = i === defs.length - 1;
      if (d.kind === "value") {
        const t = track(d);
        t.start();
        t.itemsIn = 1;
        t.report(false);
        let output: unknown;
        try {
          output = await raceAbort(callValue(d, current, contextOf(d)), signal);
          if (isLast && isAsyncIterable(output)) {
            output = await raceAbort(drainStream(output, [], signal), signal);
          }
        } catch (e) {
          // A failed call is a stage run too: its timing and final report, as stream stages give.
          t.finish();
          throw scope.wrap(e, d.name, d.index);
        } finally {
          // The stream this stage read (if any) ends with it: close it whether the stage read it
          // all, part of it or failed (unless the stage passed it on as its output).
          if (open) {
            consumed = open;
            open = undefined;
            if (consumed.stream !== output) await settleSoon(closeQuietly(consumed.stream));
            for (const st of consumed.trackers) st.finish();
          }
        }
        if (consumed) yield* segmentResults(consumed, undefined);
        consumed = undefined;
        t.itemsOut = 1;
        t.finish();
        yield { stage: d.name, index: d.index, output, itemsIn: 1, itemsOut: 1 };
        current = output;
        label = { name: d.name, stageIndex: d.index };
        i++;
        continue;
      }

      let j = i;
      while (j < defs.length && defs[j]!.kind === "transform") j++;
      if (!isStreamSource(current)) {
        throw scope.wrap(
          new TypeError(`stream stage expects an array, iterable or async iterable input, got ${describeType(current)}`),
          d.name,
          d.index,
        );
      }
      const segDefs = defs.slice(i, j);
      const seg: Segment = { defs: segDefs, trackers: segDefs.map(track) };
      const wiring = { signal, scope, contextOf };
      if (j === defs.length) {
        const out: unknown[] = [];
        const drained = drainSegment(seg, current, label, out, wiring);
        try {
          await raceAbort(drained, signal);
        } catch (e) {
          // Let promise-only cleanup (finally blocks, return() chains) finish before rejecting.
          if (signal.aborted) await settleSoon(drained);
          throw e;
        } finally {
          for (const st of seg.trackers) st.finish();
        }
        yield* segmentResults(seg, out);
        completed = true;
        return;
      }
      seg.stream = wireSegment(seg, current, label, wiring);
      open = seg;
      current = seg.stream;
      i = j;
    }
    completed = true;
  } catch (e) {
    throw outer?.aborted ? (outer.reason as unknown) : e;
  } finally {
    outer?.removeEventListener("abort", onAbort);
    if (!completed && !signal.aborted) controller.abort();
    if (open) await settleSoon(closeQuietly(open.stream));
  }
}

function* segmentResults(seg: Segment, finalOutput: unknown[] | undefined): Generator<StageResult, void, undefined> {
  for (let k = 0; k < seg.defs.length; k++) {
    const d = seg.defs[k]!;
    const t = seg.trackers[k]!;
    const output = k === seg.defs.length - 1 ? finalOutput : undefined;
    yield { stage: d.name, index: d.index, output, itemsIn: t.itemsIn, itemsOut: t.itemsOut };
  }
}

async function callValue(d: StageDef, input: unknown, ctx: StageContext): Promise<unknown> {
  return (d.fn as ValueStage<unknown, unknown>)(input, ctx);
}

interface Wiring {
  readonly signal: AbortSignal;
  readonly scope: ErrorScope;
  readonly contextOf: (d: StageDef) => StageContext;
}

/** A unit of a segment: consecutive fusable helpers, or one other stream stage. */
type Unit = { readonly group: FusedGroup } | { readonly def: StageDef; readonly tracker: StageTracker };

function unitsOf(seg: Segment, w: Wiring): Unit[] {
  const units: Unit[] = [];
  let k = 0;
  while (k < seg.defs.length) {
    if (seg.defs[k]!.op === undefined) {
      units.push({ def: seg.defs[k]!, tracker: seg.trackers[k]! });
      k++;
      continue;
    }
    const members = [];
    while (k < seg.defs.length && seg.defs[k]!.op !== undefined) {
      const d = seg.defs[k]!;
      members.push({ op: d.op!, tracker: seg.trackers[k]!, stageIndex: d.index });
      k++;
    }
    units.push({ group: new FusedGroup(members, w.signal, w.scope) });
  }
  return units;
}

function labelOf(unit: Unit): SourceLabel {
  if ("group" in unit) {
    const ts = unit.group.trackers;
    const last = ts[ts.length - 1]!;
    return { name: last.name, stageIndex: last.index };
  }
  return { name: unit.def.name, stageIndex: unit.def.index };
}

function wireUnit(unit: Unit, source: AnyIterable<unknown>, label: SourceLabel, w: Wiring): AsyncGenerator<unknown, void, undefined> {
  return "group" in unit ? unit.group.stream(source, label) : streamUnit(unit.def, unit.tracker, source, label, w);
}

/** Wires all units of `seg` lazily; returns the last unit's stream. */
function wireSegment(seg: Segment, source: AnyIterable<unknown>, label: SourceLabel, w: Wiring): AsyncGenerator<unknown, void, undefined> {
  let src: AnyIterable<unknown> = source;
  let lbl = label;
  let last: AsyncGenerator<unknown, void, undefined> | undefined;
  for (const unit of unitsOf(seg, w)) {
    last = wireUnit(unit, src, lbl, w);
    src = last;
    lbl = labelOf(unit);
  }
  return last!;
}

/** Runs the final segment, collecting into `out`. The last fused group runs without a generator. */
async function drainSegment(seg: Segment, source: AnyIterable<unknown>, label: SourceLabel, out: unknown[], w: Wiring): Promise<void> {
  const units = unitsOf(seg, w);
  let src: AnyIterable<unknown> = source;
  let lbl = label;
  for (let k = 0; k < units.length - 1; k++) {
    src = wireUnit(units[k]!, src, lbl, w);
    lbl = labelOf(units[k]!);
  }
  const final = units[units.length - 1]!;
  if ("group" in final) {
    await final.group.drainInto(src, lbl, out);
  } else {
    await drainStream(wireUnit(final, src, lbl, w), out, w.signal);
  }
}

async function drainStream(stream: AsyncIterable<unknown>, out: unknown[], signal: AbortSignal): Promise<unknown[]> {
  throwIfAborted(signal);
  for await (const v of stream) {
    out.push(v);
    throwIfAborted(signal);
  }
  return out;
}

/** Counts what a stream stage reads; errors of the stream it reads are reported under `label`. */
async function* countIn(
  source: AnyIterable<unknown>,
  t: StageTracker,
  label: SourceLabel,
  w: Wiring,
): AsyncGenerator<unknown, void, undefined> {
  let read = 0;
  try {
    throwIfAborted(w.signal);
    for await (const item of source) {
      read++;
      t.itemsIn++;
      t.tick();
      yield item;
      throwIfAborted(w.signal);
    }
  } catch (e) {
    throw w.scope.wrap(e, label.name, label.stageIndex, read);
  }
}

/** Runs one non-fused stream stage: counts items both ways, times it, attributes its errors. */
async function* streamUnit(
  d: StageDef,
  t: StageTracker,
  source: AnyIterable<unknown>,
  label: SourceLabel,
  w: Wiring,
): AsyncGenerator<unknown, void, undefined> {
  t.start();
  try {
    const input = countIn(source, t, label, w);
    let produced: unknown;
    if (d.impl) {
      const env: StreamEnv = { name: d.name, stageIndex: d.index, signal: w.signal, scope: w.scope };
      produced = d.impl(input, env);
    } else {
      produced = (d.fn as (s: AsyncIterable<unknown>, ctx: StageContext) => unknown)(input, w.contextOf(d));
    }
    if (!isStreamSource(produced)) {
      throw new TypeError(`stream stage must return an async iterable, got ${describeType(produced)}`);
    }
    for await (const item of produced) {
      t.itemsOut++;
      t.tick();
      yield item;
      throwIfAborted(w.signal);
    }
  } catch (e) {
    // For a hand-written transform, the item is the last one it read.
    throw w.scope.wrap(e, d.name, d.index, t.itemsIn > 0 ? t.itemsIn - 1 : undefined);
  } finally {
    t.finish();
  }
}

function describeType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

/**
 * Builds a job handler from stages, with options (metrics sink, progress interval). Progress goes
 * to `ctx.progress`, cancellation comes from `ctx.signal`. See {@link pipeline}.
 *
 * @example
 * ```ts
 * export const handlers = { ingest: createPipeline([parse, map(embed, { concurrency: 8 })], { metrics }) };
 * ```
 */
export function createPipeline(stages: readonly AnyStage[], options: PipelineOptions = {}): PipelineHandler<unknown, unknown> {
  normalizeStages(stages); // fail on misuse now, not at the first job
  const list = [...stages];
  return async (payload: unknown, ctx?: PipelineContext): Promise<unknown> => {
    const run: RunOptions = {
      ...options,
      ...(ctx?.signal ? { signal: ctx.signal } : {}),
      ...(ctx?.progress ? { onProgress: ctx.progress } : {}),
      ...(ctx?.jobId !== undefined ? { jobId: ctx.jobId } : {}),
      ...(ctx?.attempt !== undefined ? { attempt: ctx.attempt } : {}),
    };
    let output: unknown;
    for await (const result of runPipeline(list, payload, run)) output = result.output;
    return output;
  };
}

type Step<I, O> = (input: I, ctx: StageContext) => O | PromiseLike<O>;

/**
 * Builds a job handler `(payload, ctx) => Promise<output>` from stages, run in order. A stage is a
 * function of one value (sync or async) or a stream stage ({@link transform}, {@link map},
 * {@link batch}, …). The output is the last stage's output (collected into an array when that is
 * a stream). A plain function: define it in a handlers module and any executor can run it.
 *
 * @example
 * ```ts
 * export const handlers = {
 *   embedAll: pipeline(
 *     (p: { texts: string[] }) => p.texts,
 *     batch(32),
 *     map(async (texts: string[]) => embedBatch(texts), { concurrency: 4 }),
 *   ),
 * };
 * ```
 */
export function pipeline<A, B>(s1: Step<A, B>): PipelineHandler<A, PipelineOutput<B>>;
export function pipeline<A, B, C>(s1: Step<A, B>, s2: Step<B, C>): PipelineHandler<A, PipelineOutput<C>>;
export function pipeline<A, B, C, D>(s1: Step<A, B>, s2: Step<B, C>, s3: Step<C, D>): PipelineHandler<A, PipelineOutput<D>>;
export function pipeline<A, B, C, D, E>(
  s1: Step<A, B>,
  s2: Step<B, C>,
  s3: Step<C, D>,
  s4: Step<D, E>,
): PipelineHandler<A, PipelineOutput<E>>;
export function pipeline<A, B, C, D, E, F>(
  s1: Step<A, B>,
  s2: Step<B, C>,
  s3: Step<C, D>,
  s4: Step<D, E>,
  s5: Step<E, F>,
): PipelineHandler<A, PipelineOutput<F>>;
export function pipeline<A, B, C, D, E, F, G>(
  s1: Step<A, B>,
  s2: Step<B, C>,
  s3: Step<C, D>,
  s4: Step<D, E>,
  s5: Step<E, F>,
  s6: Step<F, G>,
): PipelineHandler<A, PipelineOutput<G>>;
export function pipeline(...stages: AnyStage[]): PipelineHandler<unknown, unknown>;
export function pipeline(...stages: AnyStage[]): PipelineHandler<unknown, unknown> {
  return createPipeline(stages);
}

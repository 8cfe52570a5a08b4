// Consecutive item helpers (sequential map, filter, tap, take) run fused: one loop applies them
// all to each item, so a three-stage pipeline costs one async iteration per item, not three.
import type { AnyIterable } from "./types.js";
import {
  type ErrorScope,
  type FusedOp,
  type SourceLabel,
  type StageTracker,
  isThenable,
  throwIfAborted,
} from "./internal.js";

/** Returned by {@link FusedGroup.apply} for an item a filter dropped. */
export const SKIP: unique symbol = Symbol("skip");

/** One stage of a fused group: its step, its counters and the name errors carry. */
export interface FusedMember {
  readonly op: FusedOp;
  readonly tracker: StageTracker;
  readonly stageIndex: number | undefined;
}

/** Applies a run of fused steps to items; knows exactly which step and item failed. */
export class FusedGroup {
  readonly #members: readonly FusedMember[];
  readonly #signal: AbortSignal;
  readonly #scope: ErrorScope;
  /** Set once a `take` has passed its last item: the loop stops pulling. */
  done: boolean;

  constructor(members: readonly FusedMember[], signal: AbortSignal, scope: ErrorScope) {
    this.#members = members;
    this.#signal = signal;
    this.#scope = scope;
    this.done = members.some((m) => m.op.kind === "take" && m.op.count <= 0);
  }

  get trackers(): StageTracker[] {
    return this.#members.map((m) => m.tracker);
  }

  /** The output for `item`, {@link SKIP}, or a promise of either (only when a step was async). */
  apply(item: unknown): unknown {
    return this.#from(item, 0);
  }

  #from(value: unknown, start: number): unknown {
    const members = this.#members;
    let v = value;
    for (let k = start; k < members.length; k++) {
      const m = members[k]!;
      const t = m.tracker;
      const i = t.itemsIn++;
      const op = m.op;
      if (op.kind === "take") {
        if (i + 1 >= op.count) this.done = true;
      } else {
        let r: unknown;
        try {
          r = op.fn(v as never, i, this.#signal);
        } catch (e) {
          throw this.#scope.wrap(e, t.name, m.stageIndex, i);
        }
        if (isThenable(r)) return this.#resume(r, k, i, v);
        if (op.kind === "map") v = r;
        else if (op.kind === "filter" && !r) {
          t.tick();
          return SKIP;
        }
      }
      t.itemsOut++;
      t.tick();
    }
    return v;
  }

  async #resume(pending: PromiseLike<unknown>, k: number, i: number, input: unknown): Promise<unknown> {
    const m = this.#members[k]!;
    let r: unknown;
    try {
      r = await pending;
    } catch (e) {
      throw this.#scope.wrap(e, m.tracker.name, m.stageIndex, i);
    }
    let v = input;
    if (m.op.kind === "map") v = r;
    else if (m.op.kind === "filter" && !r) {
      m.tracker.tick();
      return SKIP;
    }
    m.tracker.itemsOut++;
    m.tracker.tick();
    return this.#from(v, k + 1);
  }

  /**
   * Runs the group over `source`, pushing each output onto `out` (the collecting form, used for
   * the last stages of a pipeline, so no generator sits between the loop and the result).
   */
  async drainInto(source: AnyIterable<unknown>, label: SourceLabel | undefined, out: unknown[]): Promise<void> {
    if (this.done) return;
    throwIfAborted(this.#signal);
    this.#start();
    let read = 0;
    try {
      for await (const item of source) {
        read++;
        let r = this.apply(item);
        if (isThenable(r)) r = await r;
        if (r !== SKIP) out.push(r);
        if (this.done) break;
        throwIfAborted(this.#signal);
      }
    } catch (e) {
      throw label ? this.#scope.wrap(e, label.name, label.stageIndex, read) : e;
    } finally {
      this.#finish();
    }
  }

  /** Runs the group over `source` as a lazy stream (for groups that feed another stage). */
  async *stream(source: AnyIterable<unknown>, label: SourceLabel | undefined): AsyncGenerator<unknown, void, undefined> {
    if (this.done) return;
    throwIfAborted(this.#signal);
    this.#start();
    let read = 0;
    try {
      for await (const item of source) {
        read++;
        let r = this.apply(item);
        if (isThenable(r)) r = await r;
        if (r !== SKIP) yield r;
        if (this.done) break;
        throwIfAborted(this.#signal);
      }
    } catch (e) {
      throw label ? this.#scope.wrap(e, label.name, label.stageIndex, read) : e;
    } finally {
      this.#finish();
    }
  }

  #start(): void {
    for (const m of this.#members) m.tracker.start();
  }

  #finish(): void {
    for (const m of this.#members) m.tracker.finish();
  }
}

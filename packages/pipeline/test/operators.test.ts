import { afterEach, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { PipelineStageError, batch, filter, flatMap, map, pipeline, take, tap } from "../src/index.js";
import { channel, collect, hops, range, tracked } from "./helpers.js";

// Fixed seed so a failure replays; printed so a run can be reproduced with another one.
const SEED = Number(process.env.FC_SEED ?? 20_251_126);
console.log(`fast-check seed: ${SEED}`);

describe("map", () => {
  it("with concurrency never has more than `concurrency` calls in flight nor reads further ahead", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 60 }),
        fc.integer({ min: 0, max: 5 }),
        async (concurrency, ordered, delays, consumerDelay) => {
          let inFlight = 0;
          let maxInFlight = 0;
          let pulled = 0;
          let consumed = 0;
          let maxLead = 0;
          async function* source(): AsyncGenerator<number> {
            for (let i = 0; i < delays.length; i++) {
              pulled++;
              maxLead = Math.max(maxLead, pulled - consumed);
              yield i;
            }
          }
          const m = map(
            async (i: number) => {
              inFlight++;
              maxInFlight = Math.max(maxInFlight, inFlight);
              await hops(delays[i]!);
              inFlight--;
              return i * 10;
            },
            { concurrency, ordered },
          );
          const out = await pipeline(m)(source());
          // Same through the helper used on its own, with a slow consumer that counts what it got.
          pulled = 0;
          maxLead = 0;
          const standalone: number[] = [];
          for await (const x of m(source())) {
            consumed++;
            standalone.push(x);
            await hops(consumerDelay);
          }
          const expected = delays.map((_, i) => i * 10);
          for (const got of [out, standalone]) {
            if (ordered) expect(got).toEqual(expected);
            else expect([...got].sort((a, b) => a - b)).toEqual(expected);
          }
          expect(maxInFlight).toBeLessThanOrEqual(concurrency);
          expect(maxLead).toBeLessThanOrEqual(concurrency);
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });

  it("with concurrency > 1 overlaps calls, and unordered emits in completion order", async () => {
    // Every call waits until all four have started: this only finishes if they overlap.
    let started = 0;
    let finished = 0;
    let allStarted!: () => void;
    let othersDone!: () => void;
    const allStartedP = new Promise<void>((r) => (allStarted = r));
    const othersDoneP = new Promise<void>((r) => (othersDone = r));
    const m = map(
      async (x: number) => {
        if (++started === 4) allStarted();
        await allStartedP;
        if (x === 0) await othersDoneP;
        else if (++finished === 3) othersDone();
        return x;
      },
      { concurrency: 4, ordered: false },
    );
    expect(await collect(m([0, 1, 2, 3]))).toEqual([1, 2, 3, 0]);
    // The same calls, ordered: input order despite completion order.
    started = 0;
    finished = 0;
    const ordered = map(
      async (x: number) => {
        await hops(10 - x * 3);
        return x;
      },
      { concurrency: 4 },
    );
    expect(await collect(ordered([0, 1, 2, 3]))).toEqual([0, 1, 2, 3]);
  });

  it("passes the index and a signal that aborts calls still in flight when the stream stops", async () => {
    const signals: AbortSignal[] = [];
    let threeStarted!: () => void;
    const threeStartedP = new Promise<void>((r) => (threeStarted = r));
    const m = map(
      async (x: number, i: number, signal: AbortSignal) => {
        expect(i).toBe(x);
        if (signals.push(signal) === 3) threeStarted();
        if (x === 0) {
          await threeStartedP;
          return x;
        }
        return new Promise<number>((resolve) => signal.addEventListener("abort", () => resolve(-1)));
      },
      { concurrency: 3 },
    );
    for await (const x of m([0, 1, 2, 3])) {
      expect(x).toBe(0);
      break;
    }
    expect(signals).toHaveLength(3);
    expect(signals.every((s) => s.aborted)).toBe(true);
  });

  it("rejects bad options with RangeError", () => {
    expect(() => map((x: number) => x, { concurrency: 0 })).toThrow(RangeError);
    expect(() => map((x: number) => x, { concurrency: 1.5 })).toThrow(RangeError);
    expect(() => map(42 as never)).toThrow(TypeError);
  });
});

describe("filter, tap, take, flatMap", () => {
  it("filter keeps truthy items, with sync or async predicates", async () => {
    expect(await collect(filter((x: number) => x > 2)([1, 2, 3, 4]))).toEqual([3, 4]);
    expect(await collect(filter(async (x: number) => x % 2 === 1)(range(6)))).toEqual([1, 3, 5]);
  });

  it("tap sees every item (awaiting async taps) and passes items through unchanged", async () => {
    const seen: Array<[number, number]> = [];
    const h = pipeline(
      tap(async (x: number, i: number) => {
        await hops(2);
        seen.push([x, i]);
      }),
      map((x: number) => x + 1),
    );
    expect(await h([5, 6])).toEqual([6, 7]);
    expect(seen).toEqual([
      [5, 0],
      [6, 1],
    ]);
  });

  it("take stops reading the source after `count` items and closes it", async () => {
    const ch = channel<number>();
    for (let i = 0; i < 10; i++) ch.push(i);
    expect(
      await pipeline(
        map((x: number) => x * 2),
        take(3),
      )(ch),
    ).toEqual([0, 2, 4]);
    expect(ch.pulled).toBe(3);
    expect(ch.closed).toBe(true);
    expect(await collect(take(0)([1, 2]))).toEqual([]);
    expect(() => take(-1)).toThrow(RangeError);
  });

  it("flatMap expands items lazily, from arrays or async iterables", async () => {
    const h = pipeline(
      flatMap((x: number) => [x, x]),
      flatMap(async (x: number) => range(x)),
    );
    expect(await h([1, 2])).toEqual([0, 0, 0, 1, 0, 1]);
  });

  it("flatMap reports the outer item when its inner stream fails", async () => {
    const h = pipeline(
      flatMap(async function* expand(x: number) {
        yield x;
        if (x === 2) throw new Error("inner");
      }),
    );
    const err = (await h([0, 1, 2, 3]).catch((e: unknown) => e)) as PipelineStageError;
    expect([err.stage, err.index]).toEqual(["expand", 2]);
  });

  it("helpers used on their own report errors under their own name", async () => {
    const err = (await collect(
      map(async (x: number) => {
        if (x === 1) throw new Error("x");
        return x;
      })([0, 1]),
    ).catch((e: unknown) => e)) as PipelineStageError;
    expect(err).toBeInstanceOf(PipelineStageError);
    expect([err.stage, err.stageIndex, err.index]).toEqual(["map", undefined, 1]);
  });
});

describe("batch", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("groups by size; the last batch may be shorter", async () => {
    expect(await collect(batch<number>(3)(range(7)))).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(await collect(batch<number>(3)([]))).toEqual([]);
    expect(() => batch(0)).toThrow(RangeError);
    expect(() => batch(2, { maxWaitMs: -1 })).toThrow(RangeError);
  });

  it("never reads more than one batch ahead of its consumer", async () => {
    const ch = channel<number>();
    for (let i = 0; i < 100; i++) ch.push(i);
    ch.end();
    let received = 0;
    for await (const b of batch<number>(8)(ch)) {
      received += b.length;
      expect(ch.pulled - received).toBeLessThanOrEqual(8);
    }
    expect(received).toBe(100);
  });

  it("with maxWaitMs flushes a partial batch once its first item has waited that long", async () => {
    vi.useFakeTimers();
    const ch = channel<number>();
    const it = batch<number>(3, { maxWaitMs: 100 })(ch)[Symbol.asyncIterator]();

    let next = tracked(it.next());
    ch.push(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(next.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(next.value).toEqual({ done: false, value: [1] });

    // A full batch goes out at once, without waiting.
    next = tracked(it.next());
    ch.push(2);
    ch.push(3);
    ch.push(4);
    await vi.advanceTimersByTimeAsync(0);
    expect(next.value).toEqual({ done: false, value: [2, 3, 4] });

    // The clock starts at a batch's first item, not at the previous flush.
    next = tracked(it.next());
    await vi.advanceTimersByTimeAsync(500);
    expect(next.settled).toBe(false);
    ch.push(5);
    await vi.advanceTimersByTimeAsync(60);
    ch.push(6);
    await vi.advanceTimersByTimeAsync(39);
    expect(next.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(next.value).toEqual({ done: false, value: [5, 6] });

    // The source ending flushes the rest without waiting.
    next = tracked(it.next());
    ch.push(7);
    ch.end();
    await vi.advanceTimersByTimeAsync(0);
    expect(next.value).toEqual({ done: false, value: [7] });
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("with maxWaitMs clears its timer and closes the source when the consumer stops", async () => {
    vi.useFakeTimers();
    const ch = channel<number>();
    const it = batch<number>(5, { maxWaitMs: 1000 })(ch)[Symbol.asyncIterator]();
    const next = tracked(it.next());
    ch.push(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(next.value).toEqual({ done: false, value: [1] });
    const pending = it.next();
    ch.push(2);
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(1);
    ch.push(3);
    ch.push(4);
    ch.push(5);
    ch.push(6);
    expect(await pending).toEqual({ done: false, value: [2, 3, 4, 5, 6] });
    await it.return!(undefined);
    expect(vi.getTimerCount()).toBe(0);
    expect(ch.closed).toBe(true);
  });
});

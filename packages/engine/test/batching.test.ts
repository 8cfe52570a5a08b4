// The batch assembler alone, with fake time: batches fill to maxSize, a partial batch goes after
// maxWaitMs, keys never mix, a cancelled job leaves its open batch, and bad options or a wrong
// number of outputs give typed errors.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { BatchOutputMismatchError, InvalidBatchOptionsError, isPyrexisError, ManualClock } from "@pyrexis/models";
import { BatchAssembler, splitBatchOutputs, validateBatchOptions } from "../src/batching.js";

const SEED = Number(process.env["FC_SEED"] ?? 20_251_202);

interface Item {
  readonly jobId: string;
  readonly payload: { readonly tenant: string };
}

function item(i: number, tenant = "a"): Item {
  return { jobId: `job-${i}`, payload: { tenant } };
}

describe("BatchAssembler", () => {
  it("10,000 ready jobs with maxSize 64 make at most 165 batches, each of at most 64", () => {
    const clock = new ManualClock(0);
    const batches: Item[][] = [];
    const asm = new BatchAssembler<Item>("embed", { maxSize: 64, maxWaitMs: 50 }, clock, (_k, items) => batches.push(items));
    for (let i = 0; i < 10_000; i++) asm.add(item(i));
    clock.advance(50);
    expect(batches.length).toBeLessThanOrEqual(165);
    expect(batches.every((b) => b.length <= 64)).toBe(true);
    expect(batches.flat().map((it) => it.jobId)).toEqual(Array.from({ length: 10_000 }, (_, i) => `job-${i}`));
    expect(clock.pendingTimers).toBe(0);
  });

  it("fewer than maxSize ready jobs are handed over after maxWaitMs, not before", () => {
    const clock = new ManualClock(1_000);
    const batches: Item[][] = [];
    const asm = new BatchAssembler<Item>("embed", { maxSize: 64, maxWaitMs: 200 }, clock, (_k, items) => batches.push(items));
    for (let i = 0; i < 5; i++) asm.add(item(i));
    clock.advance(199);
    expect(batches).toEqual([]);
    expect(asm.waiting).toBe(5);
    clock.advance(1);
    expect(batches.map((b) => b.length)).toEqual([5]);
    expect(asm.waiting).toBe(0);
  });

  it("maxWaitMs 0 or maxSize 1 hands each job over at once", () => {
    const clock = new ManualClock(0);
    for (const options of [
      { maxSize: 8, maxWaitMs: 0 },
      { maxSize: 1, maxWaitMs: 1_000 },
    ]) {
      const batches: Item[][] = [];
      const asm = new BatchAssembler<Item>("embed", options, clock, (_k, items) => batches.push(items));
      asm.add(item(1));
      asm.add(item(2));
      expect(batches.map((b) => b.length)).toEqual([1, 1]);
    }
    expect(clock.pendingTimers).toBe(0);
  });

  it("keys never mix (seeded)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("a", "b", "c", "d"), fc.integer({ min: 0, max: 30 })), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 16 }),
        (arrivals, maxSize) => {
          const clock = new ManualClock(0);
          const batches: { key: string; items: Item[] }[] = [];
          const asm = new BatchAssembler<Item>(
            "embed",
            { maxSize, maxWaitMs: 25, key: (p: Item["payload"]) => p.tenant },
            clock,
            (key, items) => batches.push({ key, items }),
          );
          arrivals.forEach(([tenant, gap], i) => {
            clock.advance(gap);
            asm.add(item(i, tenant));
          });
          clock.advance(25);
          for (const b of batches) {
            expect(b.items.length).toBeGreaterThan(0);
            expect(b.items.length).toBeLessThanOrEqual(maxSize);
            expect(b.items.every((it) => it.payload.tenant === b.key)).toBe(true);
          }
          expect(batches.flatMap((b) => b.items).length).toBe(arrivals.length);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  it("a cancelled job leaves its open batch; the last one leaving clears the timer", () => {
    const clock = new ManualClock(0);
    const batches: Item[][] = [];
    const asm = new BatchAssembler<Item>("embed", { maxSize: 4, maxWaitMs: 10 }, clock, (_k, items) => batches.push(items));
    asm.add(item(1));
    asm.add(item(2));
    expect(asm.remove("job-1")).toBe(true);
    expect(asm.remove("job-1")).toBe(false);
    clock.advance(10);
    expect(batches.map((b) => b.map((it) => it.jobId))).toEqual([["job-2"]]);
    asm.add(item(3));
    expect(asm.remove("job-3")).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it("flushAll hands over every open batch", () => {
    const clock = new ManualClock(0);
    const batches: string[] = [];
    const asm = new BatchAssembler<Item>("embed", { maxSize: 4, maxWaitMs: 10, key: (p: Item["payload"]) => p.tenant }, clock, (key) =>
      batches.push(key),
    );
    asm.add(item(1, "a"));
    asm.add(item(2, "b"));
    asm.flushAll();
    expect(batches.sort()).toEqual(["a", "b"]);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("batch options", () => {
  it.each([
    [{ maxSize: 0, maxWaitMs: 10 }, "maxSize"],
    [{ maxSize: 1.5, maxWaitMs: 10 }, "maxSize"],
    [{ maxSize: Number.NaN, maxWaitMs: 10 }, "maxSize"],
    [{ maxSize: 4, maxWaitMs: -1 }, "maxWaitMs"],
    [{ maxSize: 4, maxWaitMs: Number.POSITIVE_INFINITY }, "maxWaitMs"],
    [{ maxSize: 4, maxWaitMs: 10, key: "tenant" }, "key"],
  ])("refuses %j with a typed error naming the handler and %s", (options, field) => {
    let caught: unknown;
    try {
      validateBatchOptions("embed", options as never);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidBatchOptionsError);
    expect(isPyrexisError(caught, "INVALID_BATCH_OPTIONS")).toBe(true);
    const err = caught as InvalidBatchOptionsError;
    expect(err.handler).toBe("embed");
    expect(err.issues.map((i) => i.path.at(-1))).toEqual([field]);
    expect(err.message).toContain('"embed"');
  });

  it("the assembler refuses bad options too, and sets no timer", () => {
    const clock = new ManualClock(0);
    expect(() => new BatchAssembler("embed", { maxSize: 0, maxWaitMs: 1 }, clock, () => {})).toThrow(InvalidBatchOptionsError);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("splitBatchOutputs", () => {
  it("one output per job, in order; an Error in a slot fails that job alone", () => {
    const poison = new Error("bad input");
    const outcomes = splitBatchOutputs("embed", 3, [{ v: 1 }, poison, null]);
    expect(outcomes).toEqual([
      { ok: true, output: { v: 1 } },
      { ok: false, error: poison },
      { ok: true, output: null },
    ]);
  });

  it.each([
    [[1, 2], 2],
    [[1, 2, 3, 4], 4],
    [{ not: "an array" }, -1],
  ])("a wrong number of outputs (%j) fails every job with BatchOutputMismatchError", (outputs, actual) => {
    const outcomes = splitBatchOutputs("embed", 3, outputs);
    expect(outcomes).toHaveLength(3);
    for (const o of outcomes) {
      expect(o.ok).toBe(false);
      if (o.ok) continue;
      expect(o.error).toBeInstanceOf(BatchOutputMismatchError);
      expect(isPyrexisError(o.error, "BATCH_OUTPUT_MISMATCH")).toBe(true);
      expect((o.error as BatchOutputMismatchError).handler).toBe("embed");
      expect((o.error as BatchOutputMismatchError).actual).toBe(actual);
      expect(o.error.message).toContain('"embed"');
    }
  });
});

import { describe, expect, it } from "vitest";
import { MetricsRegistry } from "@pyrexis/metrics";
import {
  PipelineStageError,
  type StageContext,
  type StageProgress,
  type StageResult,
  filter,
  isPipelineStageError,
  map,
  pipeline,
  runPipeline,
  stage,
  transform,
} from "../src/index.js";

async function* range(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("pipeline()", () => {
  it("runs value stages in order, each getting the previous output", async () => {
    const seen: string[] = [];
    const h = pipeline(
      (s: string) => {
        seen.push("a");
        return s.split(" ");
      },
      async (words: string[]) => {
        seen.push("b");
        return words.length;
      },
      (n: number) => {
        seen.push("c");
        return n * 10;
      },
    );
    await expect(h("a b c")).resolves.toBe(30);
    expect(seen).toEqual(["a", "b", "c"]);
  });

  it("mixes sync, async and generator stages; a final stream is collected into an array", async () => {
    const doubled = transform(async function* doubled(src: AsyncIterable<number>) {
      for await (const x of src) yield x * 2;
    });
    const h = pipeline(
      (n: number) => Array.from({ length: n }, (_, i) => i),
      doubled,
      map(async (x: number) => x + 1),
      filter((x: number) => x % 3 !== 0),
    );
    await expect(h(6)).resolves.toEqual([1, 5, 7, 11]);
  });

  it("hands a stream stage's output to a following value stage as a lazy async iterable", async () => {
    let pulled = 0;
    const source = (async function* () {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield i;
      }
    })();
    const h = pipeline(
      (s: AsyncIterable<number>) => s,
      map((x: number) => x * 2),
      async (items: AsyncIterable<number>) => {
        // Reads only three items: the rest is never pulled from the source.
        const firstThree: number[] = [];
        for await (const x of items) {
          firstThree.push(x);
          if (firstThree.length === 3) break;
        }
        return firstThree;
      },
    );
    await expect(h(source)).resolves.toEqual([0, 2, 4]);
    expect(pulled).toBe(3);
  });

  it("passes signal, stage name, index, jobId and attempt to stages", async () => {
    const contexts: StageContext[] = [];
    const h = pipeline(
      stage("first", (x: number, ctx: StageContext) => {
        contexts.push(ctx);
        return [x];
      }),
      transform(async function* second(src: AsyncIterable<number>, ctx: StageContext) {
        contexts.push(ctx);
        yield* src;
      }),
    );
    await expect(h(7, { jobId: "j1", attempt: 2 })).resolves.toEqual([7]);
    expect(contexts.map((c) => [c.stage, c.index, c.jobId, c.attempt, c.signal instanceof AbortSignal])).toEqual([
      ["first", 0, "j1", 2, true],
      ["second", 1, "j1", 2, true],
    ]);
  });

  it("rejects misuse at construction with TypeError", () => {
    expect(() => pipeline()).toThrow(TypeError);
    expect(() => pipeline(42 as never)).toThrow(TypeError);
    // An unmarked async generator function is almost certainly a forgotten transform().
    expect(() =>
      pipeline(async function* gen(src: AsyncIterable<number>) {
        yield* src;
      }),
    ).toThrow(/transform\(\)/);
    expect(() => stage("", (x: number) => x)).toThrow(TypeError);
  });

  it("fails with a stage error when a stream stage gets something it cannot iterate", async () => {
    const h = pipeline(
      (n: number) => n,
      map((x: number) => x),
    );
    const err: unknown = await h(3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineStageError);
    expect((err as PipelineStageError).stage).toBe("map");
    expect((err as PipelineStageError).cause).toBeInstanceOf(TypeError);
  });

  it("collects an async iterable returned by a last value stage", async () => {
    const h = pipeline((n: number) => range(n));
    await expect(h(3)).resolves.toEqual([0, 1, 2]);
  });
});

describe("runPipeline()", () => {
  it("yields each stage's result in order, the last one being the output", async () => {
    const results: StageResult[] = [];
    for await (const r of runPipeline(
      [stage("split", (s: string) => s.split(",")), map((x: string) => Number(x)), stage("sum", sumStream)],
      "1,2,3",
    )) {
      results.push(r);
    }
    expect(results).toEqual([
      { stage: "split", index: 0, output: ["1", "2", "3"], itemsIn: 1, itemsOut: 1 },
      // A stream stage feeding another stage keeps nothing: output is undefined.
      { stage: "map", index: 1, output: undefined, itemsIn: 3, itemsOut: 3 },
      { stage: "sum", index: 2, output: 6, itemsIn: 1, itemsOut: 1 },
    ]);
  });

  it("surfaces a value stage's failure first, before results of the stream stages it read", async () => {
    const gen = runPipeline(
      [
        map((x: number) => x),
        stage("boom", async (s: AsyncIterable<number>) => {
          for await (const _ of s) {
            // drain
          }
          throw new Error("after reading");
        }),
      ],
      [1, 2],
    );
    const err = (await gen.next().catch((e: unknown) => e)) as PipelineStageError;
    expect(err).toBeInstanceOf(PipelineStageError);
    expect(err.stage).toBe("boom");
  });

  it("runs nothing until iterated and stops when the consumer stops", async () => {
    const calls: string[] = [];
    const gen = runPipeline(
      [
        stage("a", () => {
          calls.push("a");
          return 1;
        }),
        stage("b", () => {
          calls.push("b");
          return 2;
        }),
      ],
      undefined,
    );
    expect(calls).toEqual([]);
    for await (const r of gen) {
      expect(r.stage).toBe("a");
      break;
    }
    expect(calls).toEqual(["a"]);
  });
});

async function sumStream(items: AsyncIterable<number>): Promise<number> {
  let total = 0;
  for await (const x of items) total += x;
  return total;
}

describe("progress and metrics", () => {
  it("reports every stage and always ends each with a done report", async () => {
    const reports: StageProgress[] = [];
    const h = pipeline(
      stage("load", (n: number) => range(n)),
      map((x: number) => x + 1),
      filter((x: number) => x % 2 === 0),
    );
    await h(10, { progress: (p) => reports.push(p as StageProgress) });
    const finals = reports.filter((r) => r.done);
    expect(finals).toEqual([
      { stage: "load", index: 0, itemsIn: 1, itemsOut: 1, done: true },
      { stage: "map", index: 1, itemsIn: 10, itemsOut: 10, done: true },
      { stage: "filter", index: 2, itemsIn: 10, itemsOut: 5, done: true },
    ]);
    // The default interval is 100 ms: ten quick items give no intermediate stream reports.
    expect(reports.filter((r) => !r.done && r.stage !== "load")).toEqual([]);
  });

  it("with progressIntervalMs 0 reports every item, counts never decreasing", async () => {
    const reports: StageProgress[] = [];
    const gen = runPipeline([map((x: number) => x)], [1, 2, 3, 4], {
      progressIntervalMs: 0,
      onProgress: (p) => reports.push(p),
    });
    await collect(gen);
    const ins = reports.map((r) => r.itemsIn);
    expect(ins).toEqual([1, 2, 3, 4, 4]);
    expect(reports.at(-1)!.done).toBe(true);
  });

  it("throttles a million-item stream to a bounded number of reports", async () => {
    let count = 0;
    const h = pipeline(
      map((x: number) => x),
      filter(() => false),
    );
    await h(range(1_000_000), { progress: () => count++ });
    // Reports are at least 100 ms apart per stage (plus one final each): far fewer than items.
    expect(count).toBeGreaterThanOrEqual(2);
    expect(count).toBeLessThan(2_000);
  });

  it("records one pipeline.stage timing per stage, labelled with the stage name", async () => {
    const metrics = new MetricsRegistry();
    const gen = runPipeline([stage("prep", (n: number) => range(n)), map((x: number) => x)], 5, { metrics });
    await collect(gen);
    const timings = metrics.getTimings();
    const keys = Object.keys(timings).sort();
    expect(keys).toHaveLength(2);
    expect(keys.some((k) => k.includes("prep"))).toBe(true);
    expect(keys.some((k) => k.includes("map"))).toBe(true);
    for (const k of keys) expect(timings[k]!.count).toBe(1);
  });
});

describe("errors", () => {
  it("names the value stage and keeps the cause", async () => {
    const boom = new Error("boom");
    const h = pipeline(
      (x: number) => x,
      stage("explode", () => {
        throw boom;
      }),
    );
    const err: unknown = await h(1).catch((e: unknown) => e);
    expect(isPipelineStageError(err)).toBe(true);
    const e = err as PipelineStageError;
    expect([e.code, e.stage, e.stageIndex, e.index, e.cause]).toEqual(["PIPELINE_STAGE", "explode", 1, undefined, boom]);
    expect(e.message).toContain("explode");
  });

  it("names the stream stage and the item index for sync, async and concurrent maps", async () => {
    const failAt7 = (x: number): number => {
      if (x === 7) throw new RangeError("seven");
      return x;
    };
    const variants = [
      map(failAt7),
      map(async (x: number) => failAt7(x)),
      map(async (x: number) => failAt7(x), { concurrency: 4 }),
      map(async (x: number) => failAt7(x), { concurrency: 4, ordered: false }),
    ];
    for (const m of variants) {
      const h = pipeline(
        map((x: number) => x),
        filter(() => true),
        stage("fragile", m),
      );
      const err = (await h(range(20)).catch((e: unknown) => e)) as PipelineStageError;
      expect(err).toBeInstanceOf(PipelineStageError);
      expect([err.stage, err.stageIndex, err.index]).toEqual(["fragile", 2, 7]);
      expect(err.cause).toBeInstanceOf(RangeError);
    }
  });

  it("attributes a hand-written transform's error to the last item it read", async () => {
    const h = pipeline(
      transform(async function* picky(src: AsyncIterable<number>) {
        for await (const x of src) {
          if (x === 3) throw new Error("no threes");
          yield x;
        }
      }),
    );
    const err = (await h([0, 1, 2, 3, 4]).catch((e: unknown) => e)) as PipelineStageError;
    expect([err.stage, err.index, (err.cause as Error).message]).toEqual(["picky", 3, "no threes"]);
  });

  it("reports an error of the input stream under 'input', and one of a produced stream under its producer", async () => {
    async function* broken(): AsyncGenerator<number> {
      yield 1;
      yield 2;
      throw new Error("disk gone");
    }
    const viaInput = (await pipeline(map((x: number) => x))(broken()).catch((e: unknown) => e)) as PipelineStageError;
    expect([viaInput.stage, viaInput.stageIndex, viaInput.index]).toEqual(["input", -1, 2]);

    const viaStage = (await pipeline(
      stage("open", () => broken()),
      map((x: number) => x),
    )(null).catch((e: unknown) => e)) as PipelineStageError;
    expect([viaStage.stage, viaStage.stageIndex, viaStage.index]).toEqual(["open", 0, 2]);
  });

  it("wraps an error exactly once however many stages it crosses", async () => {
    const h = pipeline(
      map((x: number) => {
        if (x === 1) throw new Error("early");
        return x;
      }),
      transform(async function* passOn(src: AsyncIterable<number>) {
        yield* src;
      }),
      map(async (x: number) => x, { concurrency: 3 }),
    );
    const err = (await h([0, 1, 2]).catch((e: unknown) => e)) as PipelineStageError;
    expect(err.stage).toBe("map");
    expect(err.stageIndex).toBe(0);
    expect(err.cause).toBeInstanceOf(Error);
    expect(err.cause).not.toBeInstanceOf(PipelineStageError);
  });

  it("closes the source and runs generators' finally when a later stage fails", async () => {
    const events: string[] = [];
    async function* src(): AsyncGenerator<number> {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        events.push("source closed");
      }
    }
    const mid = transform(async function* mid(s: AsyncIterable<number>) {
      try {
        yield* s;
      } finally {
        events.push("mid finally");
      }
    });
    const h = pipeline(
      mid,
      map((x: number) => {
        if (x === 5) throw new Error("stop");
        return x;
      }),
    );
    await expect(h(src())).rejects.toBeInstanceOf(PipelineStageError);
    expect(events).toEqual(["source closed", "mid finally"]);
  });
});

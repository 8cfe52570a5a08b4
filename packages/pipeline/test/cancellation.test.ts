import { describe, expect, it } from "vitest";
import { batch, map, pipeline, runPipeline, stage, tap, transform } from "../src/index.js";
import { channel, hops } from "./helpers.js";

/** A source that records pulls and whether it was closed (its finally ran). */
function counted(limit = Number.POSITIVE_INFINITY): { source: AsyncGenerator<number>; stats: { pulled: number; closed: boolean } } {
  const stats = { pulled: 0, closed: false };
  async function* gen(): AsyncGenerator<number> {
    try {
      for (let i = 0; i < limit; i++) {
        stats.pulled++;
        yield i;
      }
    } finally {
      stats.closed = true;
    }
  }
  return { source: gen(), stats };
}

describe("cancellation", () => {
  it("aborting mid-stream stops reading, closes the source and rejects with signal.reason", async () => {
    const controller = new AbortController();
    const reason = new Error("user cancelled");
    const { source, stats } = counted();
    const h = pipeline(
      map((x: number) => x + 1),
      tap((x: number) => {
        if (x === 50) controller.abort(reason);
      }),
    );
    await expect(h(source, { signal: controller.signal })).rejects.toBe(reason);
    expect(stats.closed).toBe(true);
    expect(stats.pulled).toBe(50);
  });

  it("runs every stage generator's finally, in a chain feeding a value stage", async () => {
    const controller = new AbortController();
    const events: string[] = [];
    const { source, stats } = counted();
    const relay = (name: string) =>
      stage(
        name,
        transform(async function* (src: AsyncIterable<number>) {
          try {
            for await (const x of src) yield x;
          } finally {
            events.push(`${name} finally`);
          }
        }),
      );
    const h = pipeline(
      relay("a"),
      map(async (x: number) => x, { concurrency: 4 }),
      relay("b"),
      async (items: AsyncIterable<number>) => {
        let n = 0;
        for await (const _ of items) {
          if (++n === 10) controller.abort();
        }
        return n;
      },
    );
    const err: unknown = await h(source, { signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBe(controller.signal.reason);
    expect((err as DOMException).name).toBe("AbortError");
    expect(events.sort()).toEqual(["a finally", "b finally"]);
    expect(stats.closed).toBe(true);
  });

  it("rejects promptly while a concurrent map waits on calls that ignore the signal, and aborts their signal", async () => {
    const controller = new AbortController();
    const callSignals: AbortSignal[] = [];
    const { source, stats } = counted();
    const h = pipeline(
      map(
        (_x: number, _i: number, signal: AbortSignal) => {
          callSignals.push(signal);
          if (callSignals.length === 3) queueMicrotask(() => controller.abort("stop"));
          return new Promise<never>(() => {}); // never settles
        },
        { concurrency: 3 },
      ),
    );
    await expect(h(source, { signal: controller.signal })).rejects.toBe("stop");
    expect(callSignals).toHaveLength(3);
    expect(callSignals.every((s) => s.aborted)).toBe(true);
    expect(stats.pulled).toBe(3);
    expect(stats.closed).toBe(true);
  });

  it("rejects promptly while the source itself is stuck, and passes the abort to a waiting batch", async () => {
    const controller = new AbortController();
    const ch = channel<number>();
    ch.push(1);
    const h = pipeline(batch(10, { maxWaitMs: 60_000 }));
    const run = h(ch, { signal: controller.signal });
    await hops(20);
    controller.abort(new Error("timeout"));
    await expect(run).rejects.toThrow("timeout");
  });

  it("rejects promptly while a value stage ignores the signal", async () => {
    const controller = new AbortController();
    const h = pipeline(
      (x: number) => x,
      () => new Promise<never>(() => {}),
    );
    const run = h(1, { signal: controller.signal });
    await hops(5);
    controller.abort("cancelled");
    await expect(run).rejects.toBe("cancelled");
  });

  it("does not start when the signal is already aborted", async () => {
    let ran = false;
    const h = pipeline(() => {
      ran = true;
    });
    await expect(h(null, { signal: AbortSignal.abort("early") })).rejects.toBe("early");
    expect(ran).toBe(false);
  });

  it("stopping iteration of runPipeline early aborts the stages' signal and closes open streams", async () => {
    const { source, stats } = counted();
    let stageSignal: AbortSignal | undefined;
    const gen = runPipeline(
      [
        stage("open", (s: AsyncIterable<number>, ctx) => {
          stageSignal = ctx.signal;
          return s;
        }),
        map((x: number) => x),
        async (items: AsyncIterable<number>) => {
          for await (const x of items) if (x === 2) break;
          return "read some";
        },
      ],
      source,
    );
    const seen: string[] = [];
    for await (const r of gen) {
      seen.push(r.stage);
      if (r.stage === "open") break;
    }
    expect(seen).toEqual(["open"]);
    expect(stageSignal?.aborted).toBe(true);
    expect(stats.pulled).toBe(0);
  });

  it("keeps a stream stage from reading ahead of a slow consumer (backpressure across stages)", async () => {
    let pulled = 0;
    let consumed = 0;
    let maxLead = 0;
    async function* source(): AsyncGenerator<number> {
      for (let i = 0; i < 500; i++) {
        pulled++;
        maxLead = Math.max(maxLead, pulled - consumed);
        yield i;
      }
    }
    const h = pipeline(
      map((x: number) => x * 2),
      map(async (x: number) => x, { concurrency: 4 }),
      batch(8),
      async (batches: AsyncIterable<number[]>) => {
        for await (const b of batches) {
          consumed += b.length;
          await hops(3);
        }
        return consumed;
      },
    );
    expect(await h(source())).toBe(500);
    // In flight in map (4) plus one batch being filled (8): never the whole stream.
    expect(maxLead).toBeLessThanOrEqual(4 + 8);
  });
});

describe("cancellation of a stream returned by the last value stage", () => {
  it("rejects promptly while collecting a stream that never yields", async () => {
    const controller = new AbortController();
    const h = pipeline(() => ({
      [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<number>>(() => {}) }),
    }));
    const run = h(null, { signal: controller.signal });
    await hops(5);
    controller.abort("cancelled");
    await expect(run).rejects.toBe("cancelled");
  });
});

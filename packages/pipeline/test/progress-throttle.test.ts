import { afterEach, describe, expect, it, vi } from "vitest";
import { type StageProgress, map, runPipeline } from "../src/index.js";
import { channel } from "./helpers.js";

describe("progress throttling (fake time)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends at most one report per interval while items flow, then a final one", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance", "Date"] });
    const reports: Array<StageProgress & { at: number }> = [];
    const ch = channel<number>();
    const run = (async () => {
      for await (const _ of runPipeline([map((x: number) => x)], ch, {
        progressIntervalMs: 100,
        onProgress: (p) => reports.push({ ...p, at: performance.now() }),
      })) {
        // results are not needed
      }
    })();
    // One item every 10 ms for 2 s: 200 items.
    for (let i = 0; i < 200; i++) {
      ch.push(i);
      await vi.advanceTimersByTimeAsync(10);
    }
    ch.end();
    await run;

    const running = reports.filter((r) => !r.done);
    const final = reports.filter((r) => r.done);
    expect(final).toHaveLength(1);
    expect(final[0]).toMatchObject({ stage: "map", itemsIn: 200, itemsOut: 200 });
    // Progress did arrive while the stream ran (not only at the end)…
    expect(running.length).toBeGreaterThanOrEqual(15);
    // …never two within one interval, nor much later than one (the clock is read ~4× per interval),
    // with counts that only grow.
    for (let k = 1; k < running.length; k++) {
      expect(running[k]!.at - running[k - 1]!.at).toBeGreaterThanOrEqual(100);
      expect(running[k]!.at - running[k - 1]!.at).toBeLessThanOrEqual(130);
      expect(running[k]!.itemsIn).toBeGreaterThan(running[k - 1]!.itemsIn);
    }
  });
});

import { afterEach, describe, expect, it, vi } from "vitest";
import { MetricsRegistry, seriesKey } from "../src/index.js";

afterEach(() => {
  vi.restoreAllMocks();
});

/** Makes performance.now() return the given readings in turn (fake time, no sleeps). */
function fakeNow(...readings: number[]): void {
  let i = 0;
  vi.spyOn(performance, "now").mockImplementation(() => readings[Math.min(i++, readings.length - 1)]!);
}

describe("counters and gauges", () => {
  it("counters start at the first increment and only go up", () => {
    const m = new MetricsRegistry();
    m.increment("job.completed");
    m.increment("job.completed");
    m.increment("job.retries", 5);
    m.increment("job.retries", 0);
    expect(m.getCounters()).toEqual({ "job.completed": 2, "job.retries": 5 });
    expect(() => m.increment("job.retries", -1)).toThrow(RangeError);
    expect(() => m.increment("job.retries", Number.NaN)).toThrow(RangeError);
    expect(m.getCounters()["job.retries"]).toBe(5);
  });

  it("a counter handle moves the same series as increment, appears on its first add, and survives reset", () => {
    const m = new MetricsRegistry();
    const labels = { group: "tenant-a" };
    const handle = m.counter("flow.dispatched", labels);
    expect(m.getCounters()).toEqual({});
    handle.add();
    m.increment("flow.dispatched", 2, { group: "tenant-a" });
    handle.add(3);
    expect(m.getCounters()).toEqual({ [seriesKey("flow.dispatched", labels)]: 6 });
    // The handle copied its labels: changing the caller's object later renames nothing.
    labels.group = "other";
    handle.add();
    expect(m.toPrometheus()).toContain('pyrexis_flow_dispatched_total{group="tenant-a"} 7');
    expect(() => handle.add(-1)).toThrow(RangeError);
    m.reset();
    handle.add();
    expect(m.getCounters()).toEqual({ 'flow.dispatched{group="tenant-a"}': 1 });
  });

  it("gauges are set and adjusted", () => {
    const m = new MetricsRegistry();
    m.setGauge("queue.depth", 12);
    m.adjustGauge("queue.depth", -2);
    m.adjustGauge("inflight", 3);
    m.adjustGauge("inflight", -1);
    expect(m.getGauges()).toEqual({ "queue.depth": 10, inflight: 2 });
    m.setGauge("queue.depth", 0);
    expect(m.getGauges()["queue.depth"]).toBe(0);
  });

  it("labels make separate series; label order does not matter", () => {
    const m = new MetricsRegistry();
    m.increment("job.done", 1, { mode: "thread", handler: "embed" });
    m.increment("job.done", 1, { handler: "embed", mode: "thread" });
    m.increment("job.done", 1, { mode: "async", handler: "embed" });
    m.increment("job.done");
    m.increment("job.done", 1, {});
    expect(m.getCounters()).toEqual({
      'job.done{handler="embed",mode="thread"}': 2,
      'job.done{handler="embed",mode="async"}': 1,
      "job.done": 2,
    });
  });

  it("label values that look like other labels do not collide", () => {
    expect(seriesKey("x", { a: 'v",b="w' })).not.toBe(seriesKey("x", { a: "v", b: "w" }));
    const m = new MetricsRegistry();
    m.increment("x", 1, { a: 'v",b="w' });
    m.increment("x", 1, { a: "v", b: "w" });
    expect(Object.keys(m.getCounters())).toHaveLength(2);
  });

  it("mutating a labels object after use does not rename the series", () => {
    const m = new MetricsRegistry();
    const labels: Record<string, string> = { mode: "async" };
    m.increment("c", 1, labels);
    labels.mode = "thread";
    expect(m.toPrometheus()).toContain('pyrexis_c_total{mode="async"} 1');
  });

  it("snapshot() returns plain data that later updates do not change; reset() clears", () => {
    const m = new MetricsRegistry();
    m.increment("c");
    m.setGauge("g", 1);
    m.observe("t", 5);
    const snap = m.snapshot();
    m.increment("c");
    m.observe("t", 7);
    expect(snap.counters).toEqual({ c: 1 });
    expect(snap.gauges).toEqual({ g: 1 });
    expect(snap.timings.t?.count).toBe(1);
    m.reset();
    expect(m.snapshot()).toEqual({ counters: {}, gauges: {}, timings: {} });
    expect(m.toPrometheus()).toBe("");
  });
});

describe("timings", () => {
  it("summarize count, sum, avg, min, max and percentiles", () => {
    const m = new MetricsRegistry();
    for (let ms = 1; ms <= 100; ms++) m.observe("job.execution", ms);
    const t = m.getTimings()["job.execution"]!;
    expect(t).toMatchObject({ count: 100, sum: 5050, avg: 50.5, min: 1, max: 100 });
    expect(t.p50).toBeCloseTo(50, 1);
    expect(t.p95).toBeCloseTo(95, 1);
    expect(t.p99).toBeCloseTo(99, 1);
  });

  it("time() records a sync function's duration and returns its value", () => {
    fakeNow(1_000, 1_012.5);
    const m = new MetricsRegistry();
    expect(m.time("sync", () => 42)).toBe(42);
    expect(m.getTimings().sync).toMatchObject({ count: 1, sum: 12.5 });
  });

  it("time() records the duration when a sync function throws, and rethrows the same error", () => {
    fakeNow(0, 3);
    const m = new MetricsRegistry();
    const boom = new Error("boom");
    expect(() =>
      m.time("sync.fail", () => {
        throw boom;
      }),
    ).toThrow(boom);
    expect(m.getTimings()["sync.fail"]).toMatchObject({ count: 1, sum: 3 });
  });

  it("time() records an async function's duration when it settles", async () => {
    fakeNow(10, 30);
    const m = new MetricsRegistry();
    let resolve!: (v: string) => void;
    const p = m.time("async", () => new Promise<string>((r) => (resolve = r)), { mode: "async" });
    expect(m.getTimings()).toEqual({});
    resolve("done");
    await expect(p).resolves.toBe("done");
    expect(m.getTimings()['async{mode="async"}']).toMatchObject({ count: 1, sum: 20 });
  });

  it("time() records the duration when an async function rejects, and propagates the rejection", async () => {
    fakeNow(100, 175);
    const m = new MetricsRegistry();
    const boom = new Error("async boom");
    await expect(m.time("async.fail", async () => Promise.reject(boom))).rejects.toBe(boom);
    expect(m.getTimings()["async.fail"]).toMatchObject({ count: 1, sum: 75 });
  });

  it("negative and non-finite durations count as 0 rather than corrupting the series", () => {
    const m = new MetricsRegistry();
    m.observe("t", -5);
    m.observe("t", Number.NaN);
    m.observe("t", 4);
    expect(m.getTimings().t).toMatchObject({ count: 3, sum: 4, min: 0, max: 4 });
  });
});

import v8 from "node:v8";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import { seededRandom } from "@pyrexis/test-utils";
import { HISTOGRAM_RELATIVE_ERROR, TimingHistogram } from "../src/index.js";

/** Lognormal latencies (median 40 ms, long tail), like real job durations. */
function lognormalSample(n: number, seed: number): Float64Array {
  const rand = seededRandom(seed); // the sample (and any failure) is reproducible
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    out[i] = Math.exp(Math.log(40) + 1.2 * z);
  }
  return out;
}

/** The exact nearest-rank percentile (the definition HdrHistogram uses). */
function exactPercentile(sorted: Float64Array, p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** The --expose-gc trick without restarting the worker: only used to measure retained heap. */
function getGc(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

describe("TimingHistogram", () => {
  it("an empty histogram reports zeros", () => {
    expect(new TimingHistogram().snapshot()).toEqual({ count: 0, sum: 0, avg: 0, min: 0, max: 0, p50: 0, p95: 0, p99: 0 });
  });

  it("a single observation is reported exactly by every field", () => {
    const h = new TimingHistogram();
    h.observe(12.345);
    expect(h.snapshot()).toEqual({ count: 1, sum: 12.345, avg: 12.345, min: 12.345, max: 12.345, p50: 12.345, p95: 12.345, p99: 12.345 });
  });

  it("durations over an hour keep exact max/sum; percentiles clamp to the hour", () => {
    const h = new TimingHistogram();
    h.observe(5 * 3_600_000);
    const s = h.snapshot();
    expect(s.max).toBe(5 * 3_600_000);
    expect(s.sum).toBe(5 * 3_600_000);
    expect(s.p99).toBeGreaterThanOrEqual(3_600_000 * (1 - HISTOGRAM_RELATIVE_ERROR));
  });

  it("a million observations: fixed footprint, flat heap, percentiles within the stated error, exact min/max/avg", () => {
    const seed = 1_234_567;
    console.log(`histogram sample seed: ${seed}`);
    const sample = lognormalSample(1_000_000, seed);
    const gc = getGc();
    const h = new TimingHistogram();
    const footprint = h.estimatedFootprintInBytes;
    h.observe(1);
    h.reset();

    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let sum = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = 0;
    for (const v of sample) {
      h.observe(v);
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    gc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    console.log(`footprint ${footprint} B, heap growth over 1e6 observations: ${heapGrowth} B`);

    expect(h.estimatedFootprintInBytes).toBe(footprint);
    // Keeping the samples would need >= 8 MB; allow 1 MB of noise from the test itself.
    expect(heapGrowth).toBeLessThan(1_000_000);

    const s = h.snapshot();
    expect(s.count).toBe(1_000_000);
    expect(s.min).toBe(min);
    expect(s.max).toBe(max);
    expect(s.sum).toBe(sum);
    expect(s.avg).toBe(sum / 1_000_000);

    const sorted = sample.slice().sort();
    for (const [p, got] of [
      [50, s.p50],
      [95, s.p95],
      [99, s.p99],
    ] as const) {
      const exact = exactPercentile(sorted, p);
      // Relative error of the histogram plus the 1 µs resolution the values are stored with.
      expect(Math.abs(got - exact), `p${p}: got ${got}, exact ${exact}`).toBeLessThanOrEqual(exact * HISTOGRAM_RELATIVE_ERROR + 0.001);
    }
  });

  it("percentiles stay within the error bound for other seeds and narrow distributions", () => {
    for (const seed of [1, 2, 3]) {
      const sample = lognormalSample(20_000, seed).map((v) => v / 100);
      const h = new TimingHistogram();
      for (const v of sample) h.observe(v);
      const sorted = sample.slice().sort();
      const s = h.snapshot();
      for (const [p, got] of [
        [50, s.p50],
        [95, s.p95],
        [99, s.p99],
      ] as const) {
        const exact = exactPercentile(sorted, p);
        expect(Math.abs(got - exact), `seed ${seed} p${p}`).toBeLessThanOrEqual(exact * HISTOGRAM_RELATIVE_ERROR + 0.001);
      }
    }
  });

  it("reset() clears everything but keeps the footprint", () => {
    const h = new TimingHistogram();
    const footprint = h.estimatedFootprintInBytes;
    h.observe(3);
    h.reset();
    expect(h.snapshot().count).toBe(0);
    expect(h.estimatedFootprintInBytes).toBe(footprint);
  });
});

import hdr from "hdr-histogram-js";

/** A snapshot of one timing series, in milliseconds. */
export interface TimingSnapshot {
  count: number;
  /** Sum of all observations (ms). */
  sum: number;
  avg: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Observations are kept in microseconds: 1 µs resolution up to this bound (one hour). */
const MAX_TRACKABLE_US = 3_600_000_000;
/** 3 significant digits: every percentile is within 0.1% of the exact value (plus 1 µs resolution). */
export const HISTOGRAM_SIGNIFICANT_DIGITS = 3;
/**
 * Relative error bound of reported percentiles against exact nearest-rank percentiles. Values are
 * stored in whole microseconds, so add up to 0.001 ms of absolute error for sub-millisecond timings.
 */
export const HISTOGRAM_RELATIVE_ERROR = 0.001;

/**
 * A timing histogram of fixed size (HdrHistogram): memory does not grow with the number of
 * observations; percentiles are within {@link HISTOGRAM_RELATIVE_ERROR}. Exact count, sum, min and
 * max are tracked beside it.
 */
export class TimingHistogram {
  readonly #hist = hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_TRACKABLE_US,
    numberOfSignificantValueDigits: HISTOGRAM_SIGNIFICANT_DIGITS,
    autoResize: false,
    useWebAssembly: false,
  });
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  /** Records one duration in ms (negative values count as 0; values over an hour are clamped for percentiles). */
  observe(ms: number): void {
    const v = ms > 0 && Number.isFinite(ms) ? ms : 0;
    this.#count++;
    this.#sum += v;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
    this.#hist.recordValue(Math.min(MAX_TRACKABLE_US, Math.max(1, Math.round(v * 1000))));
  }

  /** The current count, sum, avg, min, max and percentiles (all ms). */
  snapshot(): TimingSnapshot {
    if (this.#count === 0) return { count: 0, sum: 0, avg: 0, min: 0, max: 0, p50: 0, p95: 0, p99: 0 };
    const pct = (p: number): number => Math.min(this.#max, Math.max(this.#min, this.#hist.getValueAtPercentile(p) / 1000));
    return {
      count: this.#count,
      sum: this.#sum,
      avg: this.#sum / this.#count,
      min: this.#min,
      max: this.#max,
      p50: pct(50),
      p95: pct(95),
      p99: pct(99),
    };
  }

  /** Bytes held by the histogram's counts array (constant). */
  get estimatedFootprintInBytes(): number {
    return this.#hist.estimatedFootprintInBytes;
  }

  /** Clears all observations. */
  reset(): void {
    this.#hist.reset();
    this.#count = 0;
    this.#sum = 0;
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = 0;
  }
}

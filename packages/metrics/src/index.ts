export { TimingHistogram, HISTOGRAM_RELATIVE_ERROR, HISTOGRAM_SIGNIFICANT_DIGITS, type TimingSnapshot } from "./histogram.js";
export {
  MetricsRegistry,
  seriesKey,
  toPrometheusName,
  toPrometheusText,
  escapeLabelValue,
  type Labels,
  type MetricsSnapshot,
  type PrometheusOptions,
  type SeriesData,
} from "./registry.js";

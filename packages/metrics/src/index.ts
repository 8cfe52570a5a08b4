export { TimingHistogram, HISTOGRAM_RELATIVE_ERROR, HISTOGRAM_SIGNIFICANT_DIGITS, type TimingSnapshot } from "./histogram.js";
export {
  MetricsRegistry,
  seriesKey,
  type CounterHandle,
  type Labels,
  type MetricsRegistryOptions,
  type MetricsSnapshot,
} from "./registry.js";
export {
  DEFAULT_NAMESPACE,
  escapeLabelValue,
  toPrometheusName,
  toPrometheusText,
  type PrometheusOptions,
  type SeriesData,
} from "./prometheus.js";

/**
 * `kernel-taint/metrics`: Prometheus (`prom-client` or the text format) and OpenTelemetry metrics.
 * @packageDocumentation
 */
export {
  collectTaintMetrics,
  formatPrometheus,
  type MetricFamily,
  type MetricSample,
  PROMETHEUS_CONTENT_TYPE,
  type PromClientLike,
  type PromMetricLike,
  type PromRegistryLike,
  TaintChangeCounter,
  type TaintMetricNames,
  type TaintMetricsHandle,
  type TaintMetricsOptions,
  taintMetricFamilies,
  taintMetricNames,
} from './integrations/metrics.js';
export {
  OTEL_TAINT_METRICS,
  type OtelBatchResultLike,
  type OtelMeterLike,
  type OtelObservableLike,
  type OtelTaintOptions,
  observeTaintMetrics,
} from './integrations/otel.js';
export type { SourceChange, SourceChangeListener, TaintSource } from './integrations/source.js';

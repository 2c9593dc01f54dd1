/**
 * kernel-taint: read, decode, format, parse and watch Linux kernel taint.
 * @packageDocumentation
 */
export { isSupported, unsupportedReason } from './binding.js';
export { decodeTaint, resolveFlag } from './decode.js';
export {
  KernelTaintError,
  type KernelTaintErrorCode,
  type SystemError,
  TaintValueError,
  UnsupportedError,
} from './errors.js';
export { MAINLINE_FLAG_COUNT, PROFILE_IDS, TAINT_FLAGS } from './flags.js';
export { type FormatOptions, formatTaint, profileForRelease } from './format.js';
export {
  BOOT_ID_PATH,
  type BootBaseline,
  bootBaseline,
  readBootId,
} from './integrations/boot.js';
export {
  createTaintPanelFeed,
  type PanelFeedEvents,
  type PanelFeedOptions,
  TaintPanelFeed,
  toPanelChange,
} from './integrations/feed.js';
export {
  createHealthCheck,
  expressHealth,
  type FastifyReplyLike,
  fastifyHealth,
  HEALTH_CHECK_KEY,
  HEALTH_CONTENT_TYPE,
  type HealthCheckOptions,
  type HealthCheckResponse,
  healthCheck,
  healthHandler,
  healthStatusCode,
  type KoaContextLike,
  koaHealth,
  type LightshipLike,
  lightshipHealth,
  type TaintCheckResult,
  type TaintHealthCheck,
  TaintHealthCheckError,
  terminusHealth,
} from './integrations/health.js';
export {
  JOURNAL_MODE_ENV,
  type JournalContents,
  type JournalMode,
  type JournalModule,
  type JournalRecord,
  type JournalTrigger,
  type ObserveInfo,
  openTaintJournal,
  parseJournalMode,
  readTaintJournal,
  TaintJournal,
  type TaintJournalEvents,
  type TaintJournalOptions,
} from './integrations/journal.js';
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
export {
  type ClassifyContext,
  classifyTaint,
  DEFAULT_CATEGORY_STATUS,
  loadTaintPolicy,
  type ModuleLetters,
  parseTaintPolicy,
  type TaintAllowRule,
  type TaintClassification,
  type TaintPolicy,
  type TaintReason,
  type TaintStatus,
} from './integrations/policy.js';
export {
  DEFAULT_SERVE_PORT,
  PANEL_CSP,
  type ServeOptions,
  serveTaint,
  type TaintServer,
} from './integrations/serve.js';
export type { SourceChange, SourceChangeListener, TaintSource } from './integrations/source.js';
export { type KernelVersion, parseKernelVersion } from './kernel-version.js';
export { type ChangeModules, type ModuleTaint, type ReadModuleTaintsOptions, readModuleTaints } from './modules.js';
export {
  decodeSupported,
  type ParseOptions,
  parseTaint,
  parseTaintLog,
  parseTaintStream,
  severityOf,
  TAINT_SEVERITIES,
  type TaintLineKind,
  type TaintLogSource,
  type TaintReport,
  type TaintSeverity,
  TaintVerdict,
} from './parse.js';
export {
  closeReaders,
  detectProfile,
  type ReadOptions,
  type ReadTaintOptions,
  type ReadTaintState,
  readTaint,
  readTaintValue,
  TAINT_PATH,
} from './read.js';
export type {
  FlagSelector,
  Profile,
  ResolvedProfile,
  TaintActor,
  TaintCategory,
  TaintCause,
  TaintEvidence,
  TaintExplanation,
  TaintFlag,
  TaintFlagInfo,
  TaintState,
  TaintStateJSON,
} from './types.js';
export {
  type ChangeTrigger,
  DEFAULT_WATCH_INTERVAL,
  type TaintChange,
  TaintWatcher,
  type TaintWatcherEvents,
  WATCH_TRIGGERS,
  type WatchTaintOptions,
  type WatchTrigger,
  watchTaint,
} from './watch.js';

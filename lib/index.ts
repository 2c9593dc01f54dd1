/**
 * kernel-taint: read, decode, format, parse and watch Linux kernel taint.
 * The core only: integrations live behind subpaths (`kernel-taint/health`,
 * `kernel-taint/metrics`, `kernel-taint/journal`, `kernel-taint/serve`,
 * `kernel-taint/panel`), so importing this loads no HTTP server.
 * @packageDocumentation
 */

export {
  ATTRIBUTION_ENV,
  ATTRIBUTION_SOURCES,
  type AttributionMode,
  type AttributionSource,
  type AttributionStatus,
  actorKind,
  type TaintAttribution,
} from './attribution.js';
export { isSupported, unsupportedReason } from './binding.js';
export { BOOT_ID_PATH, readBootId } from './boot-id.js';
export { decodeTaint, resolveFlag } from './decode.js';
export {
  AbortError,
  KernelTaintError,
  type KernelTaintErrorCode,
  NotAFileError,
  type SystemError,
  type TaintError,
  TaintValueError,
  UnsupportedError,
} from './errors.js';
export { type ExplainTaintOptions, explainTaint, KMSG_PATH } from './explain.js';
export { MAINLINE_FLAG_COUNT, PROFILE_IDS, TAINT_FLAGS } from './flags.js';
export { type FormatOptions, formatTaint } from './format.js';
export { type KernelVersion, parseKernelVersion } from './kernel-version.js';
export {
  type KmsgLineCause,
  type KmsgRecord,
  kmsgLineCause,
  parseKmsgRecord,
  parseWarnBanner,
  type WarnBanner,
} from './kmsg-cause.js';
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
export { detectProfile, PROFILE_NAMES, parseProfile, profileForRelease, resolveProfile } from './profiles.js';
export {
  closeReaders,
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
  type UnarmedTrigger,
  WATCH_TRIGGERS,
  type WatchReadyInfo,
  type WatchTaintOptions,
  type WatchTrigger,
  watchTaint,
} from './watch.js';

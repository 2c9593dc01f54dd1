/**
 * kernel-taint: read, decode, format, parse and watch Linux kernel taint.
 * The core only: integrations live behind subpaths (`kernel-taint/health`,
 * `kernel-taint/metrics`, `kernel-taint/journal`, `kernel-taint/serve`,
 * `kernel-taint/panel`), so importing this loads no HTTP server. The parser,
 * the watcher, explainTaint, the kmsg decoders and the module list load on
 * first use (lib/parts.ts): importing stays small and fast (npm run bench:startup).
 * @packageDocumentation
 */

import type * as Explain from './explain.js';
import type * as KmsgCause from './kmsg-cause.js';
import { lazyClass } from './lazy.js';
import type * as Modules from './modules.js';
import type * as Parse from './parse.js';
import { parts } from './parts.js';
import type * as Watch from './watch.js';

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
export { DEFAULT_WATCH_INTERVAL, KMSG_PATH, WATCH_TRIGGERS } from './defaults.js';
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
export type { ExplainTaintOptions } from './explain.js';
export { MAINLINE_FLAG_COUNT, PROFILE_IDS, TAINT_FLAGS } from './flags.js';
export { type FormatOptions, formatTaint } from './format.js';
export { type KernelVersion, parseKernelVersion } from './kernel-version.js';
export type { KmsgLineCause, KmsgRecord, WarnBanner } from './kmsg-cause.js';
export type { ChangeModules, ModuleTaint, ReadModuleTaintsOptions } from './modules.js';
export type { ParseOptions, TaintLineKind, TaintLogSource, TaintReport } from './parse.js';
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
export { severityOf, TAINT_SEVERITIES, type TaintSeverity, TaintVerdict } from './verdict.js';
export type {
  ChangeTrigger,
  TaintChange,
  TaintWatcherEvents,
  UnarmedTrigger,
  WatchReadyInfo,
  WatchTaintOptions,
  WatchTrigger,
} from './watch.js';

// The parts loaded on first use (lib/parts.ts): a wrapper per function, typed
// as the function it calls, and a lazily loaded class for TaintWatcher. What
// they throw comes from the same errors module as the rest of the core.

export const explainTaint: typeof Explain.explainTaint = (opts) => parts.explain().explainTaint(opts);

export const kmsgLineCause: typeof KmsgCause.kmsgLineCause = (text, tid) => parts.kmsgCause().kmsgLineCause(text, tid);
export const parseKmsgRecord: typeof KmsgCause.parseKmsgRecord = (line) => parts.kmsgCause().parseKmsgRecord(line);
export const parseWarnBanner: typeof KmsgCause.parseWarnBanner = (text) => parts.kmsgCause().parseWarnBanner(text);

export const readModuleTaints: typeof Modules.readModuleTaints = (opts) => parts.modules().readModuleTaints(opts);

export const decodeSupported: typeof Parse.decodeSupported = (text, opts) => parts.parse().decodeSupported(text, opts);
export const parseTaint: typeof Parse.parseTaint = (text, opts) => parts.parse().parseTaint(text, opts);
export const parseTaintLog = ((input: string & Parse.TaintLogSource, opts?: Parse.ParseOptions) =>
  parts.parse().parseTaintLog(input, opts)) as typeof Parse.parseTaintLog;
export const parseTaintStream: typeof Parse.parseTaintStream = (source, opts) =>
  parts.parse().parseTaintStream(source, opts);

export const watchTaint: typeof Watch.watchTaint = (opts) => parts.watch().watchTaint(opts);
export type TaintWatcher = Watch.TaintWatcher;
export const TaintWatcher = lazyClass('TaintWatcher', () => parts.watch().TaintWatcher);

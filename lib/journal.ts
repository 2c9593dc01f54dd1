/**
 * `kernel-taint/journal`: a crash-safe on-disk journal of taint changes.
 * @packageDocumentation
 */
export {
  JOURNAL_MODE_ENV,
  type JournalContents,
  type JournalMode,
  type JournalModule,
  type JournalRecord,
  type JournalTrigger,
  MAX_JOURNAL_BYTES,
  type ObserveInfo,
  openTaintJournal,
  parseJournalMode,
  readTaintJournal,
  TaintJournal,
  type TaintJournalEvents,
  type TaintJournalOptions,
} from './integrations/journal.js';
export type { SourceChange, SourceChangeListener, TaintSource } from './integrations/source.js';

// Constants of the parts of the core that load on first use (watch, explain):
// `kernel-taint` exports them at once, without loading those parts.
import type { NativeTrigger } from './binding.js';

/** The kernel log device. */
export const KMSG_PATH = '/dev/kmsg';

/** Every trigger, in the order the watcher prefers them when several fire at once. */
export const WATCH_TRIGGERS: readonly NativeTrigger[] = Object.freeze([
  'inotify',
  'uevent',
  'kmsg',
  'counter',
  'poll',
  'watchpoint',
  'tracepoint',
]);
/** Default poll backstop interval in milliseconds. */
export const DEFAULT_WATCH_INTERVAL = 5000;

/**
 * `kernel-taint/serve`: the sidecar server (panel, /health, /metrics, /events) and the
 * panel feed an Electron main process sends over IPC.
 * @packageDocumentation
 */

export {
  createTaintPanelFeed,
  type PanelFeedEvents,
  type PanelFeedOptions,
  TaintPanelFeed,
  toPanelChange,
} from './integrations/feed.js';
export {
  DEFAULT_SERVE_PORT,
  hostAllowed,
  PANEL_CSP,
  type ServeOptions,
  serveTaint,
  TaintServer,
} from './integrations/serve.js';
export type { SourceChange, SourceChangeListener, TaintSource } from './integrations/source.js';

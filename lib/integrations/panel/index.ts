/**
 * `kernel-taint/panel`: the system-info panel as a drop-in piece. Browser-safe:
 * no Node built-ins, no addon. Use `mountTaintPanel` in a page or an Electron
 * renderer, or `renderTaintPanelHtml` for a complete self-contained page.
 * @packageDocumentation
 */
export { mountTaintPanel, type PanelHandle, type PanelOptions } from './client.js';
export {
  type PanelPageOptions,
  renderTaintPanelHtml,
  TAINT_PANEL_CSS,
  TAINT_PANEL_PAGE_CSS,
  TAINT_PANEL_SCRIPT,
} from './html.js';
export type {
  PanelChange,
  PanelFeedHandlers,
  PanelFlag,
  PanelModule,
  PanelSnapshot,
  PanelStatus,
} from './types.js';

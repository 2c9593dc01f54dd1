/**
 * `kernel-taint/panel`: the system-info panel. Browser-safe: no Node built-ins, no addon.
 * @packageDocumentation
 */
export * from './integrations/panel/index.js';

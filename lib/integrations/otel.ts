// OpenTelemetry metrics through @opentelemetry/api (optional peer
// dependency). The types below are the part of the API's `Meter` used here,
// so this package's declarations do not require the API to be installed.
import { KernelTaintError } from '../errors.js';
import { readTaint } from '../read.js';
import type { Profile, TaintState } from '../types.js';
import { TaintChangeCounter, taintMetricFamilies } from './metrics.js';
import { loadPeer } from './peer.js';
import type { TaintSource } from './source.js';

/** An instrument handle (opaque here). */
export type OtelObservableLike = object;

/** The result object of a batch observable callback. */
export interface OtelBatchResultLike {
  observe(metric: OtelObservableLike, value: number, attributes?: Record<string, string | number>): void;
}

/** The part of an OpenTelemetry `Meter` used here. */
export interface OtelMeterLike {
  createObservableGauge(name: string, options?: { description?: string; unit?: string }): OtelObservableLike;
  createObservableCounter(name: string, options?: { description?: string; unit?: string }): OtelObservableLike;
  addBatchObservableCallback(callback: (result: OtelBatchResultLike) => void, observables: OtelObservableLike[]): void;
  removeBatchObservableCallback(
    callback: (result: OtelBatchResultLike) => void,
    observables: OtelObservableLike[],
  ): void;
}

/** Options of `observeTaintMetrics`. */
export interface OtelTaintOptions {
  /** A watcher: observations read its cached state (no syscall) and count its changes. */
  source?: TaintSource;
  /** File to read on each collection when there is no source. */
  path?: string;
  profile?: Profile;
  /** Called when a collection cannot read the taint (nothing is observed then). */
  onError?: (err: Error) => void;
}

/** Instrument names. */
export const OTEL_TAINT_METRICS = Object.freeze({
  flag: 'kernel.taint.flag',
  value: 'kernel.taint.value',
  changes: 'kernel.taint.changes',
});

/**
 * Registers OpenTelemetry observable instruments: the gauge
 * `kernel.taint.flag` (0/1 per known bit, attributes `kernel.taint.bit`,
 * `kernel.taint.flag`, `kernel.taint.name`, `kernel.taint.category`), the gauge
 * `kernel.taint.value` and the counter `kernel.taint.changes`
 * (`kernel.taint.flag`). Without a meter, `metrics.getMeter('kernel-taint')`
 * of `@opentelemetry/api` is used. Returns a function that unregisters them.
 *
 * @example
 * import { metrics } from '@opentelemetry/api';
 * const stop = observeTaintMetrics(metrics.getMeter('my-service'), { source: watchTaint() });
 */
export function observeTaintMetrics(meter?: OtelMeterLike, opts: OtelTaintOptions = {}): () => void {
  const m =
    meter ??
    loadPeer<{ metrics: { getMeter(name: string): OtelMeterLike } }>('@opentelemetry/api').metrics.getMeter(
      'kernel-taint',
    );
  if (typeof m?.createObservableGauge !== 'function') {
    throw new KernelTaintError('ERR_KERNEL_TAINT_INVALID_ARG', 'meter must be an OpenTelemetry Meter');
  }
  const flag = m.createObservableGauge(OTEL_TAINT_METRICS.flag, {
    description: 'Whether a kernel taint flag is set (1) or not (0), per known bit',
  });
  const value = m.createObservableGauge(OTEL_TAINT_METRICS.value, {
    description: 'The raw kernel taint bitmask (/proc/sys/kernel/tainted)',
  });
  const changes = m.createObservableCounter(OTEL_TAINT_METRICS.changes, {
    description: 'Kernel taint flags seen going from clear to set',
    unit: '{change}',
  });
  const counter = new TaintChangeCounter(opts.source);
  const callback = (result: OtelBatchResultLike): void => {
    let state: TaintState | null;
    try {
      state =
        opts.source?.current ??
        readTaint({ ...(opts.path ? { path: opts.path } : {}), profile: opts.profile ?? 'auto' });
      counter.observe(state);
    } catch (e) {
      opts.onError?.(e as Error);
      state = null;
    }
    const [perBit, raw, changed] = taintMetricFamilies(state, counter.counts(), { profile: opts.profile });
    for (const s of perBit.samples) {
      result.observe(flag, s.value, {
        'kernel.taint.bit': Number(s.labels.bit),
        'kernel.taint.flag': s.labels.flag,
        'kernel.taint.name': s.labels.name,
        'kernel.taint.category': s.labels.category,
      });
    }
    for (const s of raw.samples) result.observe(value, s.value);
    for (const s of changed.samples) result.observe(changes, s.value, { 'kernel.taint.flag': s.labels.flag });
  };
  const observables = [flag, value, changes];
  m.addBatchObservableCallback(callback, observables);
  return () => {
    m.removeBatchObservableCallback(callback, observables);
    counter.close();
  };
}

// Prometheus metrics: one definition of the metric families, rendered either
// as exposition text (the `serve` sidecar, no dependency) or through a
// prom-client registry (optional peer dependency).
//
// Label design as node_exporter's reviewers asked for a taint collector
// (prometheus/node_exporter#1567, #3745): one gauge with a series per known
// bit and labels, not one metric per letter.
import { readBootId } from '../boot-id.js';
import { KernelTaintError } from '../errors.js';
import { profileTable } from '../flags.js';
import { resolveProfile } from '../profiles.js';
import { readTaint } from '../read.js';
import type { Profile, TaintState } from '../types.js';
import { loadPeer } from './peer.js';
import { assertSource, type SourceChange, SourceHealth, type TaintSource } from './source.js';

/** One sample of a family. */
export interface MetricSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A metric family: what one `# HELP`/`# TYPE` block holds. */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly labelNames: readonly string[];
  readonly samples: readonly MetricSample[];
}

/**
 * Metric names for a prefix (default `node_`, the node_exporter namespace).
 *
 * @example
 * taintMetricNames('app_').tainted; // 'app_kernel_tainted'
 */
export function taintMetricNames(prefix = 'node_'): TaintMetricNames {
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(prefix)) {
    throw new KernelTaintError('ERR_KERNEL_TAINT_INVALID_ARG', `invalid metric name prefix ${JSON.stringify(prefix)}`);
  }
  return {
    tainted: `${prefix}kernel_tainted`,
    value: `${prefix}kernel_tainted_value`,
    changes: `${prefix}kernel_taint_changes_total`,
    readErrors: `${prefix}kernel_taint_read_errors_total`,
    readOk: `${prefix}kernel_taint_last_read_ok`,
    bootInfo: `${prefix}kernel_boot_info`,
  };
}

/** The metric names for one prefix. */
export interface TaintMetricNames {
  tainted: string;
  value: string;
  changes: string;
  /** Counter of failed reads of the taint file. */
  readErrors: string;
  /** 1 when the last read of the taint file worked, 0 when it failed (the value series are then absent). */
  readOk: string;
  /** 1, labelled `boot_id`: a new boot id on a node means it rebooted and its taint started again from 0. */
  bootInfo: string;
}

const HELP = {
  tainted: 'Whether a kernel taint flag is set (1) or not (0), one series per known bit (/proc/sys/kernel/tainted).',
  value: 'The raw kernel taint bitmask (/proc/sys/kernel/tainted).',
  changes: 'Kernel taint flags seen going from clear to set, by flag letter.',
  readErrors: 'Reads of the kernel taint file that failed (vanished, unreadable, not a taint value).',
  readOk:
    'Whether the last read of the kernel taint file worked (1) or failed (0); the taint series are absent while it fails.',
  bootInfo: 'The boot the taint belongs to (/proc/sys/kernel/random/boot_id); taint starts again from 0 on each boot.',
};

/**
 * Counts flags that went from clear to set: from a source's change events, or
 * by comparing consecutive observations when there is no source.
 *
 * @example
 * const counter = new TaintChangeCounter(watcher);
 * formatPrometheus(taintMetricFamilies(watcher.current, counter.counts()));
 */
export class TaintChangeCounter {
  readonly #counts = new Map<string, number>();
  #last: number | null = null;
  #source: TaintSource | undefined;
  readonly #onChange = (c: SourceChange) => {
    for (const f of c.added) this.#counts.set(f.letter, (this.#counts.get(f.letter) ?? 0) + 1);
    this.#last = c.current.value;
  };

  constructor(source?: TaintSource) {
    this.#source = source;
    source?.on('change', this.#onChange);
  }

  /** Feeds an observation (used when there is no source). */
  observe(state: TaintState): void {
    if (this.#source) return;
    if (this.#last !== null) {
      const added = state.value & ~this.#last;
      for (const f of state.flags) {
        if (((added >>> f.bit) & 1) === 1) this.#counts.set(f.letter, (this.#counts.get(f.letter) ?? 0) + 1);
      }
    }
    this.#last = state.value;
  }

  /** Count per flag letter. */
  counts(): ReadonlyMap<string, number> {
    return this.#counts;
  }

  /** Stops listening to the source. */
  close(): void {
    this.#source?.off('change', this.#onChange);
    this.#source = undefined;
  }
}

/**
 * The metric families for a state: `node_kernel_tainted{bit,flag,name,category}`
 * (one series per bit the profile defines, plus any unknown bit that is set),
 * `node_kernel_tainted_value` and `node_kernel_taint_changes_total{flag}`.
 * `state` may be null when the taint cannot be read: the per-bit and value
 * families are then empty.
 *
 * @example
 * formatPrometheus(taintMetricFamilies(decodeTaint(4096)));
 * // node_kernel_tainted{bit="12",flag="O",name="OOT_MODULE",category="integrity"} 1 ...
 */
export function taintMetricFamilies(
  state: TaintState | null,
  changes: ReadonlyMap<string, number> = new Map(),
  opts: {
    prefix?: string;
    profile?: Profile;
    /** Failed reads so far (default 0). */
    readErrors?: number;
    /** Whether the last read worked (default: `state !== null`). */
    readOk?: boolean;
    /** The boot id (`readBootId()`); no `kernel_boot_info` sample when null or absent. */
    bootId?: string | null;
  } = {},
): MetricFamily[] {
  const names = taintMetricNames(opts.prefix);
  const profile = state?.profile ?? resolveProfile(opts.profile, 'mainline');
  const table = profileTable(profile);
  const tainted: MetricSample[] = [];
  if (state) {
    const seen = new Set<number>();
    for (const f of table.flags) {
      seen.add(f.bit);
      tainted.push({
        labels: { bit: String(f.bit), flag: f.letter, name: f.name, category: f.category },
        value: (state.value >>> f.bit) & 1,
      });
    }
    for (const f of state.flags) {
      if (!seen.has(f.bit)) {
        tainted.push({ labels: { bit: String(f.bit), flag: f.letter, name: f.name, category: f.category }, value: 1 });
      }
    }
  }
  const changeSamples: MetricSample[] = [];
  // Every known letter starts at 0 so rate() works from the first increment.
  const letters = new Set<string>(table.flags.map((f) => f.letter).filter((l) => l !== '-'));
  for (const l of changes.keys()) letters.add(l);
  for (const l of [...letters].sort()) changeSamples.push({ labels: { flag: l }, value: changes.get(l) ?? 0 });
  return [
    {
      name: names.tainted,
      help: HELP.tainted,
      type: 'gauge',
      labelNames: ['bit', 'flag', 'name', 'category'],
      samples: tainted,
    },
    {
      name: names.value,
      help: HELP.value,
      type: 'gauge',
      labelNames: [],
      samples: state ? [{ labels: {}, value: state.value }] : [],
    },
    { name: names.changes, help: HELP.changes, type: 'counter', labelNames: ['flag'], samples: changeSamples },
    {
      name: names.readErrors,
      help: HELP.readErrors,
      type: 'counter',
      labelNames: [],
      samples: [{ labels: {}, value: opts.readErrors ?? 0 }],
    },
    {
      name: names.readOk,
      help: HELP.readOk,
      type: 'gauge',
      labelNames: [],
      samples: [{ labels: {}, value: (opts.readOk ?? state !== null) ? 1 : 0 }],
    },
    {
      name: names.bootInfo,
      help: HELP.bootInfo,
      type: 'gauge',
      labelNames: ['boot_id'],
      samples: opts.bootId ? [{ labels: { boot_id: opts.bootId }, value: 1 }] : [],
    },
  ];
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Content type of the Prometheus text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Renders families in the Prometheus text exposition format (0.0.4).
 *
 * @example
 * res.setHeader('Content-Type', PROMETHEUS_CONTENT_TYPE);
 * res.end(formatPrometheus(taintMetricFamilies(readTaint())));
 */
export function formatPrometheus(families: readonly MetricFamily[]): string {
  let out = '';
  for (const f of families) {
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) {
      const keys = Object.keys(s.labels);
      const labels = keys.length ? `{${keys.map((k) => `${k}="${escapeLabel(s.labels[k])}"`).join(',')}}` : '';
      out += `${f.name}${labels} ${s.value}\n`;
    }
  }
  return out;
}

/** The part of a prom-client `Registry` used here. */
export interface PromRegistryLike {
  removeSingleMetric(name: string): void;
}

/** The part of a prom-client Gauge/Counter used here. */
export interface PromMetricLike {
  set?(labels: Record<string, string>, value: number): void;
  inc?(labels: Record<string, string>, value?: number): void;
  remove?(labels: Record<string, string>): void;
  reset(): void;
}

/** The part of the prom-client module used here (`import * as client from 'prom-client'`). */
export interface PromClientLike {
  Gauge: new (config: PromMetricConfig) => object;
  Counter: new (config: PromMetricConfig) => object;
}

/** What a prom-client Gauge or Counter is constructed with here. */
export interface PromMetricConfig {
  name: string;
  help: string;
  labelNames: string[];
  registers: never[];
  collect?: () => void;
}

/** Options of `collectTaintMetrics`. */
export interface TaintMetricsOptions {
  /** A watcher: scrapes read its cached state (no syscall) and changes are counted from its events. */
  source?: TaintSource;
  /** File to read on each scrape when there is no source. */
  path?: string;
  profile?: Profile;
  /** Metric name prefix (default `node_`). */
  prefix?: string;
  /** The prom-client module to use (default: `require('prom-client')`), so your copy creates the metrics. */
  client?: PromClientLike;
  /** Called when a scrape cannot read the taint (the per-bit series are then left out). */
  onError?: (err: Error) => void;
  /** Overrides /proc/sys/kernel/random/boot_id for `node_kernel_boot_info` (tests). */
  bootIdPath?: string;
}

/** What `collectTaintMetrics` returns. */
export interface TaintMetricsHandle {
  /** Metric names registered. */
  readonly names: TaintMetricNames;
  /** Removes the metrics from the registry and stops listening to the source. */
  close(): void;
}

/**
 * Registers the taint metrics on a prom-client registry: the gauge
 * `node_kernel_tainted{bit,flag,name,category}` (0/1 per known bit),
 * `node_kernel_tainted_value` and the counter
 * `node_kernel_taint_changes_total{flag}`. With a `source` (watcher) a
 * scrape costs no syscall.
 *
 * @example
 * import client from 'prom-client';
 * const metrics = collectTaintMetrics(client.register, { source: watchTaint(), client });
 * // later: metrics.close();
 */
export function collectTaintMetrics(registry: PromRegistryLike, opts: TaintMetricsOptions = {}): TaintMetricsHandle {
  const client = opts.client ?? loadPeer<PromClientLike>('prom-client');
  const names = taintMetricNames(opts.prefix);
  if (opts.source !== undefined) assertSource(opts.source, 'collectTaintMetrics: source');
  const counter = new TaintChangeCounter(opts.source);
  const tracker = opts.source ? new SourceHealth(opts.source) : null;
  // A boot id cannot change under a running process (a reboot ends it): read once.
  const bootId = readBootId(opts.bootIdPath);
  let directErrors = 0;
  const read = (): TaintState | null => {
    try {
      const failure = tracker?.error;
      if (failure) throw failure;
      const s =
        opts.source?.current ??
        readTaint({ ...(opts.path ? { path: opts.path } : {}), profile: opts.profile ?? 'auto' });
      counter.observe(s);
      return s;
    } catch (e) {
      if (!tracker) directErrors++;
      opts.onError?.(e as Error);
      return null;
    }
  };
  // prom-client calls collect() of each metric in registration order on
  // every scrape; the first one reads and the others use that reading.
  let families: MetricFamily[] = [];
  let at = 0;
  const refresh = () => {
    const state = read();
    families = taintMetricFamilies(state, counter.counts(), {
      prefix: opts.prefix,
      profile: opts.profile,
      readErrors: tracker ? tracker.errors : directErrors,
      bootId,
    });
    at = performance.now();
  };
  const fill = (metric: PromMetricLike, index: number) => {
    // A metric collected alone (getSingleMetricAsString) reads for itself.
    if (index > 0 && (families.length === 0 || performance.now() - at > 1000)) refresh();
    metric.reset();
    const samples = families[index].samples;
    // prom-client gives a label-less metric a 0 on reset: a value that could
    // not be read must be absent, not 0.
    if (samples.length === 0) metric.remove?.({});
    for (const s of samples) {
      if (metric.set) metric.set({ ...s.labels }, s.value);
      else metric.inc?.({ ...s.labels }, s.value);
    }
  };
  const registers = [registry] as never[];
  new client.Gauge({
    name: names.tainted,
    help: HELP.tainted,
    labelNames: ['bit', 'flag', 'name', 'category'],
    registers,
    collect(this: PromMetricLike) {
      refresh();
      fill(this, 0);
    },
  });
  new client.Gauge({
    name: names.value,
    help: HELP.value,
    labelNames: [],
    registers,
    collect(this: PromMetricLike) {
      fill(this, 1);
    },
  });
  new client.Counter({
    name: names.changes,
    help: HELP.changes,
    labelNames: ['flag'],
    registers,
    collect(this: PromMetricLike) {
      fill(this, 2);
    },
  });
  new client.Counter({
    name: names.readErrors,
    help: HELP.readErrors,
    labelNames: [],
    registers,
    collect(this: PromMetricLike) {
      fill(this, 3);
    },
  });
  new client.Gauge({
    name: names.readOk,
    help: HELP.readOk,
    labelNames: [],
    registers,
    collect(this: PromMetricLike) {
      fill(this, 4);
    },
  });
  new client.Gauge({
    name: names.bootInfo,
    help: HELP.bootInfo,
    labelNames: ['boot_id'],
    registers,
    collect(this: PromMetricLike) {
      fill(this, 5);
    },
  });
  return {
    names,
    close() {
      counter.close();
      tracker?.close();
      for (const n of Object.values(names)) registry.removeSingleMetric(n);
    },
  };
}

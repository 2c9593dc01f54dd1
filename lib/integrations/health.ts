// Health checks in the shape of the IETF "Health Check Response Format for
// HTTP APIs" draft (application/health+json), with adapters for node:http,
// Express, Fastify, Koa, @godaddy/terminus and lightship. No framework is a
// dependency: each adapter follows that framework's handler signature.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeValue, KernelTaintError } from '../errors.js';
import { readModuleTaints } from '../modules.js';
import { readTaint } from '../read.js';
import type { Profile, TaintState } from '../types.js';
import { bootBaseline } from './boot.js';
import {
  type ClassifyContext,
  classifyTaint,
  type ModuleLetters,
  policyNeedsBaseline,
  type TaintClassification,
  type TaintPolicy,
  type TaintStatus,
} from './policy.js';
import { assertSource, SourceHealth, type TaintSource } from './source.js';

/** Media type of the draft. */
export const HEALTH_CONTENT_TYPE = 'application/health+json';
/** The key of the taint check in `checks` ("componentName:measurementName"). */
export const HEALTH_CHECK_KEY = 'kernel:taint';

/** One entry of `checks['kernel:taint']`. */
export interface TaintCheckResult {
  componentId: string;
  componentType: 'system';
  /** The taint value. */
  observedValue: number | null;
  observedUnit: 'bitmask';
  status: TaintStatus;
  time: string;
  /** Why not `pass` (omitted on pass, as the draft asks). */
  output?: string;
  /** Letters of the set flags (`"PO"`). */
  letters: string;
  /** Profile used to decode. */
  profile: string | null;
  /** One per set flag: letter, name, category, status and why. */
  reasons: Array<{ letter: string; name: string; category: string; status: TaintStatus; message: string }>;
}

/** A response body in the draft's shape. */
export interface HealthCheckResponse {
  status: TaintStatus;
  version?: string;
  releaseId?: string;
  serviceId?: string;
  description?: string;
  /** Summary of what is wrong (omitted on pass). */
  output?: string;
  /** When the response was made (ISO 8601). */
  time: string;
  checks: { [HEALTH_CHECK_KEY]: TaintCheckResult[] };
}

/** Options of `healthCheck` and the adapters. */
export interface HealthCheckOptions {
  /** A watcher (or any `TaintSource`): answers come from its cached state, no syscall per request. */
  source?: TaintSource;
  /** File to read when there is no source (default /proc/sys/kernel/tainted). */
  path?: string;
  /** Flag table for direct reads (default `auto`). */
  profile?: Profile;
  /** The policy (see `parseTaintPolicy`); default: by category. */
  policy?: TaintPolicy;
  /** Baseline for a policy with `baseline: 'start'`; default: the state when the check was created. */
  baseline?: TaintState | number;
  /** Where a policy with `onlyNewSinceBoot` keeps its per-boot baseline (required for it). */
  baselineFile?: string;
  /** Overrides /proc/sys/kernel/random/boot_id (tests). */
  bootIdPath?: string;
  /**
   * Where module letters come from, for `allow` rules with `modules`: called on each check that needs
   * them (default `readModuleTaints`, whose one cached list is reused while nothing can have changed it).
   */
  readModules?: () => readonly ModuleLetters[];
  /**
   * What a failed read makes the check (a source in error, or a direct read that throws):
   * `'fail'` (the default; 503), `'warn'` (200), or `'last'`: judge the last value read
   * (with a source), saying in `output` that it is stale. Off Linux (unsupported) the
   * default is `'warn'`.
   */
  onError?: HealthOnError;
  /** Copied into the response. */
  serviceId?: string;
  description?: string;
  version?: string;
  releaseId?: string;
}

/** See `HealthCheckOptions.onError`. */
export type HealthOnError = 'fail' | 'warn' | 'last';

const ON_ERROR: readonly HealthOnError[] = ['fail', 'warn', 'last'];

/** A reusable check: keeps its baseline between calls. */
export interface TaintHealthCheck {
  /** Runs the check. */
  check(): HealthCheckResponse;
  /** Classification behind the last `check()` (null after a read error). */
  readonly last: TaintClassification | null;
  /** Stops following the source's errors (the check keeps working on `current`). */
  close(): void;
}

function badOption(name: string, want: string, got: unknown): KernelTaintError {
  return new KernelTaintError(
    'ERR_KERNEL_TAINT_INVALID_ARG',
    `createHealthCheck: ${name} must be ${want}, got ${describeValue(got)}`,
  );
}

function validateHealthOptions(opts: HealthCheckOptions): void {
  if (typeof opts !== 'object' || opts === null) throw badOption('options', 'an object', opts);
  if (opts.source !== undefined) assertSource(opts.source, 'createHealthCheck: source');
  for (const k of ['path', 'baselineFile', 'bootIdPath', 'serviceId', 'description', 'version', 'releaseId'] as const) {
    const v = opts[k];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0 || v.includes('\0'))) {
      throw badOption(k, 'a non-empty string', v);
    }
  }
  if (opts.onError !== undefined && !ON_ERROR.includes(opts.onError)) {
    throw badOption('onError', `one of ${ON_ERROR.join(', ')}`, opts.onError);
  }
  if (opts.policy !== undefined && (typeof opts.policy !== 'object' || opts.policy === null)) {
    throw badOption('policy', 'an object', opts.policy);
  }
  if (opts.readModules !== undefined && typeof opts.readModules !== 'function') {
    throw badOption('readModules', 'a function', opts.readModules);
  }
  const b = opts.baseline;
  if (
    b !== undefined &&
    typeof b !== 'number' &&
    (typeof b !== 'object' || b === null || typeof b.value !== 'number')
  ) {
    throw badOption('baseline', 'a number or a TaintState', b);
  }
}

/**
 * HTTP status for a response: 200 for pass and warn, 503 for fail, as the draft says.
 *
 * @example
 * res.writeHead(healthStatusCode(body.status), { 'Content-Type': HEALTH_CONTENT_TYPE });
 */
export function healthStatusCode(status: TaintStatus): 200 | 503 {
  return status === 'fail' ? 503 : 200;
}

function usesModuleRules(policy: TaintPolicy | undefined): boolean {
  return (policy?.allow ?? []).some((r) => typeof r === 'object' && r.modules !== undefined);
}

/**
 * Creates a reusable health check. With a policy whose baseline is `'start'`
 * the bits set now are remembered; with `onlyNewSinceBoot` the first value of
 * this boot is kept in `baselineFile`.
 *
 * @example
 * const taint = createHealthCheck({ source: watchTaint(), policy: { baseline: 'start' } });
 * app.get('/health', expressHealth(taint));
 * taint.check().status; // 'pass'
 */
export function createHealthCheck(opts: HealthCheckOptions = {}): TaintHealthCheck {
  validateHealthOptions(opts);
  const policy = opts.policy;
  const tracker = opts.source ? new SourceHealth(opts.source) : null;
  const read = (): TaintState => {
    const cur = opts.source?.current;
    const failure = tracker?.error;
    if (failure) {
      // The source's last read failed: its `current` is the last good value.
      if (opts.onError === 'last' && cur) return cur;
      throw failure;
    }
    if (cur) return cur;
    return readTaint({ ...(opts.path ? { path: opts.path } : {}), profile: opts.profile ?? 'auto' });
  };
  const need = policyNeedsBaseline(policy);
  let baseline: number | null = null;
  if (opts.baseline !== undefined) {
    baseline = typeof opts.baseline === 'number' ? opts.baseline : opts.baseline.value;
  } else if (need === 'boot') {
    if (!opts.baselineFile) {
      throw new KernelTaintError(
        'ERR_KERNEL_TAINT_INVALID_ARG',
        'a policy with onlyNewSinceBoot needs the baselineFile option',
      );
    }
  }
  const baselineFor = (state: TaintState): number | null => {
    if (baseline !== null) return baseline;
    if (need === 'start') baseline = state.value;
    else if (need === 'boot' && opts.baselineFile) {
      // Not cached: a reboot while the service runs is impossible, but the
      // file may be reset by an operator.
      return bootBaseline(opts.baselineFile, state.value, { bootIdPath: opts.bootIdPath }).value;
    }
    return baseline;
  };
  const wantModules = usesModuleRules(policy);
  const readModules = opts.readModules ?? (() => readModuleTaints({ profile: opts.profile ?? 'auto' }));
  // The default list is cached once for the package (lib/modules.ts); a given readModules is called as is.
  const modules = (): readonly ModuleLetters[] | undefined => (wantModules ? readModules() : undefined);
  // Take the 'start' baseline now, not at the first request.
  if (need === 'start' && baseline === null) {
    try {
      baselineFor(read());
    } catch {
      // Reported by check().
    }
  }
  let last: TaintClassification | null = null;
  const base = (): Omit<HealthCheckResponse, 'status' | 'checks' | 'time'> => {
    const out: Omit<HealthCheckResponse, 'status' | 'checks' | 'time'> = {};
    if (opts.version !== undefined) out.version = opts.version;
    if (opts.releaseId !== undefined) out.releaseId = opts.releaseId;
    if (opts.serviceId !== undefined) out.serviceId = opts.serviceId;
    if (opts.description !== undefined) out.description = opts.description;
    return out;
  };
  // The file actually read: the watcher's own path wins over `path`.
  const componentId = tracker?.path ?? opts.path ?? '/proc/sys/kernel/tainted';
  const staleNote = (): string => {
    const err = tracker?.error as (Error & { code?: string }) | null | undefined;
    if (!err) return '';
    return `stale for ${Math.round((tracker?.staleMs() ?? 0) / 1000)} s: cannot read kernel taint: ${err.message}${err.code ? ` (${err.code})` : ''}`;
  };
  return {
    get last() {
      return last;
    },
    close() {
      tracker?.close();
    },
    check(): HealthCheckResponse {
      const time = new Date().toISOString();
      let state: TaintState;
      let c: TaintClassification;
      try {
        state = read();
        const ctx: ClassifyContext = { baseline: baselineFor(state) };
        const mods = modules();
        if (mods !== undefined) ctx.modules = mods;
        c = classifyTaint(state, policy, ctx);
      } catch (e) {
        last = null;
        const err = e as Error & { code?: string };
        const chosen = opts.onError === 'last' ? undefined : opts.onError;
        const status: TaintStatus = chosen ?? (err.code === 'ERR_KERNEL_TAINT_UNSUPPORTED' ? 'warn' : 'fail');
        const stale = tracker?.error ? ` (stale for ${Math.round(tracker.staleMs() / 1000)} s)` : '';
        const output = `cannot read kernel taint: ${err.message}${err.code ? ` (${err.code})` : ''}${stale}`;
        return {
          status,
          ...base(),
          output,
          time,
          checks: {
            [HEALTH_CHECK_KEY]: [
              {
                componentId,
                componentType: 'system',
                observedValue: null,
                observedUnit: 'bitmask',
                status,
                time,
                output,
                letters: '',
                profile: null,
                reasons: [],
              },
            ],
          },
        };
      }
      last = c;
      const bad = c.reasons.filter((r) => r.status !== 'pass');
      const stale = staleNote();
      const output = [...bad.map((r) => `[${r.letter}] ${r.message}`), ...(stale ? [stale] : [])].join('; ');
      const result: TaintCheckResult = {
        componentId,
        componentType: 'system',
        observedValue: state.value,
        observedUnit: 'bitmask',
        status: c.status,
        time,
        letters: state.letters,
        profile: state.profile,
        reasons: c.reasons.map((r) => ({
          letter: r.letter,
          name: r.name,
          category: r.category,
          status: r.status,
          message: r.message,
        })),
      };
      // 'last' judges a stale value: it never looks better than warn.
      const status: TaintStatus = stale && c.status === 'pass' ? 'warn' : c.status;
      result.status = status;
      if (status !== 'pass') result.output = output;
      return {
        status,
        ...base(),
        ...(status === 'pass' ? {} : { output }),
        time,
        checks: { [HEALTH_CHECK_KEY]: [result] },
      };
    },
  };
}

/**
 * Runs a taint health check once and returns the draft-shaped body. For
 * handlers, create the check once with `createHealthCheck` (or pass options
 * to an adapter) so a `'start'` baseline is kept.
 *
 * @example
 * const body = healthCheck({ path: '/proc/sys/kernel/tainted' });
 * body.status;                          // 'pass' | 'warn' | 'fail'
 * body.checks['kernel:taint'][0].letters; // e.g. 'O'
 */
export function healthCheck(opts: HealthCheckOptions = {}): HealthCheckResponse {
  const c = createHealthCheck(opts);
  try {
    return c.check();
  } finally {
    c.close();
  }
}

type CheckLike = Pick<TaintHealthCheck, 'check'> | Omit<TaintHealthCheck, 'close'> | HealthCheckOptions | undefined;

function toCheck(c: CheckLike): Pick<TaintHealthCheck, 'check'> {
  if (c && typeof (c as TaintHealthCheck).check === 'function') return c as TaintHealthCheck;
  return createHealthCheck(c as HealthCheckOptions | undefined);
}

/** Writes a health response on a node:http (or Express) response. */
function send(res: ServerResponse, body: HealthCheckResponse, head: boolean): void {
  const text = JSON.stringify(body);
  res.statusCode = healthStatusCode(body.status);
  res.setHeader('Content-Type', HEALTH_CONTENT_TYPE);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(head ? undefined : text);
}

/**
 * A `node:http` request handler answering GET and HEAD with the health body
 * (other methods: 405). Mount it on your route.
 *
 * @example
 * const health = healthHandler({ source: watchTaint() });
 * http.createServer((req, res) => (req.url === '/health' ? health(req, res) : app(req, res)));
 */
export function healthHandler(check?: CheckLike): (req: IncomingMessage, res: ServerResponse) => void {
  const c = toCheck(check);
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('Allow', 'GET, HEAD');
      res.end();
      return;
    }
    send(res, c.check(), req.method === 'HEAD');
  };
}

/**
 * Express (and Connect) route handler: `(req, res, next)`. Errors go to `next`.
 *
 * @example
 * app.get('/health', expressHealth({ policy: loadTaintPolicy('taint-policy.json') }));
 */
export function expressHealth(
  check?: CheckLike,
): (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void {
  const c = toCheck(check);
  return (req, res, next) => {
    try {
      send(res, c.check(), req.method === 'HEAD');
    } catch (e) {
      if (next) next(e);
      else throw e;
    }
  };
}

/** The part of a Fastify reply the adapter uses. */
export interface FastifyReplyLike {
  code(statusCode: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  send(payload?: unknown): unknown;
}

/**
 * Fastify route handler: `async (request, reply)`.
 *
 * @example
 * fastify.get('/health', fastifyHealth({ source: watcher }));
 */
export function fastifyHealth(check?: CheckLike): (request: unknown, reply: FastifyReplyLike) => Promise<unknown> {
  const c = toCheck(check);
  return async (_request, reply) => {
    const body = c.check();
    return reply
      .code(healthStatusCode(body.status))
      .header('content-type', HEALTH_CONTENT_TYPE)
      .header('cache-control', 'no-store')
      .send(JSON.stringify(body));
  };
}

/** The part of a Koa context the adapter uses. */
export interface KoaContextLike {
  status: number;
  type: string;
  body: unknown;
  set(field: string, value: string): void;
}

/**
 * Koa middleware: `async (ctx, next)`; mount it on a route (e.g. with
 * @koa/router). It answers and does not call `next`.
 *
 * @example
 * router.get('/health', koaHealth({ source: watcher }));
 */
export function koaHealth(check?: CheckLike): (ctx: KoaContextLike, next?: () => Promise<unknown>) => Promise<void> {
  const c = toCheck(check);
  return async (ctx) => {
    const body = c.check();
    ctx.status = healthStatusCode(body.status);
    // The type is set before the body: Koa keeps an explicit type for string bodies.
    ctx.type = HEALTH_CONTENT_TYPE;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = JSON.stringify(body);
  };
}

/**
 * Thrown by the terminus check on `fail`; terminus puts `causes` (the
 * draft-shaped body) in its 503 answer. Code `ERR_KERNEL_TAINT_UNHEALTHY`.
 *
 * @example
 * try { await terminusHealth(check)(); } catch (e) { if (e instanceof TaintHealthCheckError) log(e.causes.output); }
 */
export class TaintHealthCheckError extends KernelTaintError {
  /** The draft-shaped body. */
  readonly causes: HealthCheckResponse;
  constructor(body: HealthCheckResponse) {
    super('ERR_KERNEL_TAINT_UNHEALTHY', `kernel taint check failed: ${body.output ?? body.status}`);
    this.name = 'TaintHealthCheckError';
    this.causes = body;
  }
}

/**
 * A `@godaddy/terminus` health check function: resolves with the body on pass
 * and warn (terminus answers 200 with it as `info`), throws a
 * `TaintHealthCheckError` whose `causes` is the body on fail (terminus
 * answers 503).
 *
 * @example
 * createTerminus(server, { healthChecks: { '/health': terminusHealth({ source: watcher }) } });
 */
export function terminusHealth(check?: CheckLike): () => Promise<HealthCheckResponse> {
  const c = toCheck(check);
  return async () => {
    const body = c.check();
    if (body.status === 'fail') throw new TaintHealthCheckError(body);
    return body;
  };
}

/** The part of a lightship instance the binding uses. */
export interface LightshipLike {
  signalReady(): void;
  signalNotReady(): void;
}

/**
 * Keeps a lightship instance's readiness in step with the taint check: not
 * ready while the status is `fail`. Re-checks on every change of the source
 * (and every `interval` ms when given). Returns a function that stops it.
 *
 * @example
 * const stop = lightshipHealth(lightship, { source: watchTaint() });
 */
export function lightshipHealth(
  lightship: LightshipLike,
  check?: Pick<TaintHealthCheck, 'check'> | (HealthCheckOptions & { interval?: number }),
): () => void {
  const c = toCheck(check);
  const source = check && 'source' in check ? check.source : undefined;
  const interval = check && 'interval' in check ? check.interval : undefined;
  let ready: boolean | null = null;
  const update = () => {
    const ok = c.check().status !== 'fail';
    if (ok !== ready) {
      ready = ok;
      if (ok) lightship.signalReady();
      else lightship.signalNotReady();
    }
  };
  update();
  const onChange = () => update();
  // A read error (and the recovery) changes the answer as much as a new value.
  const events = ['change', 'error', 'recover'] as const;
  const emitter = source as unknown as {
    on?: (e: string, l: () => void) => void;
    off?: (e: string, l: () => void) => void;
  };
  for (const e of events) emitter?.on?.(e, onChange);
  const timer = interval ? setInterval(update, interval) : undefined;
  timer?.unref();
  return () => {
    for (const e of events) emitter?.off?.(e, onChange);
    if (timer) clearInterval(timer);
    // Only a check made here from options is closed here.
    if (c !== check) (c as Partial<TaintHealthCheck>).close?.();
  };
}

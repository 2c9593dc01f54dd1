// `kernel-taint serve`: a small loopback HTTP sidecar. Every answer comes
// from the watcher's cached state, so requests cost no syscall.
//   GET /         the self-contained panel (strict CSP, hashes of its inline script and style)
//   GET /health   application/health+json (200 pass/warn, 503 fail)
//   GET /metrics  Prometheus text
//   GET /events   Server-Sent Events: `snapshot` on connect, then `change` + `snapshot`
//   GET /state    the current snapshot as JSON
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, isIPv4, isIPv6, type Socket } from 'node:net';
import { readBootId } from '../boot-id.js';
import { describeValue, KernelTaintError } from '../errors.js';
import type { Profile } from '../types.js';
import { watchTaint } from '../watch.js';
import { TaintPanelFeed } from './feed.js';
import { createHealthCheck, HEALTH_CONTENT_TYPE, healthStatusCode, type TaintHealthCheck } from './health.js';
import type { TaintJournal } from './journal.js';
import { formatPrometheus, PROMETHEUS_CONTENT_TYPE, TaintChangeCounter, taintMetricFamilies } from './metrics.js';
import { renderTaintPanelHtml, TAINT_PANEL_PAGE_CSS, TAINT_PANEL_SCRIPT } from './panel/html.js';
import type { PanelChange, PanelSnapshot } from './panel/types.js';
import type { ModuleLetters, TaintPolicy } from './policy.js';
import { assertSource, SourceHealth, type TaintSource } from './source.js';

/** Default port of `kernel-taint serve`. */
export const DEFAULT_SERVE_PORT = 9523;

/** Options of `serveTaint`. */
export interface ServeOptions {
  /** Address to bind (default `127.0.0.1`: loopback only). */
  host?: string;
  /** Port (default 9523; `0` picks a free one). */
  port?: number;
  /** A watcher (or any source) to serve; default: one created with `path`, `interval`, `profile`, closed with the server. */
  source?: TaintSource;
  /** File to watch when there is no source. */
  path?: string;
  /** Poll backstop of the created watcher (ms). */
  interval?: number;
  profile?: Profile;
  policy?: TaintPolicy;
  /** Per-boot baseline file for a policy with `onlyNewSinceBoot`. */
  baselineFile?: string;
  /** Overrides /proc/sys/kernel/random/boot_id (tests). */
  bootIdPath?: string;
  /** Where the module list comes from (default `readModuleTaints`). */
  readModules?: () => readonly ModuleLetters[];
  /** A journal to keep open with the server (closed with it). */
  journal?: TaintJournal;
  /** History entries kept and sent to new panel clients (default 100). */
  historySize?: number;
  /** Most concurrent `/events` clients (default 1000, at most `maxConnections` - 8); more get 503. */
  maxClients?: number;
  /**
   * Most open connections of any kind (default: half the open-file limit, at
   * most 1024). At the cap the oldest connection that is not answering a
   * request (idle keep-alive, or still sending its headers) is closed to make
   * room, so idle or slow clients cannot lock real requests out.
   */
  maxConnections?: number;
  /** A request's headers must arrive within this many ms (default 10000). */
  headersTimeout?: number;
  /** An idle keep-alive connection is closed after this many ms (default 5000). */
  idleTimeout?: number;
  /** Comment line sent to SSE clients this often (ms, default 15000). */
  heartbeat?: number;
  /**
   * Host names accepted in the `Host` header besides IP literals and
   * `localhost` (the CLI's `--allowed-host NAME`). Checked on every bind
   * address, so a page on another site cannot read the server through DNS
   * rebinding; other names get 421.
   */
  allowedHosts?: string[];
  /** Panel page title. */
  title?: string;
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/**
 * The Content-Security-Policy of the panel page: nothing but its own inline
 * script and style (by hash) and EventSource connections to itself.
 *
 * @example
 * res.setHeader('Content-Security-Policy', PANEL_CSP);
 * res.end(renderTaintPanelHtml({ initial: feed.snapshot() }));
 */
export const PANEL_CSP = [
  "default-src 'none'",
  `script-src ${sha256(TAINT_PANEL_SCRIPT)}`,
  `style-src ${sha256(TAINT_PANEL_PAGE_CSS)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const COMMON_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

const ROUTES = new Set(['/', '/health', '/metrics', '/events', '/state']);

/** Answers with a whole body; for HEAD the headers only (same Content-Length). */
function send(
  res: ServerResponse,
  status: number,
  type: string,
  text: string,
  opts: { head?: boolean; extra?: Record<string, string> } = {},
): void {
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'Content-Type': type,
    'Content-Length': String(Buffer.byteLength(text)),
    ...opts.extra,
  });
  res.end(opts.head ? undefined : text);
}

function plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  send(res, status, 'text/plain; charset=utf-8', text, { extra });
}

/** The `Host` header's name part, lowercased, without port, brackets kept for IPv6. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.lastIndexOf(':');
  const name = colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
  // `localhost.` is the same name as `localhost`.
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/**
 * Whether a `Host` header may reach the server: an IP literal (a browser
 * sends the name it resolved, so a rebinding page never sends one of these),
 * `localhost`, or a name in `allowed` (lowercase). Used on every bind.
 *
 * @example
 * hostAllowed('127.0.0.1:9523', new Set());   // true
 * hostAllowed('attacker.example', new Set()); // false
 */
export function hostAllowed(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (header === undefined || header === '') return false;
  const name = hostName(header);
  if (name === 'localhost' || allowed.has(name)) return true;
  if (name.startsWith('[') && name.endsWith(']')) return isIPv6(name.slice(1, -1));
  return isIPv4(name);
}

/** Half of this process's soft open-file limit (Linux), else 1024; at most 1024, at least 16. */
function defaultMaxConnections(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return Math.max(16, Math.min(1024, Math.floor(Number(m[1]) / 2)));
  } catch {
    // Not Linux.
  }
  return 1024;
}

function positiveInt(name: string, v: unknown, max: number): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)) {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_INVALID_ARG',
      `${name} must be an integer 1-${max}, got ${describeValue(v)}`,
    );
  }
}

/** Server-Sent Events clients of `/events`: broadcast, heartbeat, cap. */
class SseHub {
  readonly #clients = new Set<ServerResponse>();
  readonly #max: number;
  readonly #heartbeat: NodeJS.Timeout;

  constructor(max: number, heartbeatMs: number) {
    this.#max = max;
    this.#heartbeat = setInterval(() => {
      for (const c of this.#clients) c.write(': ping\n\n');
    }, heartbeatMs);
    this.#heartbeat.unref();
  }

  get size(): number {
    return this.#clients.size;
  }

  get full(): boolean {
    return this.#clients.size >= this.#max;
  }

  send(res: ServerResponse, event: string, data: unknown, id?: number): void {
    const ok = res.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    // A client that stopped reading is dropped rather than buffered without bound.
    if (!ok && res.writableLength > 1 << 20) res.destroy();
  }

  broadcast(event: string, data: unknown, id?: number): void {
    for (const c of this.#clients) this.send(c, event, data, id);
  }

  add(req: IncomingMessage, res: ServerResponse, first: PanelSnapshot): void {
    res.writeHead(200, {
      ...COMMON_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    // The heartbeat keeps it alive; the idle timeout is for silent connections.
    req.socket.setTimeout(0);
    // The snapshot carries the whole history, so a reconnecting client
    // (Last-Event-ID) is brought up to date without a replay.
    res.write('retry: 2000\n\n');
    this.send(res, 'snapshot', first);
    this.#clients.add(res);
    const drop = () => this.#clients.delete(res);
    req.on('close', drop);
    res.on('close', drop);
    res.on('error', drop);
  }

  close(): void {
    clearInterval(this.#heartbeat);
    for (const c of this.#clients) c.end();
    this.#clients.clear();
  }
}

/** What the server knows of one open connection. */
interface Conn {
  /** Answering a request (or streaming events): not evicted. */
  busy: boolean;
  /** Closes the connection unless a request's headers are complete by then. */
  deadline: NodeJS.Timeout | null;
}

/**
 * The sidecar server (create it with `serveTaint`): routes, the SSE hub,
 * connection limits and lifecycle. Every answer comes from cached state.
 */
export class TaintServer {
  /** The underlying node:http server. */
  readonly server: Server;
  /** The feed behind the panel. */
  readonly feed: TaintPanelFeed;
  #url = '';
  #host = '';
  #port = 0;
  readonly #opts: ServeOptions;
  readonly #source: TaintSource & { close?: () => Promise<void> };
  readonly #ownSource: boolean;
  readonly #health: TaintHealthCheck;
  readonly #sourceHealth: SourceHealth;
  /** For `node_kernel_boot_info`: read once, a reboot ends this process. */
  readonly #bootId: string | null;
  readonly #counter: TaintChangeCounter;
  readonly #hub: SseHub;
  readonly #allowed: ReadonlySet<string>;
  readonly #maxConnections: number;
  readonly #conns = new Map<Socket, Conn>();
  readonly #headersTimeout: number;
  #evicted = 0;
  #closing: Promise<void> | null = null;
  readonly #onChange = (change: PanelChange, snapshot: PanelSnapshot) => {
    this.#hub.broadcast('change', change, change.seq);
    this.#hub.broadcast('snapshot', snapshot);
  };
  readonly #onSnapshot = (snapshot: PanelSnapshot) => this.#hub.broadcast('snapshot', snapshot);

  /** @internal Use `serveTaint`. */
  constructor(opts: ServeOptions) {
    this.#opts = opts;
    positiveInt('maxConnections', opts.maxConnections, 1 << 20);
    positiveInt('maxClients', opts.maxClients, 1 << 20);
    positiveInt('headersTimeout', opts.headersTimeout, 0x7fff_ffff);
    positiveInt('idleTimeout', opts.idleTimeout, 0x7fff_ffff);
    positiveInt('heartbeat', opts.heartbeat, 0x7fff_ffff);
    if (
      opts.allowedHosts !== undefined &&
      (!Array.isArray(opts.allowedHosts) || opts.allowedHosts.some((h) => typeof h !== 'string' || h === ''))
    ) {
      throw new KernelTaintError('ERR_KERNEL_TAINT_INVALID_ARG', 'allowedHosts must be an array of host names');
    }
    if (opts.source !== undefined) assertSource(opts.source, 'serveTaint: source');
    this.#maxConnections = opts.maxConnections ?? defaultMaxConnections();
    this.#allowed = new Set((opts.allowedHosts ?? []).map((h) => hostName(h)));
    this.#ownSource = opts.source === undefined;
    this.#source =
      opts.source ??
      watchTaint({
        ...(opts.path ? { path: opts.path } : {}),
        ...(opts.interval !== undefined ? { interval: opts.interval } : {}),
        profile: opts.profile ?? 'auto',
      });
    // What the panel feed and the health check both judge the state with.
    const judging = {
      source: this.#source,
      ...(opts.policy ? { policy: opts.policy } : {}),
      ...(opts.baselineFile ? { baselineFile: opts.baselineFile } : {}),
      ...(opts.bootIdPath ? { bootIdPath: opts.bootIdPath } : {}),
      ...(opts.profile ? { profile: opts.profile } : {}),
      ...(opts.readModules ? { readModules: opts.readModules } : {}),
    };
    try {
      this.feed = new TaintPanelFeed({ ...judging, historySize: opts.historySize ?? 100 });
      this.#health = createHealthCheck({ ...judging, ...(opts.path ? { path: opts.path } : {}) });
    } catch (e) {
      if (this.#ownSource) void this.#source.close?.();
      throw e;
    }
    this.#sourceHealth = new SourceHealth(this.#source);
    this.#bootId = readBootId(opts.bootIdPath);
    this.#counter = new TaintChangeCounter(this.#source);
    this.#hub = new SseHub(
      Math.min(opts.maxClients ?? 1000, Math.max(1, this.#maxConnections - 8)),
      opts.heartbeat ?? 15_000,
    );
    this.feed.on('change', this.#onChange);
    this.feed.on('snapshot', this.#onSnapshot);
    const headersTimeout = opts.headersTimeout ?? 10_000;
    this.#headersTimeout = headersTimeout;
    this.server = createServer(
      {
        maxHeaderSize: 16 * 1024,
        headersTimeout,
        requestTimeout: headersTimeout + 5_000,
        keepAliveTimeout: opts.idleTimeout ?? 5_000,
        // How often the header/request timeouts are checked (default 30 s).
        connectionsCheckingInterval: Math.min(1_000, headersTimeout),
      },
      (req, res) => this.#request(req, res),
    );
    // A connection that sends nothing at all is closed after the idle time.
    this.server.setTimeout(Math.max(opts.idleTimeout ?? 5_000, headersTimeout) + 1_000, (s: Socket) => s.destroy());
    this.server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      const status =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? '408 Request Timeout'
            : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    this.server.on('connection', (s: Socket) => this.#connection(s));
  }

  /** `http://host:port`. */
  get url(): string {
    return this.#url;
  }
  get host(): string {
    return this.#host;
  }
  get port(): number {
    return this.#port;
  }
  /** Connected `/events` clients. */
  get clients(): number {
    return this.#hub.size;
  }
  /** Open connections of any kind. */
  get connections(): number {
    return this.#conns.size;
  }
  /** Connections closed to make room under `maxConnections`. */
  get evicted(): number {
    return this.#evicted;
  }

  #connection(s: Socket): void {
    if (this.#conns.size >= this.#maxConnections) {
      // Make room: the oldest connection that is not answering anything.
      let victim: Socket | undefined;
      for (const [sock, c] of this.#conns) {
        if (!c.busy) {
          victim = sock;
          break;
        }
      }
      this.#evicted++;
      if (victim) {
        this.#conns.delete(victim);
        victim.destroy();
      } else {
        s.destroy();
        return;
      }
    }
    const conn: Conn = { busy: false, deadline: null };
    this.#arm(s, conn);
    this.#conns.set(s, conn);
    s.on('close', () => {
      if (conn.deadline) clearTimeout(conn.deadline);
      this.#conns.delete(s);
    });
  }

  // Node's own headersTimeout is not enforced on a connection that keeps
  // dripping header lines (measured under the slowloris fault test): a
  // deadline per connection from its start, or from the end of its last answer.
  #arm(s: Socket, conn: Conn): void {
    if (conn.deadline) clearTimeout(conn.deadline);
    conn.deadline = setTimeout(
      () => {
        if (!conn.busy) s.destroy();
      },
      this.#headersTimeout + (this.#opts.idleTimeout ?? 5_000),
    );
    conn.deadline.unref();
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const conn = this.#conns.get(req.socket);
    if (conn) {
      // Re-inserted: the map's order is the order of last use.
      this.#conns.delete(req.socket);
      this.#conns.set(req.socket, conn);
      conn.busy = true;
      if (conn.deadline) clearTimeout(conn.deadline);
      conn.deadline = null;
      res.on('finish', () => {
        conn.busy = false;
        this.#arm(req.socket, conn);
      });
    }
    try {
      this.#route(req, res);
    } catch (e) {
      if (!res.headersSent) plain(res, 500, `Internal Server Error: ${(e as Error).message}\n`);
      else res.destroy();
    }
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      plain(res, 400, 'Bad Request\n');
      return;
    }
    if (!hostAllowed(req.headers.host, this.#allowed)) {
      plain(res, 421, 'Misdirected Request: unexpected Host header (see --allowed-host)\n');
      return;
    }
    if (!ROUTES.has(pathname)) {
      plain(res, 404, 'Not Found\n');
      return;
    }
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      plain(res, 405, 'Method Not Allowed\n', { Allow: pathname === '/events' ? 'GET' : 'GET, HEAD' });
      return;
    }
    switch (pathname) {
      case '/': {
        const html = renderTaintPanelHtml({
          title: this.#opts.title ?? 'Kernel taint',
          eventsUrl: '/events',
          initial: this.feed.snapshot(),
        });
        send(res, 200, 'text/html; charset=utf-8', html, {
          head,
          extra: {
            'Content-Security-Policy': PANEL_CSP,
            'Cross-Origin-Opener-Policy': 'same-origin',
            'X-Frame-Options': 'DENY',
          },
        });
        return;
      }
      case '/health': {
        const body = this.#health.check();
        send(res, healthStatusCode(body.status), HEALTH_CONTENT_TYPE, JSON.stringify(body), { head });
        return;
      }
      case '/metrics': {
        const failing = this.#sourceHealth.error !== null;
        const text = formatPrometheus(
          taintMetricFamilies(failing ? null : (this.#source.current ?? null), this.#counter.counts(), {
            profile: this.#opts.profile,
            readErrors: this.#sourceHealth.errors,
            readOk: !failing && this.#source.current != null,
            bootId: this.#bootId,
          }),
        );
        send(res, 200, PROMETHEUS_CONTENT_TYPE, text, { head });
        return;
      }
      case '/state': {
        send(res, 200, 'application/json; charset=utf-8', JSON.stringify(this.feed.snapshot()), { head });
        return;
      }
      case '/events': {
        if (head) {
          plain(res, 405, 'Method Not Allowed\n', { Allow: 'GET' });
          return;
        }
        if (this.#hub.full) {
          plain(res, 503, 'Too many event clients\n', { 'Retry-After': '5' });
          return;
        }
        this.#hub.add(req, res, this.feed.snapshot());
        return;
      }
    }
  }

  async #cleanup(): Promise<void> {
    this.#hub.close();
    this.feed.off('change', this.#onChange);
    this.feed.off('snapshot', this.#onSnapshot);
    this.feed.close();
    this.#health.close();
    this.#sourceHealth.close();
    this.#counter.close();
    if (this.#ownSource) await this.#source.close?.();
    await this.#opts.journal?.close();
  }

  /** @internal Binds; on failure releases everything. */
  async listen(port: number, host: string): Promise<this> {
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(port, host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      await this.#cleanup();
      throw e;
    }
    const addr = this.server.address() as AddressInfo;
    this.#host = addr.address;
    this.#port = addr.port;
    this.#url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
    return this;
  }

  /** Closes SSE clients, every connection, the server, and the watcher and journal it owns. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#hub.close();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      for (const s of this.#conns.keys()) s.destroy();
      await closed;
      await this.#cleanup();
    })();
    return this.#closing;
  }
}

/**
 * Starts the sidecar server: `/` panel page, `/health`, `/metrics`,
 * `/events` (SSE) and `/state`. Binds 127.0.0.1 unless told otherwise; the
 * `Host` header is checked on every bind (IP literals, `localhost` and
 * `allowedHosts`, else 421).
 *
 * @example
 * const srv = await serveTaint({ port: 0 });
 * console.log(`panel at ${srv.url}/`);
 * // later
 * await srv.close();
 */
export async function serveTaint(opts: ServeOptions = {}): Promise<TaintServer> {
  if (typeof opts !== 'object' || opts === null) {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_INVALID_ARG',
      `serveTaint options must be an object, got ${describeValue(opts)}`,
    );
  }
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? DEFAULT_SERVE_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new KernelTaintError('ERR_KERNEL_TAINT_INVALID_ARG', `port must be an integer 0-65535, got ${port}`);
  }
  if (typeof host !== 'string' || host === '') {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_INVALID_ARG',
      `host must be a non-empty string, got ${describeValue(host)}`,
    );
  }
  return new TaintServer(opts).listen(port, host);
}

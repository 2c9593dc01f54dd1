// `kernel-taint serve`: a small loopback HTTP sidecar. Every answer comes
// from the watcher's cached state, so requests cost no syscall.
//   GET /         the self-contained panel (strict CSP, hashes of its inline script and style)
//   GET /health   application/health+json (200 pass/warn, 503 fail)
//   GET /metrics  Prometheus text
//   GET /events   Server-Sent Events: `snapshot` on connect, then `change` + `snapshot`
//   GET /state    the current snapshot as JSON
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KernelTaintError } from '../errors.js';
import type { Profile } from '../types.js';
import { watchTaint } from '../watch.js';
import { TaintPanelFeed } from './feed.js';
import { createHealthCheck, HEALTH_CONTENT_TYPE, healthStatusCode } from './health.js';
import type { TaintJournal } from './journal.js';
import { formatPrometheus, PROMETHEUS_CONTENT_TYPE, TaintChangeCounter, taintMetricFamilies } from './metrics.js';
import { renderTaintPanelHtml, TAINT_PANEL_PAGE_CSS, TAINT_PANEL_SCRIPT } from './panel/html.js';
import type { PanelChange, PanelSnapshot } from './panel/types.js';
import type { ModuleLetters, TaintPolicy } from './policy.js';
import type { TaintSource } from './source.js';

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
  /** Most concurrent `/events` clients (default 1000); more get 503. */
  maxClients?: number;
  /** Comment line sent to SSE clients this often (ms, default 15000). */
  heartbeat?: number;
  /**
   * Host names accepted in the `Host` header when bound to loopback (default
   * `localhost`, `127.0.0.1`, `[::1]` and the bound host): a page on another
   * site cannot reach the server through DNS rebinding.
   */
  allowedHosts?: string[];
  /** Panel page title. */
  title?: string;
}

/** A running server. */
export interface TaintServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The underlying node:http server. */
  readonly server: Server;
  /** Connected `/events` clients. */
  readonly clients: number;
  /** The feed behind the panel. */
  readonly feed: TaintPanelFeed;
  /** Closes SSE clients, the server, and the watcher and journal it owns. Idempotent. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '[::1]']);

function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
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

/**
 * Starts the sidecar server: `/` panel page, `/health`, `/metrics`,
 * `/events` (SSE) and `/state`. Binds 127.0.0.1 unless told otherwise.
 *
 * @example
 * const srv = await serveTaint({ port: 0 });
 * console.log(`panel at ${srv.url}/`);
 * // later
 * await srv.close();
 */
export async function serveTaint(opts: ServeOptions = {}): Promise<TaintServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? DEFAULT_SERVE_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new KernelTaintError('ERR_KERNEL_TAINT_INVALID_ARG', `port must be an integer 0-65535, got ${port}`);
  }
  const ownSource = opts.source === undefined;
  const source: TaintSource & { close?: () => Promise<void> } =
    opts.source ??
    watchTaint({
      ...(opts.path ? { path: opts.path } : {}),
      ...(opts.interval !== undefined ? { interval: opts.interval } : {}),
      profile: opts.profile ?? 'auto',
    });
  // What the panel feed and the health check both judge the state with.
  const judging = {
    source,
    ...(opts.policy ? { policy: opts.policy } : {}),
    ...(opts.baselineFile ? { baselineFile: opts.baselineFile } : {}),
    ...(opts.bootIdPath ? { bootIdPath: opts.bootIdPath } : {}),
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.readModules ? { readModules: opts.readModules } : {}),
  };
  const feed = new TaintPanelFeed({ ...judging, historySize: opts.historySize ?? 100 });
  const health = createHealthCheck({ ...judging, ...(opts.path ? { path: opts.path } : {}) });
  const counter = new TaintChangeCounter(source);
  const maxClients = opts.maxClients ?? 1000;
  const clients = new Set<ServerResponse>();
  const allowed = new Set([...LOOPBACK, host, ...(opts.allowedHosts ?? [])].map((h) => h.toLowerCase()));
  const checkHost = isLoopback(host);
  const title = opts.title ?? 'Kernel taint';

  const sendEvent = (res: ServerResponse, event: string, data: unknown, id?: number): void => {
    const ok = res.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    // A client that stopped reading is dropped rather than buffered without bound.
    if (!ok && res.writableLength > 1 << 20) res.destroy();
  };
  const onChange = (change: PanelChange, snapshot: PanelSnapshot) => {
    for (const c of clients) {
      sendEvent(c, 'change', change, change.seq);
      sendEvent(c, 'snapshot', snapshot);
    }
  };
  const onSnapshot = (snapshot: PanelSnapshot) => {
    for (const c of clients) sendEvent(c, 'snapshot', snapshot);
  };
  feed.on('change', onChange);
  feed.on('snapshot', onSnapshot);

  const heartbeat = setInterval(() => {
    for (const c of clients) c.write(': ping\n\n');
  }, opts.heartbeat ?? 15_000);
  heartbeat.unref();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      plain(res, 400, 'Bad Request\n');
      return;
    }
    if (checkHost) {
      const h = (req.headers.host ?? '').toLowerCase();
      const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.split(':')[0];
      if (!allowed.has(name)) {
        plain(res, 421, 'Misdirected Request: unexpected Host header\n');
        return;
      }
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
        const html = renderTaintPanelHtml({ title, eventsUrl: '/events', initial: feed.snapshot() });
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
        const body = health.check();
        send(res, healthStatusCode(body.status), HEALTH_CONTENT_TYPE, JSON.stringify(body), { head });
        return;
      }
      case '/metrics': {
        const text = formatPrometheus(
          taintMetricFamilies(source.current ?? null, counter.counts(), { profile: opts.profile }),
        );
        send(res, 200, PROMETHEUS_CONTENT_TYPE, text, { head });
        return;
      }
      case '/state': {
        send(res, 200, 'application/json; charset=utf-8', JSON.stringify(feed.snapshot()), { head });
        return;
      }
      case '/events': {
        if (head) {
          plain(res, 405, 'Method Not Allowed\n', { Allow: 'GET' });
          return;
        }
        if (clients.size >= maxClients) {
          plain(res, 503, 'Too many event clients\n', { 'Retry-After': '5' });
          return;
        }
        res.writeHead(200, {
          ...COMMON_HEADERS,
          'Content-Type': 'text/event-stream; charset=utf-8',
          Connection: 'keep-alive',
          'X-Accel-Buffering': 'no',
        });
        // The snapshot carries the whole history, so a reconnecting client
        // (Last-Event-ID) is brought up to date without a replay.
        res.write('retry: 2000\n\n');
        sendEvent(res, 'snapshot', feed.snapshot());
        clients.add(res);
        const drop = () => clients.delete(res);
        req.on('close', drop);
        res.on('close', drop);
        res.on('error', drop);
        return;
      }
    }
  };

  const server = createServer(
    {
      maxHeaderSize: 16 * 1024,
      headersTimeout: 10_000,
      requestTimeout: 15_000,
      keepAliveTimeout: 5_000,
    },
    (req, res) => {
      try {
        handle(req, res);
      } catch (e) {
        if (!res.headersSent) plain(res, 500, `Internal Server Error: ${(e as Error).message}\n`);
        else res.destroy();
      }
    },
  );
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
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
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const cleanup = async () => {
    clearInterval(heartbeat);
    feed.off('change', onChange);
    feed.off('snapshot', onSnapshot);
    feed.close();
    counter.close();
    if (ownSource) await source.close?.();
    await opts.journal?.close();
  };

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await cleanup();
    throw e;
  }
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    server,
    feed,
    get clients() {
      return clients.size;
    },
    close() {
      closing ??= (async () => {
        for (const c of clients) c.end();
        clients.clear();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        for (const s of sockets) s.destroy();
        await closed;
        await cleanup();
      })();
      return closing;
    },
  };
}

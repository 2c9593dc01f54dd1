// `npm run bench:serve`: a bounded local load test of `kernel-taint serve`
// (loopback only). Runs the server in this process on a temp taint file and:
//   1. 10,000 GET /metrics over 50 keep-alive connections: throughput, p50/p99;
//   2. 1,000 bad requests (404, 405, 431 huge headers, garbage);
//   3. 10 rounds of 200 concurrent /events clients that connect, receive the
//      snapshot and a broadcast change, and drop;
// then compares descriptors (/proc/self/fd) and memory (after gc) with the
// numbers taken after a warm-up. Prints a Markdown table for BENCHMARKS.md.
// Needs dist/ (npm run build:ts); run with --expose-gc for the memory check.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveTaint } from '../dist/serve.mjs';

const METRICS_REQUESTS = Number(process.env.KT_BENCH_METRICS ?? 10_000);
const METRICS_CONCURRENCY = 50;
const BAD_REQUESTS = 1000;
const SSE_CLIENTS = 200;
const SSE_ROUNDS = 10;
const DEADLINE_MS = 120_000;

const started = Date.now();
const checkDeadline = () => {
  if (Date.now() - started > DEADLINE_MS) throw new Error(`load test exceeded ${DEADLINE_MS} ms`);
};

const fds = () => readdirSync('/proc/self/fd').length;
const gc = globalThis.gc ?? (() => {});
async function settle() {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
}
const mem = () => {
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
};
const mb = (n) => `${(n / 1024 / 1024).toFixed(1)} MB`;

function get(agent, url) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = request(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ns: Number(process.hrtime.bigint() - t0) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function raw(port, text) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.end(text));
    let out = '';
    sock.setEncoding('utf8').on('data', (d) => {
      out += d;
    });
    sock.on('close', () => resolve(out.slice(9, 12)));
    sock.on('error', reject);
  });
}

/** One SSE client: resolves once it saw `want` events, then drops the connection. */
function sseClient(url, want) {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`SSE client saw ${seen} of ${want} events in 15 s`));
    }, 15_000);
    const req = request(`${url}/events`, (res) => {
      res.setEncoding('utf8').on('data', (d) => {
        seen += d.split('\n\n').filter((b) => b.includes('data: ')).length;
        if (seen >= want) {
          clearTimeout(timer);
          req.destroy();
          resolve(seen);
        }
      });
    });
    req.on('error', (e) => (seen >= want ? resolve(seen) : reject(e)));
    req.end();
  });
}

const step = (s) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${s}\n`);
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'kt-bench-serve-'));
  const path = join(dir, 'tainted');
  writeFileSync(path, '4096\n');
  const server = await serveTaint({ port: 0, path, profile: 'mainline', interval: 1000, readModules: () => [] });
  const agent = new Agent({ keepAlive: true, maxSockets: METRICS_CONCURRENCY });
  try {
    step('warm-up');
    for (let i = 0; i < 500; i++) await get(agent, `${server.url}/metrics`);
    await Promise.all(Array.from({ length: 20 }, () => sseClient(server.url, 1)));
    await settle();
    const fd0 = fds();
    const mem0 = mem();

    // One pass of the three loads; returns its numbers and the state after it.
    const pass = async (value) => {
      step(`${METRICS_REQUESTS} x /metrics`);
      const lat = [];
      let next = 0;
      let non200 = 0;
      const t0 = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: METRICS_CONCURRENCY }, async () => {
          while (next < METRICS_REQUESTS) {
            next++;
            const r = await get(agent, `${server.url}/metrics`);
            if (r.status !== 200) non200++;
            lat.push(r.ns);
          }
          checkDeadline();
        }),
      );
      const metricsSec = Number(process.hrtime.bigint() - t0) / 1e9;
      lat.sort((a, b) => a - b);

      step(`${BAD_REQUESTS} bad requests`);
      const bad = { 404: 0, 405: 0, 431: 0, 400: 0, other: 0 };
      for (let i = 0; i < BAD_REQUESTS; i++) {
        const kind = i % 4;
        const status =
          kind === 0
            ? (await get(agent, `${server.url}/nope-${i}`)).status
            : kind === 1
              ? await raw(server.port, 'DELETE /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
              : kind === 2
                ? await raw(
                    server.port,
                    `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`,
                  )
                : await raw(server.port, 'GARBAGE\r\n\r\n');
        bad[status] = (bad[status] ?? 0) + 1;
      }
      checkDeadline();

      step(`${SSE_ROUNDS} x ${SSE_CLIENTS} SSE clients`);
      let maxClients = 0;
      const sseT0 = process.hrtime.bigint();
      for (let round = 0; round < SSE_ROUNDS; round++) {
        // The previous round's drops reach the server asynchronously.
        const drained = Date.now() + 5000;
        while (server.clients > 0 && Date.now() < drained) await new Promise((r) => setTimeout(r, 5));
        const clients = Array.from({ length: SSE_CLIENTS }, () => sseClient(server.url, 3));
        // Wait until all are connected, then change the file: each gets change + snapshot.
        const until = Date.now() + 10_000;
        while (server.clients < SSE_CLIENTS && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
        maxClients = Math.max(maxClients, server.clients);
        value = value === 4096 ? 4096 | 512 : 4096;
        writeFileSync(path, `${value}\n`);
        await Promise.all(clients);
        checkDeadline();
      }
      const sseSec = Number(process.hrtime.bigint() - sseT0) / 1e9;
      const drainUntil = Date.now() + 5000;
      while (server.clients > 0 && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 10));
      const leftClients = server.clients;

      await settle();
      return { metricsSec, lat, non200, bad, maxClients, sseSec, leftClients, fd: fds(), mem: mem() };
    };
    const first = await pass(4096);
    step('second pass (leak check: growth between the end of pass 1 and pass 2)');
    const second = await pass(4096);
    agent.destroy();
    await settle();
    const fd1 = fds();
    const mem1 = mem();
    const { metricsSec, lat, non200, bad, maxClients, sseSec, leftClients } = first;
    const rows = [
      ['/metrics requests', `${METRICS_REQUESTS} over ${METRICS_CONCURRENCY} keep-alive connections`],
      ['/metrics throughput', `${Math.round(METRICS_REQUESTS / metricsSec)} req/s (${metricsSec.toFixed(2)} s)`],
      ['/metrics latency p50 / p99', `${(pct(lat, 50) / 1e6).toFixed(2)} ms / ${(pct(lat, 99) / 1e6).toFixed(2)} ms`],
      ['/metrics non-200 answers', String(non200)],
      [
        'bad requests (404 / 405 / 431 / 400)',
        `${bad[404]} / ${bad[405]} / ${bad[431]} / ${bad[400]} (other: ${bad.other})`,
      ],
      [
        'SSE clients',
        `${SSE_ROUNDS} rounds x ${SSE_CLIENTS} concurrent (peak ${maxClients}), each got snapshot + change + snapshot, then dropped; ${sseSec.toFixed(2)} s`,
      ],
      ['SSE clients left after drops', String(leftClients)],
      ['descriptors before / after', `${fd0} / ${fd1} (${fd1 - fd0 >= 0 ? '+' : ''}${fd1 - fd0})`],
      [
        'heap used before / after (after gc)',
        `${mb(mem0.heap)} / ${mb(mem1.heap)} (${mem1.heap - mem0.heap >= 0 ? '+' : ''}${mb(mem1.heap - mem0.heap)})`,
      ],
      ['RSS before / after', `${mb(mem0.rss)} / ${mb(mem1.rss)}`],
      [
        'second identical pass: descriptors / heap / RSS growth',
        `${second.fd - first.fd >= 0 ? '+' : ''}${second.fd - first.fd} / ${mb(second.mem.heap - first.mem.heap)} / ${mb(second.mem.rss - first.mem.rss)}`,
      ],
    ];
    console.log(
      `kernel-taint serve load test (node ${process.version}, ${globalThis.gc ? 'gc exposed' : 'no --expose-gc'})\n`,
    );
    console.log('| measure | result |\n|---|---|');
    for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
    const ok =
      non200 + second.non200 === 0 &&
      leftClients + second.leftClients === 0 &&
      second.fd - first.fd <= 1 &&
      (!globalThis.gc || second.mem.heap - first.mem.heap < 2 * 1024 * 1024) &&
      fd1 - fd0 <= 2 &&
      (!globalThis.gc || mem1.heap - mem0.heap < 8 * 1024 * 1024) &&
      bad.other === 0;
    console.log(
      `\n${ok ? 'ok' : 'FAILED'}: no error answers, no clients left; fd growth <= 2 overall and <= 1 in pass 2; heap growth < 8 MB overall and < 2 MB in pass 2`,
    );
    process.exitCode = ok ? 0 : 1;
  } finally {
    agent.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

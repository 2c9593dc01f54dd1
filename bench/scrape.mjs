// Scrape cost of `kernel-taint serve`: CPU time the server process spends per
// GET /metrics while its watcher runs, against a bare node:http server that
// answers the same bytes (the floor for any Node exporter), both measured in
// this run from /proc/<pid>/stat (utime + stime of the server process only).
// Usage: npm run build:ts && node bench/scrape.mjs [scrapes]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const N = Number(process.argv[2] ?? 3000);
const TICK = 100; // USER_HZ on Linux
const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'kernel-taint-scrape-'));
const taint = join(dir, 'tainted');
// `kernel-taint serve` on a free port for the temp taint file (measured, and asked once for its body).
const SERVE_ARGS = [
  join(root, 'bin', 'kernel-taint.cjs'),
  'serve',
  '--port',
  '0',
  '--path',
  taint,
  '--profile',
  'mainline',
];
writeFileSync(taint, `${512 | 4096}\n`);

function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / TICK;
}

function startServer(args, env = {}) {
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /(?:serving on|listening on) http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (c) => reject(new Error(`server exited ${c}: ${out}`)));
  });
}

async function scrapes(port, n) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    bytes = await new Promise((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/metrics', agent }, (res) => {
        let len = 0;
        res.on('data', (d) => {
          len += d.length;
        });
        res.on('end', () => resolve(len));
      }).on('error', reject);
    });
  }
  agent.destroy();
  return bytes;
}

async function measure(name, server) {
  const { child, port } = await server;
  const body = await scrapes(port, 200); // warm-up (JIT, first allocations)
  const c0 = cpuMs(child.pid);
  const t0 = performance.now();
  await scrapes(port, N);
  const wall = performance.now() - t0;
  const c1 = cpuMs(child.pid);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const perScrapeUs = ((c1 - c0) * 1000) / N;
  console.log(
    `${name}: ${body} B body, ${perScrapeUs.toFixed(0)} µs CPU/scrape, ${((wall * 1000) / N).toFixed(0)} µs wall/scrape (${N} scrapes)`,
  );
  return { perScrapeUs, body };
}

try {
  const kt = await measure('kernel-taint serve (watcher running)', startServer(SERVE_ARGS));
  // Baseline: the same body from a bare node:http server (no Host check, no families, no formatting).
  const bodyFile = join(dir, 'body');
  const metrics = await new Promise((resolve) => {
    const s = startServer(SERVE_ARGS);
    s.then(async ({ child, port }) => {
      let text = '';
      get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          child.kill('SIGTERM');
          resolve(text);
        });
      });
    });
  });
  writeFileSync(bodyFile, metrics);
  const bare = `const b=require('fs').readFileSync(${JSON.stringify(bodyFile)});require('http').createServer((q,r)=>{r.writeHead(200,{'Content-Type':'text/plain; version=0.0.4; charset=utf-8','Content-Length':b.length});r.end(b)}).listen(0,'127.0.0.1',function(){console.log('listening on http://127.0.0.1:'+this.address().port)})`;
  const base = await measure('baseline: bare node:http, same bytes', startServer(['-e', bare]));
  console.log(`ratio kernel-taint / bare: ${(kt.perScrapeUs / base.perScrapeUs).toFixed(2)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// The panel in a real headless Chromium (Debian's `chromium` package, driven
// by playwright-core): served by the built CLI (`kernel-taint serve`) on a temp
// file, it renders the state, updates live when the file changes, makes no
// request outside its own server, and a screenshot lands in test-artifacts/.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderTaintPanelHtml } from '../../lib/integrations/panel/html.js';
import type { PanelSnapshot } from '../../lib/integrations/panel/types.js';
import { ROOT } from '../helpers/reference.js';
import { taintFile } from '../helpers/tmp.js';

const CHROMIUM = '/usr/bin/chromium';
const BIN = join(ROOT, 'bin/kernel-taint.cjs');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const ready = existsSync(CHROMIUM) && existsSync(join(ROOT, 'dist/cli.cjs'));
if (!ready) {
  console.warn(`panel-chromium: skipped: needs ${CHROMIUM} (apt-get install chromium) and dist/ (npm run build:ts)`);
}

/** `kernel-taint serve` on a free port for the watched file. */
function startServe(path: string): ChildProcess {
  return spawn(
    process.execPath,
    [BIN, 'serve', '--port', '0', '--path', path, '--profile', 'mainline', '--interval', '100'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

/** The URL serve prints once it listens. */
function servedAt(child: ChildProcess): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 15_000);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /serving on (http:\/\/\S+?)\/ /.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
}

describe.skipIf(!ready)('panel in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  async function newPage(): Promise<{ page: Page; requests: string[]; problems: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(String(e)));
    return { page, requests, problems };
  }

  it('renders the served panel and follows the watched file live', { timeout: 60_000 }, async () => {
    const path = taintFile('4096\n');
    const child = startServe(path);
    try {
      const url = await servedAt(child);
      const { page, requests, problems } = await newPage();
      await page.goto(`${url}/`);
      await page.waitForSelector('[data-kt="live"].kt-on');
      expect(await page.getAttribute('#kt-root', 'data-status')).toBe('warn');
      expect(await page.textContent('[data-kt="summary"]')).toBe('Tainted: [O]=OOT_MODULE');
      expect(await page.textContent('[data-kt="status"]')).toBe('warn');
      const flag = page.locator('[data-kt="flag"][data-letter="O"]');
      expect(await flag.locator('.kt-name').textContent()).toBe('OOT_MODULE');
      expect(await flag.locator('.kt-cat').textContent()).toBe('integrity');
      expect(await flag.locator('.kt-desc').textContent()).toContain('out-of-tree');

      writeFileSync(path, '4608\n'); // + W
      await page.waitForSelector('#kt-root[data-value="4608"]', { timeout: 10_000 });
      expect(await page.getAttribute('#kt-root', 'data-status')).toBe('fail');
      expect(await page.textContent('[data-kt="summary"]')).toBe('Tainted: [W]=WARN, [O]=OOT_MODULE');
      const entries = page.locator('[data-kt="change"]');
      await expect.poll(() => entries.count()).toBeGreaterThanOrEqual(2);
      expect(await entries.first().locator('.kt-what').textContent()).toBe('+W WARN');
      expect(await entries.first().locator('.kt-via').textContent()).toMatch(/^via (inotify|poll)$/);

      mkdirSync(ARTIFACTS, { recursive: true });
      const shot = join(ARTIFACTS, 'panel.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);

      // Every request went to the panel's own server (the page, its events).
      expect(requests.length).toBeGreaterThan(0);
      for (const r of requests) expect(r.startsWith(`${url}/`)).toBe(true);
      // No CSP violation, no script error.
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    }
  });

  it('shows a read failure, and no verdict once the server is gone', { timeout: 60_000 }, async () => {
    const path = taintFile('0\n');
    const child = startServe(path);
    try {
      const url = await servedAt(child);
      const { page } = await newPage();
      await page.goto(`${url}/`);
      await page.waitForSelector('[data-kt="live"].kt-on');
      expect(await page.getAttribute('#kt-root', 'data-status')).toBe('pass');
      expect(await page.getAttribute('#kt-root', 'data-error')).toBe('false');

      // The watched file goes away: the panel says the read failed, and does not keep PASS.
      unlinkSync(path);
      await page.waitForSelector('#kt-root[data-error="true"]', { timeout: 15_000 });
      expect(await page.getAttribute('#kt-root', 'data-status')).not.toBe('pass');
      expect(await page.textContent('[data-kt="error"]')).toContain('Read error');

      // It comes back, then the server stops: no verdict from a server that no longer answers.
      writeFileSync(path, '0\n');
      await page.waitForSelector('#kt-root[data-error="false"][data-status="pass"]', { timeout: 15_000 });
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
      await page.waitForSelector('#kt-root[data-status="unknown"]', { timeout: 15_000 });
      expect(await page.textContent('[data-kt="status"]')).toBe('unknown');
      expect(await page.textContent('[data-kt="live"]')).toBe('offline');
      expect(await page.textContent('[data-kt="error"]')).toContain('Connection lost');
      await page.close();
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('close', r));
      }
    }
  });

  it('works offline as a static page from a snapshot (no server at all)', { timeout: 30_000 }, async () => {
    const initial: PanelSnapshot = {
      time: '2025-01-01T00:00:00.000Z',
      value: 1,
      tainted: true,
      letters: 'P',
      profile: 'mainline',
      status: 'warn',
      summary: 'Tainted: [P]=PROPRIETARY_MODULE',
      flags: [
        {
          bit: 0,
          letter: 'P',
          name: 'PROPRIETARY_MODULE',
          category: 'integrity',
          description: 'A module with a non-GPL-compatible licence was loaded.',
          status: 'warn',
          message: 'PROPRIETARY_MODULE (from nvidia): integrity flag, warn',
          modules: ['nvidia'],
        },
      ],
      modules: [{ name: 'nvidia', letters: 'PO' }],
      bootId: 'c1f0b7e2-9d3a-4c55-8a0e-2f6c1d7b9e10',
      error: null,
      history: [
        {
          seq: 1,
          time: '2025-01-01T00:00:00.000Z',
          bootId: null,
          value: 1,
          letters: 'P',
          added: [{ letter: 'P', name: 'PROPRIETARY_MODULE', category: 'integrity' }],
          trigger: 'initial',
          modules: ['nvidia'],
        },
      ],
    };
    const { page, requests, problems } = await newPage();
    await page.route('**/*', (route) => route.abort()); // offline
    // Markup in the data must stay text.
    initial.modules.push({ name: '<img src=x onerror=alert(1)>', letters: 'O' });
    await page.setContent(renderTaintPanelHtml({ eventsUrl: null, initial }));
    expect(await page.textContent('[data-kt="summary"]')).toBe('Tainted: [P]=PROPRIETARY_MODULE');
    expect(await page.locator('[data-kt="module"]').count()).toBe(2);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('[data-kt="change"] .kt-from').textContent()).toBe('from nvidia');
    expect(requests.filter((r) => !r.startsWith('data:') && r !== 'about:blank')).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});

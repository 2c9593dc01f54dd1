/**
 * Real-kernel end-to-end tests: boots the newest Debian cloud kernels (bookworm 6.1, trixie 6.12,
 * sid 7.x, and the sweep: each release from 6.16 to 7.3 that trixie-backports carries) under
 * QEMU/TCG with a busybox initramfs and checks, on each:
 *  - the `Tainted:` header (and 6.11+ verbose line) the kernel prints after writing a value to
 *    /proc/sys/kernel/tainted equals the oracle row (test/fixtures/kernel-oracle.tsv), the flag
 *    table's model, and what formatTaint(value, { kernel: release }) returns; parseTaint reads
 *    both lines back to the value;
 *  - reading the value back gives the OR of everything written, bits >= the flag count ignored;
 *  - (6.1) the out-of-tree test modules set O+E, P and W;
 *  - (when the package is built) the package inside the guest reads, formats, parses, decodes
 *    and watches exactly what the live kernel does.
 * Needs: qemu-system-x86 busybox-static cpio (and apt access to the Debian mirrors on first run).
 * Env: KT_KERNELS=bookworm,trixie,sid,bpo-7.0  KT_SWEEP=0 (main series only)  KT_JOBS=N
 *      KT_FETCH_OFFLINE=1  KT_SKIP_NODE=1
 *      KT_SWEEP_FULL=1 (every oracle value on the sweep kernels, not one chain)
 *      KT_CAPTURE_ORACLE=FILE (write every line the kernels printed as oracle rows, e.g. to refresh
 *      test/fixtures/kernel-oracle-sweep.tsv)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTaint, parseTaint, parseTaintLog } from '../../lib/index.js';
import {
  type Boot,
  type BootResult,
  CACHE,
  computedHeader,
  computedVerbose,
  defaultJobs,
  haveTool,
  headerFrom,
  isSweep,
  type KtRecord,
  loadOracle,
  majorMinor,
  maskOf,
  type OracleKernel,
  oracleFor,
  planChains,
  REPO,
  run,
  runPool,
  SCRIPTS,
  SERIES,
  type Series,
  SWEEP,
  verboseFrom,
} from './harness.js';

const known: readonly string[] = [...SERIES, ...SWEEP];
const defaults: Series[] = process.env.KT_SWEEP === '0' ? [...SERIES] : [...SERIES, ...SWEEP];
const selected = (process.env.KT_KERNELS?.split(',').filter(Boolean) ?? defaults).filter((s): s is Series =>
  known.includes(s),
);
/** Sweep releases the archive no longer carries (fetch-kernels.sh exit 3): skipped with a note. */
const unavailable = new Set<Series>();
/** Every line the kernels printed, as oracle rows (KT_CAPTURE_ORACLE). */
const captured = new Map<string, string>();
const missing = ['qemu-system-x86_64', 'busybox', 'cpio', 'dpkg-deb'].filter((t) => !haveTool(t));
const skipReason =
  process.platform !== 'linux'
    ? 'not Linux'
    : missing.length
      ? `missing ${missing.join(', ')} (apt-get install qemu-system-x86 busybox-static cpio)`
      : null;

interface Check {
  cat: string;
  name: string;
  ok: boolean;
  soft?: boolean;
  detail?: unknown;
}
interface EventRow {
  cause: string;
  added: string | null;
  trigger: string | null;
  latencyMs: number | null;
  afterReturnMs: number | null;
  note?: string;
}
interface KernelReport {
  series: Series;
  release: string;
  oracle: string;
  boots: BootResult[];
  checks: Check[];
  events: EventRow[];
  notes: string[];
  oracleMatched: number;
  oracleRows: number;
}

const timings = { fetchMs: 0, modulesMs: 0, initrdMs: 0, bootsMs: 0, boots: 0, jobs: defaultJobs() };
const reports = new Map<Series, KernelReport>();
const oracle = loadOracle();

function releaseOf(series: Series): string {
  return readFileSync(join(CACHE, series, 'release'), 'utf8').trim();
}

/** Whether `release` is major.minor or newer. */
function releaseAtLeast(release: string, major: number, minor: number): boolean {
  const [maj, min] = majorMinor(release).split('.').map(Number);
  return maj > major || (maj === major && min >= minor);
}

/**
 * Flags the kernel defines: the oracle's header width for a main series, else what mainline
 * defines from 6.0 on (J, bit 19, came in 6.15). The sweep kernels sit between the oracle's
 * releases, so the nearest older oracle kernel says nothing about them.
 */
function flagCountFor(series: Series, release: string): number {
  const fromOracle = isSweep(series) ? undefined : oracleFor(oracle, release)?.o.flagCount;
  return fromOracle ?? (releaseAtLeast(release, 6, 15) ? 20 : 19);
}

function plan(series: Series): Boot[] {
  if (unavailable.has(series)) return [];
  const release = releaseOf(series);
  const found = oracleFor(oracle, release);
  const n = flagCountFor(series, release);
  const values = found ? [...found.o.header.keys()].map(BigInt) : [0n, 1n, 4097n, 12289n];
  const chains = planChains(values);
  // Bits at and above the flag count (and above 32) must be ignored; then every defined bit
  // (the longest header and verbose line: 6.12 cuts the latter at 303 characters).
  const hi = (1n << 40n) + (1n << 32n) - (1n << BigInt(n));
  chains[0].push(hi, maskOf(n));
  if (isSweep(series)) {
    // One chain (the first, with the longest lines) unless asked for every oracle value.
    const sweep = process.env.KT_SWEEP_FULL === '1' ? chains : chains.slice(0, 1);
    return sweep.map((c, i) => ({
      series,
      label: `sweep${i}`,
      initrd: 'shell',
      cmdline: ['kt.run=shell', `kt.values=${c.join(',')}`],
      timeoutS: 90,
    }));
  }
  const boots: Boot[] = [];
  if (process.env.KT_SKIP_NODE !== '1') {
    const longest = [...chains].sort((a, b) => b.length - a.length)[0];
    boots.push({
      series,
      label: 'node',
      initrd: 'full',
      cmdline: ['kt.run=node', `kt.values=${longest.join(',')}`],
      timeoutS: 180,
    });
  }
  chains.forEach((c, i) => {
    const last = i === chains.length - 1;
    boots.push({
      series,
      label: `chain${i}`,
      initrd: 'shell',
      // The 6.1 modules are loaded after the last chain (they only OR more bits in).
      cmdline: [`kt.run=shell${last ? ',modules' : ''}`, `kt.values=${c.join(',')}`],
      timeoutS: 90,
    });
  });
  return boots;
}

function evaluate(series: Series, boots: BootResult[]): KernelReport {
  const release = releaseOf(series);
  // The sweep kernels are held to the model and the library only (see flagCountFor).
  const found = isSweep(series) ? null : oracleFor(oracle, release);
  const o: OracleKernel | null = found?.o ?? null;
  const strict = found?.strict ?? false;
  const n = flagCountFor(series, release);
  const mask = maskOf(n);
  const hasVerbose = o ? o.verbose.size > 0 : releaseAtLeast(release, 6, 11);
  // Measured: 6.11-7.0 build the verbose line in a 16-byte-per-flag buffer; 7.1 sizes it.
  const cutAt = releaseAtLeast(release, 7, 1) ? null : 16 * n - 1;
  const checks: Check[] = [];
  const events: EventRow[] = [];
  const notes: string[] = [];
  let oracleMatched = 0;
  const oracleSeen = new Set<string>();
  const add = (cat: string, name: string, ok: boolean, detail?: unknown, soft = false) =>
    checks.push({ cat, name, ok, detail, soft });
  if (o && !strict) notes.push(`no oracle rows for ${majorMinor(release)}: compared with ${o.kernel} (soft)`);

  for (const b of boots) {
    const tag = `${b.label}`;
    const recs = b.records;
    const hello = recs.find((r) => r.t === 'hello');
    add('boot', `${tag}: qemu exit 0`, b.rc === 0, { rc: b.rc, outdir: b.outdir });
    add('boot', `${tag}: hello`, !!hello && hello.release === release, hello?.release);
    add(
      'boot',
      `${tag}: done`,
      recs.some((r) => r.t === 'done'),
      b.outdir,
    );
    add('boot', `${tag}: no garbled KT lines`, b.bad.length === 0, b.bad);
    add('boot', `${tag}: clean at boot`, hello?.tainted === 0, hello?.tainted);
    for (const e of recs.filter((r) => r.t === 'error' || r.t === 'node-error'))
      add('boot', `${tag}: guest error`, false, e);

    // Shell records: sysrq after each write, insmod of the test modules.
    let acc = 0n;
    for (const r of recs) {
      if (r.t === 'sysrq') {
        const tainted = BigInt(r.tainted);
        if (r.wrote !== null) {
          acc |= BigInt(r.wrote) & mask;
          add('readback', `${tag}: wrote ${r.wrote} -> cat tainted`, tainted === acc, {
            got: r.tainted,
            want: String(acc),
          });
        } else add('readback', `${tag}: final value`, tainted === acc, { got: r.tainted, want: String(acc) });
        acc = tainted;
        checkHeader(tag, tainted, r.lines as string[]);
      } else if (r.t === 'insmod') {
        const want: Record<string, [bigint, string]> = {
          kt_gpl: [(1n << 12n) | (1n << 13n), 'OE'],
          kt_prop: [1n, 'POE'],
          kt_warn: [1n << 9n, 'OE'],
        };
        const [bits, letters] = want[r.module] ?? [0n, ''];
        add('modules', `${r.module}: insmod rc 0`, r.rc === 0, r);
        add('modules', `${r.module}: sets ${letters}`, BigInt(r.after) === (BigInt(r.before) | bits), {
          before: r.before,
          after: r.after,
        });
        add('modules', `${r.module}: /sys/module taint ${letters}`, r.sysTaint === letters, r.sysTaint);
        add(
          'modules',
          `${r.module}: /proc/modules (${letters})`,
          String(r.procModules).endsWith(`(${letters})`),
          r.procModules,
        );
        acc = BigInt(r.after);
      } else if (r.t === 'skip' && r.step === 'modules') {
        notes.push(`modules: ${r.skip}`);
      }
    }
    if (b.label === 'node') evaluateNode(tag, recs);
  }

  function checkHeader(tag: string, tainted: bigint, lines: string[]) {
    const header = headerFrom(lines, release);
    const verbose = verboseFrom(lines);
    checkLibrary(tag, tainted, header, verbose);
    add('model', `${tag}: header for ${tainted}`, header === computedHeader(tainted, n), {
      got: header,
      want: computedHeader(tainted, n),
    });
    if (hasVerbose) {
      const want = computedVerbose(tainted, n, cutAt);
      add('model', `${tag}: verbose for ${tainted}`, verbose === want, { got: verbose, want });
    } else add('model', `${tag}: no verbose line`, verbose === null, verbose);
    const key = String(tainted);
    if (o?.header.has(key)) {
      const ok = header === o.header.get(key);
      add('oracle', `${tag}: oracle header ${key}`, ok, { got: header, want: o.header.get(key) }, !strict);
      if (hasVerbose && key !== '0') {
        const vok = verbose === o.verbose.get(key);
        add('oracle', `${tag}: oracle verbose ${key}`, vok, { got: verbose, want: o.verbose.get(key) }, !strict);
        if (!vok) return;
      }
      if (ok && !oracleSeen.has(key)) {
        oracleSeen.add(key);
        oracleMatched++;
      }
    }
  }

  // The library on the host against what this kernel printed: formatTaint for its release must
  // give the same bytes, and parseTaint must read both lines back to the value.
  function checkLibrary(tag: string, tainted: bigint, header: string | null, verbose: string | null) {
    const value = Number(tainted);
    const kernel = /^\d+\.\d+\.\d+/.exec(release)?.[0] ?? release;
    if (header !== null) captured.set(`${kernel}\t${value}\theader`, header);
    if (verbose !== null) captured.set(`${kernel}\t${value}\tverbose`, verbose);
    const libHeader = formatTaint(value, { kernel: release, profile: 'mainline' });
    add('lib', `${tag}: formatTaint(${value}) = kernel header`, libHeader === header, {
      lib: libHeader,
      kernel: header,
    });
    if (header !== null) {
      const parsed = parseTaint(header)?.value;
      add('lib', `${tag}: parseTaint(header) = ${value}`, parsed === value, parsed);
    }
    if (value !== 0 && hasVerbose) {
      const libVerbose = formatTaint(value, { kernel: release, verbose: true, profile: 'mainline' });
      add('lib', `${tag}: formatTaint(${value}, verbose) = kernel line`, libVerbose === verbose, {
        lib: libVerbose,
        kernel: verbose,
      });
      if (verbose !== null) {
        const parsed = parseTaint(verbose)?.value ?? -1;
        if (!parseTaintLog(verbose).some((r) => r.truncated)) {
          add('lib', `${tag}: parseTaint(verbose) = ${value}`, parsed === value, { parsed, verbose });
        } else {
          // A cut line loses the flags past the cut: what it shows must be in the value, and
          // the header printed with it completes it.
          add('lib', `${tag}: parseTaint(cut verbose) within ${value}`, parsed >= 0 && (parsed & ~value) >>> 0 === 0, {
            parsed,
            verbose,
          });
          const both = parseTaint(`${header}\n${verbose}`)?.value;
          add('lib', `${tag}: parseTaint(header + cut verbose) = ${value}`, both === value, { both, header, verbose });
        }
      }
    }
  }

  function evaluateNode(tag: string, recs: KtRecord[]) {
    const skip = recs.find((r) => r.t === 'node' && r.skip) ?? recs.find((r) => r.t === 'skip' && r.step === 'node');
    if (skip) {
      notes.push(`node guest skipped: ${skip.skip}`);
      return;
    }
    const load = recs.find((r) => r.t === 'node-load');
    add('node', `${tag}: package loads (esm+cjs)`, !!load?.esm && !!load?.cjs, load);
    if (!load) return;
    add('node', `${tag}: isSupported()`, load.supported === true, load.supported);
    const read = recs.find((r) => r.t === 'node-read');
    add(
      'node',
      `${tag}: readTaintValue()/readTaint() at boot`,
      !!read &&
        !read.error &&
        read.readTaintValue === read.file &&
        read.readTaintValuePath === read.file &&
        read.readTaint?.value === read.file,
      read,
    );
    for (const s of recs.filter((r) => r.t === 'node-step')) {
      const t = s.tainted;
      add('node', `${tag}: formatTaint(${t}) = kernel header`, s.format === s.kernelHeader, {
        lib: s.format,
        kernel: s.kernelHeader,
      });
      if (s.kernelVerbose !== null)
        add('node', `${tag}: formatTaint(${t}, verbose) = kernel line`, s.formatVerbose === s.kernelVerbose, {
          lib: s.formatVerbose,
          kernel: s.kernelVerbose,
        });
      add(
        'node',
        `${tag}: readTaintValue/readTaint/decodeTaint = ${t}`,
        s.readTaintValue === t && s.readTaint === t && s.decode?.value === t,
        s,
      );
      if (s.kernelHeader !== null) add('node', `${tag}: parseTaint(header) = ${t}`, s.parseHeader === t, s.parseHeader);
      if (s.kernelVerbose !== null)
        add('node', `${tag}: parseTaint(verbose) = ${t}`, s.parseVerbose === t, s.parseVerbose);
    }
    for (const e of recs.filter((r) => r.t === 'node-event')) {
      if (e.skip) {
        if (e.skip !== 'no watcher') notes.push(`watchTaint: ${e.skip}`);
        continue;
      }
      const expectLetters = String(e.expectLetters);
      const added = typeof e.added === 'string' ? e.added : '';
      add('watch', `${tag}: ${e.cause} -> change event`, !e.timeout, e);
      if (!e.timeout) {
        add(
          'watch',
          `${tag}: ${e.cause} added ${expectLetters}`,
          [...expectLetters].every((c) => added.includes(c)),
          e.added,
        );
        add('watch', `${tag}: ${e.cause} current = value`, e.current === e.after, {
          current: e.current,
          after: e.after,
        });
        add(
          'watch',
          `${tag}: ${e.cause} has a trigger`,
          typeof e.trigger === 'string' && e.trigger.length > 0,
          e.trigger,
        );
      }
      events.push({
        cause: e.cause,
        added: e.added ?? null,
        trigger: e.trigger ?? null,
        latencyMs: e.latencyMs ?? null,
        afterReturnMs: e.afterReturnMs ?? null,
        note: e.timeout ? `timeout ${e.waitedMs}ms` : undefined,
      });
    }
    const mods = recs.find((r) => r.t === 'node-modules');
    if (mods?.skip) notes.push(`readModuleTaints: ${mods.skip}`);
    else if (mods) {
      add('node', `${tag}: readModuleTaints() ok`, !mods.error, mods.error);
      for (const [m, letters] of Object.entries(mods.sysfs ?? {}))
        add('node', `${tag}: readModuleTaints ${m} = ${letters}`, mods.lib?.[m] === letters, {
          lib: mods.lib?.[m],
          sysfs: letters,
        });
    }
    const close = recs.find((r) => r.t === 'node-close');
    if (close) add('watch', `${tag}: close() stops events`, !close.closeError && close.afterClose === 0, close);
    add(
      'node',
      `${tag}: node guest finished`,
      recs.some((r) => r.t === 'node-done'),
      null,
    );
  }

  return {
    series,
    release,
    oracle: o ? `${o.kernel}${strict ? '' : ' (soft)'}` : isSweep(series) ? 'sweep' : 'none',
    boots,
    checks,
    events,
    notes,
    oracleMatched,
    oracleRows: o?.header.size ?? 0,
  };
}

function table(): string {
  const lines: string[] = [];
  const s = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  lines.push(
    `kernel-taint real-kernel e2e: fetch ${s(timings.fetchMs)}, modules ${s(timings.modulesMs)}, initramfs ${s(timings.initrdMs)}, ` +
      `${timings.boots} boots in ${s(timings.bootsMs)} wall (${timings.jobs} at a time)`,
  );
  lines.push(
    `${'series'.padEnd(9)} ${'release'.padEnd(28)} ${'oracle'.padEnd(10)} ${'boots'.padStart(5)} ${'avg/max boot'.padStart(13)} ${'checks'.padStart(9)} ${'oracle rows'.padStart(11)}`,
  );
  for (const s of unavailable) lines.push(`${s.padEnd(9)} not carried by trixie-backports any more: skipped`);
  for (const r of reports.values()) {
    const pass = r.checks.filter((c) => c.ok).length;
    const ms = r.boots.map((b) => b.ms);
    const avg = ms.reduce((a, b) => a + b, 0) / Math.max(1, ms.length);
    lines.push(
      `${r.series.padEnd(9)} ${r.release.padEnd(28)} ${r.oracle.padEnd(10)} ${String(r.boots.length).padStart(5)} ${`${s(avg)}/${s(Math.max(...ms))}`.padStart(13)} ${`${pass}/${r.checks.length}`.padStart(9)} ${`${r.oracleMatched}/${r.oracleRows}`.padStart(11)}`,
    );
    for (const e of r.events)
      lines.push(
        `  event  ${e.cause.padEnd(16)} added=${String(e.added).padEnd(4)} trigger=${String(e.trigger).padEnd(10)} latency=${e.latencyMs === null ? '-' : `${e.latencyMs}ms`}${e.afterReturnMs === null ? '' : ` (${e.afterReturnMs}ms after it returned)`}${e.note ? ` ${e.note}` : ''}`,
      );
    for (const n of r.notes) lines.push(`  note   ${n}`);
    for (const c of r.checks.filter((c) => !c.ok).slice(0, 10))
      lines.push(`  ${c.soft ? 'WARN' : 'FAIL'}   [${c.cat}] ${c.name}: ${JSON.stringify(c.detail)}`);
  }
  return lines.join('\n');
}

const failuresOf = (series: Series, cat: string) =>
  (reports.get(series)?.checks ?? [])
    .filter((c) => c.cat === cat && !c.ok && !c.soft)
    .map((c) => `${c.name}: ${JSON.stringify(c.detail)}`);
const countOf = (series: Series, cat: string) =>
  (reports.get(series)?.checks ?? []).filter((c) => c.cat === cat).length;

const optedOut = process.env.KT_SKIP_KERNEL === '1';
if (optedOut) console.warn('real kernels under QEMU: skipped by KT_SKIP_KERNEL=1');

// A machine that cannot boot the guests fails here, saying what to install;
// KT_SKIP_KERNEL=1 is the explicit (and reported) opt-out.
describe('real-kernel prerequisites', () => {
  it.skipIf(optedOut)('QEMU and the guest tools are installed', () => {
    if (skipReason !== null) {
      throw new Error(`cannot run the real-kernel tests: ${skipReason}; set KT_SKIP_KERNEL=1 to skip them explicitly`);
    }
  });
});

describe.skipIf(optedOut || skipReason !== null || selected.length === 0)('real kernels under QEMU', () => {
  beforeAll(async () => {
    const main = selected.filter((s) => !isSweep(s));
    if (main.length) timings.fetchMs = run('bash', [join(SCRIPTS, 'fetch-kernels.sh'), ...main]).ms;
    for (const s of selected.filter(isSweep)) {
      const t0 = performance.now();
      const r = spawnSync('bash', [join(SCRIPTS, 'fetch-kernels.sh'), s], { cwd: REPO, encoding: 'utf8' });
      timings.fetchMs += performance.now() - t0;
      if (r.status === 3) unavailable.add(s);
      else if (r.status !== 0) throw new Error(`fetch-kernels.sh ${s} failed (${r.status}):\n${r.stdout}${r.stderr}`);
    }
    if (selected.includes('bookworm'))
      timings.modulesMs = run('bash', [join(SCRIPTS, 'build-modules.sh'), 'bookworm']).ms;
    timings.initrdMs = run('bash', [join(SCRIPTS, 'build-initramfs.sh'), '--no-node']).ms;
    if (process.env.KT_SKIP_NODE !== '1') timings.initrdMs += run('bash', [join(SCRIPTS, 'build-initramfs.sh')]).ms;

    const boots = selected.flatMap(plan);
    // Longest boots first so that the pool ends evenly.
    boots.sort((a, b) => (a.initrd === b.initrd ? 0 : a.initrd === 'full' ? -1 : 1));
    // Console + KT logs of every boot of the last run stay here for debugging.
    const outRoot = process.env.KT_RUNS_DIR ?? join(CACHE, 'runs');
    rmSync(outRoot, { recursive: true, force: true });
    mkdirSync(outRoot, { recursive: true });
    const t0 = performance.now();
    const results = await runPool(boots, outRoot, timings.jobs);
    timings.bootsMs = performance.now() - t0;
    timings.boots = results.length;
    for (const s of selected.filter((x) => !unavailable.has(x)))
      reports.set(
        s,
        evaluate(
          s,
          results.filter((r) => r.series === s),
        ),
      );
  });

  afterAll(() => {
    if (process.env.KT_CAPTURE_ORACLE && captured.size > 0) {
      const rows = [...captured].map(([k, text]) => `${k}\t${text}`);
      const order = (r: string) => r.split('\t').slice(0, 3);
      rows.sort((a, b) => {
        const [ka, va, ta] = order(a);
        const [kb, vb, tb] = order(b);
        return ka.localeCompare(kb, 'en', { numeric: true }) || Number(va) - Number(vb) || ta.localeCompare(tb);
      });
      const head =
        '# kernel\tvalue\tkind\texact text the kernel printed (Debian cloud kernels booted in QEMU by npm run test:kernel with KT_CAPTURE_ORACLE; value written to /proc/sys/kernel/tainted, then a sysrq-l backtrace header read from the console)';
      writeFileSync(process.env.KT_CAPTURE_ORACLE, `${head}\n${rows.join('\n')}\n`);
    }
    if (reports.size === 0) return;
    const text = table();
    console.log(`\n${text}\n`);
    try {
      writeFileSync(join(CACHE, 'last-report.txt'), `${text}\n`);
    } catch {}
  });

  describe.each(selected)('%s', (series) => {
    // A sweep release the archive no longer carries: nothing was booted (the table says so).
    const gate = (ctx: { skip: () => void }) => {
      if (unavailable.has(series)) ctx.skip();
    };
    it('boots every guest and gets complete KT output', (ctx) => {
      gate(ctx);
      expect(countOf(series, 'boot')).toBeGreaterThan(0);
      expect(failuresOf(series, 'boot')).toEqual([]);
    });
    it.skipIf(isSweep(series))(
      'prints the oracle Tainted: header (and 6.11+ verbose line) for every oracle value',
      (ctx) => {
        gate(ctx);
        const r = reports.get(series);
        expect(countOf(series, 'oracle')).toBeGreaterThan(0);
        expect(failuresOf(series, 'oracle')).toEqual([]);
        if (r?.oracle && !r.oracle.includes('soft')) expect(r.oracleMatched).toBe(r.oracleRows);
      },
    );
    it('reads back the OR of all writes, ignoring bits >= the flag count', (ctx) => {
      gate(ctx);
      expect(countOf(series, 'readback')).toBeGreaterThan(0);
      expect(failuresOf(series, 'readback')).toEqual([]);
    });
    it('prints headers consistent with the flag table for every value seen', (ctx) => {
      gate(ctx);
      expect(failuresOf(series, 'model')).toEqual([]);
    });
    it('formatTaint for this release gives the same bytes, and parseTaint reads them back', (ctx) => {
      gate(ctx);
      expect(countOf(series, 'lib')).toBeGreaterThan(0);
      expect(failuresOf(series, 'lib')).toEqual([]);
    });
    it.skipIf(series !== 'bookworm')('out-of-tree modules set O+E, P and W', (ctx) => {
      gate(ctx);
      expect(countOf(series, 'modules')).toBeGreaterThan(0);
      expect(failuresOf(series, 'modules')).toEqual([]);
    });
    it('the package inside the guest agrees with the live kernel', (ctx) => {
      gate(ctx);
      const r = reports.get(series);
      if (!r || r.notes.some((n) => n.startsWith('node guest skipped'))) ctx.skip();
      expect(failuresOf(series, 'node')).toEqual([]);
    });
    it('watchTaint reports every change (trigger + latency in the table)', (ctx) => {
      gate(ctx);
      if (countOf(series, 'watch') === 0) ctx.skip();
      expect(failuresOf(series, 'watch')).toEqual([]);
    });
  });
});

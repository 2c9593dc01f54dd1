/**
 * Host side of the real-kernel tests: the oracle, boot planning, QEMU runs and the KT protocol.
 * The guest prints one `KT {json}` record per line on its second serial port (ttyS1, which the
 * kernel never writes to); scripts/kernel/boot.sh stores that port in <outdir>/kt.log and the
 * kernel console in <outdir>/console.log.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CACHE = process.env.KT_KERNEL_CACHE ?? join(REPO, '.cache/kernels');
export const SCRIPTS = join(REPO, 'scripts/kernel');
export const SERIES = ['bookworm', 'trixie', 'sid'] as const;
/**
 * The sweep: the newest cloud kernel of each release between the main series that trixie-backports
 * carries (Debian skipped 6.13-6.15). Shell-only boots, to check the position string and the
 * verbose line of every release (the verbose line stopped being cut in 7.1). A release that the
 * archive no longer carries is skipped with a note.
 */
export const SWEEP = ['bpo-6.16', 'bpo-6.17', 'bpo-6.18', 'bpo-6.19', 'bpo-7.0', 'bpo-7.1', 'bpo-7.3'] as const;
/**
 * The kernels that get the out-of-tree test modules (scripts/kernel/build-modules.sh) and the
 * attribution boot (guest/attrib.mjs): 6.1 (host gcc-12), 6.12 and the newest 7.x in
 * trixie-backports (gcc-14, in a trixie chroot). sid's 7.x is built with a compiler no stable
 * Debian has, so it is not among them.
 */
export const MODULE_SERIES = ['bookworm', 'trixie', 'bpo-7.3'] as const;
export type MainSeries = (typeof SERIES)[number];
export type Series = MainSeries | (typeof SWEEP)[number];
export const isSweep = (s: Series): boolean => s.startsWith('bpo-');

// ---- the kernel's own flag table (mainline order), used for computed expectations -------------
export const LETTERS = 'PFSRMBUDAWCIOELKXTNJ';
export const NAMES = [
  'PROPRIETARY_MODULE',
  'FORCED_MODULE',
  'CPU_OUT_OF_SPEC',
  'FORCED_RMMOD',
  'MACHINE_CHECK',
  'BAD_PAGE',
  'USER',
  'DIE',
  'OVERRIDDEN_ACPI_TABLE',
  'WARN',
  'CRAP',
  'FIRMWARE_WORKAROUND',
  'OOT_MODULE',
  'UNSIGNED_MODULE',
  'SOFTLOCKUP',
  'LIVEPATCH',
  'AUX',
  'RANDSTRUCT',
  'TEST',
  'FWCTL',
];

export const maskOf = (n: number): bigint => (1n << BigInt(n)) - 1n;

/** The header text a kernel with `n` flags prints for `value` (print_tainted()). */
export function computedHeader(value: bigint, n: number): string {
  const v = value & maskOf(n);
  if (v === 0n) return 'Not tainted';
  let s = 'Tainted: ';
  for (let bit = 0; bit < n; bit++) {
    const set = ((v >> BigInt(bit)) & 1n) === 1n;
    s += set ? LETTERS[bit] : bit === 0 ? 'G' : ' ';
  }
  return s;
}

/**
 * The 6.11+ verbose line; kernels before 7.1 cut it at 16 * n - 1 characters (measured: 303 on
 * 6.12, 319 on 6.16-7.0, the whole line on 7.1, 7.2 and 7.3).
 */
export function computedVerbose(value: bigint, n: number, cutAt: number | null): string | null {
  const v = value & maskOf(n);
  if (v === 0n) return null;
  const parts: string[] = [];
  for (let bit = 0; bit < n; bit++) {
    if (((v >> BigInt(bit)) & 1n) === 1n) parts.push(`[${LETTERS[bit]}]=${NAMES[bit]}`);
  }
  const line = `Tainted: ${parts.join(', ')}`;
  return cutAt === null ? line : line.slice(0, cutAt);
}

// ---- oracle ---------------------------------------------------------------------------------------
export interface OracleKernel {
  kernel: string; // as in the TSV, e.g. 6.12.107
  series: string; // major.minor
  header: Map<string, string>; // value -> text
  verbose: Map<string, string>;
  flagCount: number; // from the header width
}

export function loadOracle(): Map<string, OracleKernel> {
  const candidates = [join(REPO, 'test/fixtures/kernel-oracle.tsv'), '/work/shared/reference/kernel-oracle.tsv'];
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new Error(`kernel-oracle.tsv not found (${candidates.join(', ')})`);
  const byKernel = new Map<string, OracleKernel>();
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    if (raw.startsWith('#') || raw.trim() === '') continue;
    const [kernel, value, kind, ...rest] = raw.split('\t');
    const text = rest.join('\t'); // keep trailing spaces: they are part of the header
    let k = byKernel.get(kernel);
    if (!k) {
      k = { kernel, series: majorMinor(kernel), header: new Map(), verbose: new Map(), flagCount: 0 };
      byKernel.set(kernel, k);
    }
    if (kind === 'header') {
      k.header.set(value, text);
      if (text.startsWith('Tainted: ')) k.flagCount = Math.max(k.flagCount, text.length - 'Tainted: '.length);
    } else if (kind === 'verbose') k.verbose.set(value, text);
  }
  return byKernel;
}

export function majorMinor(release: string): string {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? `${m[1]}.${m[2]}` : release;
}

function cmpVersion(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Oracle rows for a running kernel: same major.minor (strict), else the nearest older (soft). */
export function oracleFor(
  oracle: Map<string, OracleKernel>,
  release: string,
): { o: OracleKernel; strict: boolean } | null {
  const mm = majorMinor(release);
  const all = [...oracle.values()].sort((a, b) => cmpVersion(a.kernel, b.kernel));
  const exact = all.filter((k) => k.series === mm);
  if (exact.length) return { o: exact[exact.length - 1], strict: true };
  const older = all.filter((k) => cmpVersion(k.series, mm) <= 0);
  return older.length ? { o: older[older.length - 1], strict: false } : null;
}

/** Split the oracle values into chains where each value contains the previous one (writes only OR bits in). */
export function planChains(values: bigint[]): bigint[][] {
  const sorted = [...new Set(values)].sort((a, b) => popcount(a) - popcount(b) || (a < b ? -1 : a > b ? 1 : 0));
  const chains: bigint[][] = [];
  for (const v of sorted) {
    // Extend the chain whose last value is the largest subset of v.
    let best: bigint[] | null = null;
    for (const c of chains) {
      const last = c[c.length - 1];
      if ((last & v) === last && (!best || popcount(last) > popcount(best[best.length - 1]))) best = c;
    }
    if (best) best.push(v);
    else chains.push([v]);
  }
  return chains;
}

function popcount(v: bigint): number {
  let n = 0;
  for (let x = v; x > 0n; x >>= 1n) n += Number(x & 1n);
  return n;
}

// ---- KT protocol ----------------------------------------------------------------------------------
// biome-ignore lint/suspicious/noExplicitAny: records are free-form JSON from the guest
export type KtRecord = Record<string, any> & { t: string };

/**
 * Extract KT records from a byte stream. Tolerates \r\n, leading junk on a line (a kernel
 * message that was cut into it when the console is the channel) and reports lines that
 * start a record but do not parse.
 */
export function parseKt(text: string): { records: KtRecord[]; bad: string[] } {
  const records: KtRecord[] = [];
  const bad: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const at = raw.indexOf('KT {');
    if (at < 0) continue;
    const json = raw.slice(at + 3).replace(/\r/g, '');
    try {
      records.push(JSON.parse(json));
    } catch {
      bad.push(raw);
    }
  }
  return { records, bad };
}

/** "Tainted: ..." / "Not tainted" from a sysrq header line, exactly as printed before " <release>". */
export function headerFrom(lines: string[], release: string): string | null {
  for (const l of lines) {
    if (!/ Comm: /.test(l)) continue;
    const m = /(Not tainted.*|Tainted: .*)$/.exec(l);
    if (!m) continue;
    const at = m[1].indexOf(` ${release}`);
    return at >= 0 ? m[1].slice(0, at) : m[1];
  }
  return null;
}

export function verboseFrom(lines: string[]): string | null {
  for (const l of lines) {
    const s = l.replace(/^\[\s*[\d.]+\]\s?/, '');
    if (s.startsWith('Tainted: [')) return s;
  }
  return null;
}

// ---- running things -------------------------------------------------------------------------------
export interface Boot {
  series: Series;
  label: string;
  initrd: 'shell' | 'full';
  cmdline: string[];
  timeoutS: number;
  /** Virtual CPUs (QEMU -smp), 1 unless a test needs more (CPU hotplug). */
  smp?: number;
}

export interface BootResult extends Boot {
  rc: number;
  ms: number;
  outdir: string;
  records: KtRecord[];
  bad: string[];
  console: string;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { ms: number; out: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd: REPO, env: { ...process.env, ...env }, encoding: 'utf8' });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${out}`);
  return { ms: performance.now() - t0, out };
}

export function bootOnce(b: Boot, outdir: string): Promise<BootResult> {
  const kernel = join(CACHE, b.series, 'vmlinuz');
  const initrd = join(CACHE, 'initramfs', `${b.initrd}.cpio.gz`);
  const t0 = performance.now();
  return new Promise((res, rej) => {
    const p = spawn(
      'bash',
      [
        join(SCRIPTS, 'boot.sh'),
        ...['-o', outdir, '-t', String(b.timeoutS), '-c', String(b.smp ?? 1)],
        ...[kernel, initrd, ...b.cmdline],
      ],
      { cwd: REPO, stdio: ['ignore', 'ignore', 'ignore'] },
    );
    p.on('error', rej);
    p.on('close', (code) => {
      const ms = performance.now() - t0;
      const kt = existsSync(join(outdir, 'kt.log')) ? readFileSync(join(outdir, 'kt.log'), 'latin1') : '';
      const con = existsSync(join(outdir, 'console.log')) ? readFileSync(join(outdir, 'console.log'), 'latin1') : '';
      let { records, bad } = parseKt(kt);
      // Fallback: a guest without ttyS1 writes its records to the console.
      if (records.length === 0) ({ records, bad } = parseKt(con));
      res({ ...b, rc: code ?? -1, ms, outdir, records, bad, console: con });
    });
  });
}

/** Run boots with at most `jobs` QEMUs at once (each TCG guest keeps one host core busy). */
export async function runPool(boots: Boot[], outRoot: string, jobs = defaultJobs()): Promise<BootResult[]> {
  const results: BootResult[] = new Array(boots.length);
  let next = 0;
  const worker = async () => {
    while (next < boots.length) {
      const i = next++;
      const b = boots[i];
      results[i] = await bootOnce(b, join(outRoot, `${b.series}-${String(i).padStart(2, '0')}-${b.label}`));
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, boots.length) }, worker));
  return results;
}

export function defaultJobs(): number {
  const env = Number(process.env.KT_JOBS);
  if (env > 0) return env;
  return Math.max(1, cpus().length);
}

export function haveTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
}

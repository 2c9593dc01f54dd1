// `npm run bench:parse`: `kernel-taint parse` on big logs against a Node script
// that only streams the same file and finds its newlines, in the same run.
//
// - builds a realistic log in the temp directory (not committed): ordinary boot
//   and runtime chatter with oops reports among it, the report lines taken from
//   real crash reports (test/fixtures/oops-lines.tsv) and the chatter from the
//   real-kernel guest logs plus common kernel messages; 50 MB, then 500 MB;
// - times `kernel-taint parse FILE` and the baseline as child processes, rounds
//   interleaved, medians; target: parse <= 2x the baseline;
// - peak RSS of `kernel-taint parse` on 50 MB and 500 MB (target <= 96 MB), and
//   the time ratio 500 MB / 50 MB (linear: ~10);
// - adversarial lines: one 8,000-character line of each pattern the linear-time
//   test uses (target < 50 ms each) and 1 MB of them streamed from a file
//   (target < 1 s), in process; the CLI on the same 1 MB is shown beside its
//   start-up time.
import { spawnSync } from 'node:child_process';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'bin', 'kernel-taint.cjs');
const dir = mkdtempSync(join(tmpdir(), 'kt-bench-parse-'));
const ROUNDS = Number(process.env.KT_BENCH_ROUNDS ?? 5);

const { parseTaintLog } = await import(join(root, 'dist', 'index.mjs'));

// ---------------------------------------------------------------------------
// The log.

function fixtureLines() {
  const shared = join(root, '..', 'shared', 'reference', 'oops-lines.tsv');
  const text = readFileSync(existsSync(shared) ? shared : join(root, 'test', 'fixtures', 'oops-lines.tsv'), 'utf8');
  const rows = text
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => l.split('\t'));
  const by = (k) => rows.filter((r) => r[1] === k).map((r) => r.slice(3).join('\t').replace(/\\t/g, '\t'));
  return { headers: by('header'), verbose: by('verbose'), modules: by('modules') };
}

function guestLines() {
  const p = join(root, '..', 'shared', 'reference', 'attribution', 'qemu-bookworm.log2.txt');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => /^\[ *\d/.test(l) && !/ainted|Modules linked in/.test(l))
    .map((l) => l.replace(/^\[ *[\d.]+\] /, ''));
}

const CHATTER = [
  'usb 1-1: new high-speed USB device number %d using xhci_hcd',
  'usb 1-1: New USB device found, idVendor=046d, idProduct=c52b, bcdDevice=12.11',
  'EXT4-fs (nvme0n1p2): mounted filesystem with ordered data mode. Quota mode: none.',
  'systemd[1]: Started session-%d.scope - Session %d of User root.',
  'audit: type=1400 audit(1700000%d.123:%d): apparmor="STATUS" operation="profile_load" name="/usr/bin/man" pid=%d comm="apparmor_parser"',
  'e1000e 0000:00:1f.6 eno1: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx',
  'IPv6: ADDRCONF(NETDEV_CHANGE): eno1: link becomes ready',
  'nvme nvme0: %d/0/0 default/read/poll queues',
  'ACPI: \\_SB_.PCI0.LPCB.EC0_: GPE=0x%d, EC_CMD/EC_SC=0x66, EC_DATA=0x62',
  'random: crng init done',
  'TCP: request_sock_TCP: Possible SYN flooding on port %d. Sending cookies.',
  'perf: interrupt took too long (%d > 2500), lowering kernel.perf_event_max_sample_rate to 79750',
  'x86/mm: Checked W+X mappings: passed, no W+X pages found.',
  'rfkill: input handler disabled',
  'Bluetooth: hci0: Firmware revision 0.%d build 14 week 44 2021',
  'Disabling lock debugging due to kernel taint',
  'kauditd_printk_skb: %d callbacks suppressed',
];
const OOPS_TAIL = [
  'Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014',
  'RIP: 0010:kt_warn_init+0x11/0x1000 [kt_warn]',
  'Code: Unable to access opcode bytes at 0xffffffffc0a4afd7.',
  'RSP: 0018:ffffb0a5c0a3bc68 EFLAGS: 00010246',
  'RAX: 0000000000000000 RBX: 0000000000000000 RCX: 0000000000000000',
  'Call Trace:',
  ' <TASK>',
  ' do_one_initcall+0x5b/0x320',
  ' do_init_module+0x4c/0x220',
  ' __do_sys_finit_module+0xac/0x120',
  ' do_syscall_64+0x5b/0xc0',
  ' entry_SYSCALL_64_after_hwframe+0x6e/0xd8',
  ' </TASK>',
  '---[ end trace 0000000000000000 ]---',
];

async function writeLog(path, bytes) {
  const { headers, verbose, modules } = fixtureLines();
  const chatter = [...CHATTER, ...guestLines()];
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  let size = 0;
  let n = 0;
  let seed = 12345;
  const rnd = (m) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % m;
  };
  let batch = [];
  const stamp = () => `[${String((n / 1000).toFixed(6)).padStart(12)}] `;
  while (size < bytes) {
    n++;
    let line;
    if (n % 2000 === 0) {
      // An oops report: WARNING banner, modules, header, (verbose), the rest.
      const block = [
        `WARNING: CPU: ${rnd(8)} PID: ${rnd(9999)} at drivers/gpu/drm/drm_atomic.c:${rnd(900)} drm_atomic_check+0x1f/0x30`,
        modules[rnd(modules.length)],
        headers[rnd(headers.length)],
        ...(rnd(3) === 0 ? [verbose[rnd(verbose.length)]] : []),
        ...OOPS_TAIL,
      ];
      line = block.map((l) => stamp() + l).join('\n');
    } else {
      line = stamp() + chatter[rnd(chatter.length)].replace(/%d/g, () => String(rnd(100000)));
    }
    batch.push(line);
    size += line.length + 1;
    if (batch.length >= 4096) {
      if (!out.write(`${batch.join('\n')}\n`)) await new Promise((r) => out.once('drain', r));
      batch = [];
    }
  }
  out.write(batch.length ? `${batch.join('\n')}\n` : '');
  await new Promise((r) => out.end(r));
}

// ---------------------------------------------------------------------------
// Contenders.

const BASELINE = join(dir, 'newlines.mjs');
writeFileSync(
  BASELINE,
  `import { createReadStream } from 'node:fs';
let lines = 0;
for await (const chunk of createReadStream(process.argv[2], { highWaterMark: 256 * 1024 })) {
  let i = chunk.indexOf(10);
  while (i >= 0) { lines++; i = chunk.indexOf(10, i + 1); }
}
console.log(lines);
`,
);
// Reports the child's peak RSS on stderr when it exits.
const RSS_HOOK = join(dir, 'rss.cjs');
writeFileSync(
  RSS_HOOK,
  `process.on('exit', () => { require('node:fs').writeSync(2, '\\nKT_MAXRSS_KB=' + process.resourceUsage().maxRSS + '\\n'); });\n`,
);

function run(args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 20 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const rss = /KT_MAXRSS_KB=(\d+)/.exec(String(r.stderr))?.[1];
  return { ms, rssKb: rss ? Number(rss) : null, code: r.status };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(label, mb) {
  const file = join(dir, `${label}.log`);
  await writeLog(file, mb * 1024 * 1024);
  const size = statSync(file).size;
  const parse = [];
  const base = [];
  const rss = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Interleaved, the order alternating, so both see the same machine.
    const order = i % 2 === 0 ? ['b', 'p'] : ['p', 'b'];
    for (const o of order) {
      if (o === 'b') base.push(run([BASELINE, file]).ms);
      else {
        const r = run(['--require', RSS_HOOK, BIN, 'parse', file, '--path', '/nonexistent']);
        parse.push(r.ms);
        rss.push(r.rssKb);
      }
    }
  }
  const jsonRun = run(['--require', RSS_HOOK, BIN, 'parse', file, '--json', '--path', '/nonexistent']);
  rmSync(file);
  return {
    label,
    mb: size / 1024 / 1024,
    baseMs: median(base),
    parseMs: median(parse),
    ratio: median(parse) / median(base),
    rssMb: Math.max(...rss) / 1024,
    jsonMs: jsonRun.ms,
    jsonRssMb: jsonRun.rssKb / 1024,
  };
}

// ---------------------------------------------------------------------------
// Adversarial lines.

const ADVERSARIAL = {
  'digits and dots before Not tainted': (n) => `${'1.'.repeat(n / 2)} Not tainted`,
  'digits and dots, build number, Tainted:': (n) => `${'1.1'.repeat(n / 3)} #1 Tainted: G`,
  'Modules linked in: aaaa...': (n) => `Modules linked in: ${'a'.repeat(n)}`,
  'Modules linked in: a(a(a(...': (n) => `Modules linked in: ${'a('.repeat(n / 2)}`,
  'long digit run after the flags': (n) => `CPU: 0 Comm: x Tainted: G ${'1'.repeat(n)}`,
  'release of thousands of characters': (n) => `Comm: x Tainted: G   W 1.${'1'.repeat(n)} #1`,
  'comm of spaces': (n) => `Comm: ${'x '.repeat(n / 2)}Tainted: G  W 6.1.0 #1`,
  'many labels': (n) => 'Tainted: '.repeat(n / 9),
  'verbose line of many entries': (n) => `Tainted: ${'[W]=WARN, '.repeat(n / 10)}`,
  'garbage bytes': (n) => `Comm: x Tainted: ${'\u0000\u00ff'.repeat(n / 2)}`,
};

async function adversarial() {
  const rows = [];
  for (const [name, make] of Object.entries(ADVERSARIAL)) {
    const line = make(8000);
    parseTaintLog(line); // warm-up
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 5; i++) {
      const t = process.hrtime.bigint();
      parseTaintLog(line);
      best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
    }
    // 1 MB of these lines, read as a stream from a file, in process.
    const file = join(dir, 'adversarial.log');
    writeFileSync(file, `${line}\n`.repeat(Math.ceil((1024 * 1024) / (line.length + 1))));
    let mbMs = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 3; i++) {
      const t = process.hrtime.bigint();
      for await (const _ of parseTaintLog(createReadStream(file))) {
        // drain
      }
      mbMs = Math.min(mbMs, Number(process.hrtime.bigint() - t) / 1e6);
    }
    // And through the CLI, node start-up included (compare with `kernel-taint --version`).
    const cli = median([0, 1, 2].map(() => run([BIN, 'parse', file, '--path', '/nonexistent']).ms));
    rmSync(file);
    rows.push({ name, lineMs: best, mbMs, cliMs: cli });
  }
  return rows;
}

// ---------------------------------------------------------------------------

console.log(`kernel-taint parse benchmark, node ${process.version}, ${ROUNDS} interleaved rounds (median)\n`);
const results = [];
try {
  // KT_BENCH_SIZES=5,50 for a quick run; the targets are for 50 and 500.
  const sizes = (process.env.KT_BENCH_SIZES ?? '50,500').split(',').map(Number);
  for (const mb of sizes) results.push(await measure(`${mb}MB`, mb));
  const adv = await adversarial();
  const startup = median([0, 1, 2].map(() => run([BIN, '--version']).ms));

  console.log(
    '| log | size | newline scan (baseline) | kernel-taint parse | parse / baseline | peak RSS | --json | --json RSS |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.label} | ${r.mb.toFixed(0)} MB | ${r.baseMs.toFixed(0)} ms | ${r.parseMs.toFixed(0)} ms | **${r.ratio.toFixed(2)}x** | ${r.rssMb.toFixed(1)} MB | ${r.jsonMs.toFixed(0)} ms | ${r.jsonRssMb.toFixed(1)} MB |`,
    );
  }
  console.log(
    `\n| adversarial 8,000-char line | parseTaintLog (one line) | 1 MB of them, streamed | kernel-taint parse on 1 MB (start-up ${startup.toFixed(0)} ms) |`,
  );
  console.log('|---|---:|---:|---:|');
  for (const a of adv)
    console.log(`| ${a.name} | ${a.lineMs.toFixed(2)} ms | ${a.mbMs.toFixed(0)} ms | ${a.cliMs.toFixed(0)} ms |`);

  const [small, big] = results;
  const checks = [
    [`parse <= 2x the newline scan on ${small.label}: ${small.ratio.toFixed(2)}x`, small.ratio <= 2],
    [`parse <= 2x the newline scan on ${big.label}: ${big.ratio.toFixed(2)}x`, big.ratio <= 2],
    [`peak RSS <= 96 MB on ${small.label}: ${small.rssMb.toFixed(1)} MB`, small.rssMb <= 96],
    [`peak RSS <= 96 MB on ${big.label}: ${big.rssMb.toFixed(1)} MB`, big.rssMb <= 96],
    [`--json peak RSS <= 96 MB on ${big.label}: ${big.jsonRssMb.toFixed(1)} MB`, big.jsonRssMb <= 96],
    [
      `time grows linearly: ${big.label} / ${small.label} = ${(big.parseMs / small.parseMs).toFixed(1)}x for ${(big.mb / small.mb).toFixed(1)}x the bytes (baseline ${(big.baseMs / small.baseMs).toFixed(1)}x)`,
      big.parseMs / small.parseMs <= (big.mb / small.mb) * 1.5,
    ],
    [
      `adversarial 8,000-char line < 50 ms: worst ${Math.max(...adv.map((a) => a.lineMs)).toFixed(2)} ms`,
      adv.every((a) => a.lineMs < 50),
    ],
    [
      `1 MB of adversarial lines < 1 s: worst ${Math.max(...adv.map((a) => a.mbMs)).toFixed(0)} ms`,
      adv.every((a) => a.mbMs < 1000),
    ],
  ];
  console.log('');
  for (const [text, ok] of checks) console.log(`target ${text} ${ok ? 'PASS' : 'FAIL'}`);
  process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

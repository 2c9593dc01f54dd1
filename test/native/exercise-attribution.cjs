// Drives the attribution parsers (native/attribution: perf ring reader,
// kallsyms symbolizer, tracefs format parser) with random and adversarial
// bytes under the sanitizers and valgrind (scripts/test-native.sh): any
// out-of-bounds read or UB aborts the run. No kernel state is touched.
// Usage: node test/native/exercise-attribution.cjs path/to/kernel_taint.node
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const addon = require(path.resolve(process.argv[2]));
const api = addon._attribution;
const fixtures = path.join(__dirname, '..', 'fixtures', 'tracefs');
let seed = 0x2545f491;
const rnd = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
};
const bytes = (n) => Uint8Array.from({ length: n }, () => rnd() & 0xff);
let checks = 0;

// Rings of random bytes, random positions and sample types (including the
// RAW and CALLCHAIN paths): the reader must stay inside the data area.
for (let i = 0; i < 3000; i++) {
  const size = 1 << (4 + (rnd() % 9));
  const data = bytes(size);
  // Plausible headers now and then, so the parsers go past the header checks.
  if (i % 2 === 0) {
    const v = new DataView(data.buffer);
    v.setUint32(0, [2, 3, 9][rnd() % 3], true);
    v.setUint16(6, Math.min(size, 8 + (rnd() % 200)), true);
  }
  const tail = rnd() % 5000;
  const head = tail + (rnd() % (size + 64));
  const types = [0x4a6, 0x486, 0x406, 0x10fff, rnd() & 0x1ffff];
  const r = api.drainRing(data, head, tail, types[rnd() % types.length]);
  assert.equal(r.tail, head);
  checks++;
}

// Format files: real ones, then truncated and mutated at every position.
for (const name of fs.readdirSync(fixtures).filter((n) => n.endsWith('.format'))) {
  const text = fs.readFileSync(path.join(fixtures, name), 'utf8');
  assert.equal(api.parseFormat(text).error, undefined);
  for (let cut = 0; cut < text.length; cut += 7) {
    api.parseFormat(text.slice(0, cut));
    const chars = [...text];
    chars[cut] = String.fromCharCode(rnd() % 128);
    api.parseFormat(chars.join(''));
    for (const field of ['taints', 'name', 'id', 'error_detector']) {
      api.readField(chars.join(''), bytes(rnd() % 40), field);
    }
    checks++;
  }
}

// kallsyms: well-formed, then random lines; addresses around every symbol.
const lines = [];
for (let i = 0; i < 2000; i++) {
  const addr = (0xffffffff81000000n + BigInt(i) * 0x40n).toString(16);
  lines.push(`${addr} ${'tTbdwW'[rnd() % 6]} fn_${i}.cold${i % 5 === 0 ? `\t[mod${i % 3}]` : ''}`);
  if (i % 50 === 0) lines.push(String.fromCharCode(...bytes(rnd() % 80).map((b) => (b % 95) + 32)));
}
const text = lines.join('\n');
for (let i = 0; i < 500; i++) {
  const addrs = Array.from(
    { length: 1 + (rnd() % 20) },
    () => `0x${(0xffffffff80fff000n + BigInt(rnd() % 0x30000)).toString(16)}`,
  );
  const r = api.symbolize(text, addrs);
  assert.equal(r.names.length, addrs.length);
  assert.ok(r.site >= -1 && r.site < addrs.length);
  checks++;
}
api.findSymbol(text, 'fn_77.cold');
api.tracefsFromMounts('tracefs /a\\0 tracefs rw 0 0\ntracefs /b\\04 tracefs\n\\\\\\ \n');
api.parseCpuList('0-3,5,-,7-,,9-8,99999999999');
{
  // Module sections with garbage addresses, and tracefs lookups of odd paths.
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kt-sections-ex-'));
  for (let m = 0; m < 20; m++) {
    const sec = path.join(dir, `m${m}`, 'sections');
    fs.mkdirSync(sec, { recursive: true });
    for (let s = 0; s < 10; s++) {
      const junk = String.fromCharCode(...bytes(rnd() % 40).map((b) => (b % 95) + 32));
      const v = s % 3 === 0 ? junk : `0x${(0xffffffffc0000000n + BigInt(rnd() % 0x100000)).toString(16)}`;
      fs.writeFileSync(path.join(sec, `.s${s}`), v);
    }
  }
  for (let i = 0; i < 200; i++) {
    const name = api.nameFromSections(text, `0x${(0xffffffffbff00000n + BigInt(rnd() % 0x300000)).toString(16)}`, dir);
    assert.equal(typeof name, 'string');
    checks++;
  }
  assert.equal(api.locateTracefs('tracefs /nonexistent\\040x tracefs rw 0 0\n', [dir, '']).root, '');
  fs.rmSync(dir, { recursive: true, force: true });
}

// The module-load hold's classifier and merge (native/attribution/module_load.h):
// random frames (empty, unterminated "+", " [", dots, setters) and random
// cause objects of numbers and strings.
{
  const pieces = [
    'add_taint',
    'add_taint_module',
    'load_module',
    '.cold',
    '+0x1',
    ' [m]',
    '.',
    '+',
    ' ',
    '',
    '[',
    '\0',
  ];
  const frame = () => Array.from({ length: rnd() % 5 }, () => pieces[rnd() % pieces.length]).join('');
  for (let i = 0; i < 3000; i++) {
    const stack = Array.from({ length: rnd() % 8 }, frame);
    assert.equal(typeof api.fromModuleLoader(stack), 'boolean');
    assert.equal(typeof api.loaderBits(rnd()), 'boolean');
    const keys = ['tid', 'bits', 'samples', 'writers', 'after', 'before', 'x'];
    const cause = () =>
      Object.fromEntries(
        keys.filter(() => rnd() % 2).map((k) => [k, rnd() % 3 === 0 ? `0x${rnd().toString(16)}` : rnd() % 4]),
      );
    assert.equal(typeof api.mergeWatchpointCause(cause(), cause()), 'object');
    checks++;
  }
}

// The 'watchpoint' source on the watch thread, end to end on a child's
// variable (uretprobe: this CI's hypervisor drops hardware-breakpoint traps):
// arm, a storm that changes nothing, a change, and close, so the sanitizers
// see the perf rings, the inner epoll set and the drain on the loop thread.
async function watchpointRun() {
  const { execFileSync, spawn } = require('node:child_process');
  const os = require('node:os');
  if (!fs.existsSync('/sys/bus/event_source/devices/uprobe/type')) return 'no uprobe PMU';
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'no C compiler';
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kt-attr-ex-'));
  const exe = path.join(dir, 'kt-wp-child');
  execFileSync('cc', ['-O1', '-o', exe, path.join(__dirname, 'fixtures', 'wp-child.c')]);
  const file = path.join(dir, 'tainted');
  fs.writeFileSync(file, '0\n');
  const child = spawn(exe, [file]);
  const lines = [];
  const waiters = [];
  require('node:readline')
    .createInterface({ input: child.stdout })
    .on('line', (l) => (waiters.length ? waiters.shift()(l) : lines.push(l)));
  const line = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r)));
  try {
    const [address, offset] = (await line()).split(' ');
    const got = [];
    let wake;
    const r = addon.watchAdd(
      {
        path: file,
        triggers: ['watchpoint'],
        interval: 0,
        _watchpointTarget: { pid: child.pid, address, probe: { path: exe, offset } },
      },
      (trigger, value, _reported, causes) => {
        got.push([trigger, value, causes === null ? null : JSON.parse(causes)]);
        wake?.();
      },
    );
    if (!('id' in r)) return `watchAdd: ${JSON.stringify(r)}`;
    if (!r.triggers.includes('watchpoint')) return `not armed: ${JSON.stringify(r.unarmed)}`;
    const delivered = new Promise((res) => {
      wake = res;
    });
    child.stdin.write('storm 300\nset 64\n');
    await Promise.race([delivered, new Promise((res) => setTimeout(res, 10_000))]);
    assert.equal(got.length, 1);
    assert.equal(got[0][0], 'watchpoint');
    assert.equal(got[0][1], 64);
    assert.equal(got[0][2].watchpoint.pid, child.pid);
    assert.ok(addon.watchStats().watchpointSamples >= 301);
    assert.equal(addon.watchRemove(r.id), true);
    checks++;
    return null;
  } finally {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

watchpointRun().then(
  (skipped) => {
    if (skipped) console.log(`attribution exercise: watchpoint run skipped: ${skipped}`);
    console.log(`attribution exercise: ${checks} checks passed`);
  },
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

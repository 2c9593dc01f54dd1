// explainTaint(): the value, the module list and the kernel log from its first
// record, on fixture rings built from real console logs (test/fixtures/kmsg).
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { decodeTaint } from '../../lib/decode.js';
import { evidenceFromLog, explainTaint, KMSG_PATH, KmsgTail, logLimit, scanKernelLog } from '../../lib/explain.js';
import { parseKmsgRecord } from '../../lib/kmsg-cause.js';
import { writeValue } from '../helpers/fs.js';
import { bits, moduleTree } from '../helpers/modules.js';
import { tempDir } from '../helpers/tmp.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/kmsg/${name}`, import.meta.url));
const BOOT = Date.UTC(2026, 11, 2, 5, 0, 0);

let tmp: string;
beforeEach(() => {
  tmp = tempDir('kt-explain-');
});

function value(v: number): string {
  const p = join(tmp, 'tainted');
  writeValue(p, v);
  return p;
}

const sysModules = (entries: Record<string, string>) => moduleTree(tmp, entries);
const bit = bits;

describe('explainTaint on the 6.1 ring (old WARN banner)', () => {
  it('gives each set bit its first record, time, cause and actor', () => {
    // 12865 = P U W O E: the value that kernel reported after the run.
    expect(bit('P', 'U', 'W', 'O', 'E')).toBe(12865);
    const e = explainTaint({
      path: value(12865),
      profile: 'mainline',
      kmsgPath: fixture('bookworm-6.1.kmsg'),
      _sysModuleDir: sysModules({ kt_prop: 'POE', kt_warn: 'OE' }),
      _bootTime: BOOT,
    });
    expect(e.state.letters).toBe('PUWOE');
    const by = Object.fromEntries(e.bits.map((b) => [b.flag.letter, b]));
    expect(Object.keys(by).sort()).toEqual(['E', 'O', 'P', 'U', 'W']);

    expect(by.O).toMatchObject({
      source: 'kmsg',
      sinceBoot: 11.002296,
      cause: {
        kind: 'module',
        module: { name: 'kt_prop', letters: 'POE', intree: false, signed: false },
        line: 'kt_prop: loading out-of-tree module taints kernel.',
      },
      actor: null,
    });
    expect(by.O.since?.getTime()).toBe(BOOT + 11002);
    expect(by.P.cause).toMatchObject({ kind: 'module', module: { name: 'kt_prop', license: 'Proprietary' } });
    expect(by.P.sinceBoot).toBe(11.003201);
    expect(by.E.cause?.line).toContain('module verification failed');
    // W: old banner; the task line that follows names the comm.
    expect(by.W).toMatchObject({
      source: 'kmsg',
      sinceBoot: 12.041456,
      cause: { kind: 'warning', site: '<scratch>/bookworm/modules-build/kt_warn.c:10' },
      actor: { kind: 'incidental', pid: null, tid: 119, comm: 'insmod', via: 'kmsg' },
    });
    // U was written through the sysctl: that kernel printed no line for it.
    expect(by.U).toMatchObject({ cause: null, since: null, sinceBoot: null, actor: null });
    expect(e.limits).toEqual(['no log record or loaded module explains U']);
  });
});

describe('explainTaint on the 7.x ring (new WARN banner, caller ids)', () => {
  it('reads the new banner, the second licence line and CONFIG_PRINTK_CALLER task ids', () => {
    const e = explainTaint({
      path: value(bit('P', 'W', 'O', 'E')),
      profile: 'mainline',
      kmsgPath: fixture('trixie-7x.kmsg'),
      _sysModuleDir: sysModules({ kt_prop: 'POE' }),
      _bootTime: BOOT,
    });
    const by = Object.fromEntries(e.bits.map((b) => [b.flag.letter, b]));
    expect(by.W).toMatchObject({
      sinceBoot: 9.041456,
      cause: {
        kind: 'warning',
        site: 'arch/x86/kernel/cpu/bugs.c:3736',
        line: 'WARNING: arch/x86/kernel/cpu/bugs.c:3736 at __warn_thunk+0x10/0x20, CPU#1: (udev-worker)/728',
      },
      actor: { kind: 'incidental', tid: 728, comm: '(udev-worker)', via: 'kmsg' },
    });
    // The first licence line wins (it names the licence); the loader's task id comes from caller=T112.
    expect(by.P.cause?.module).toMatchObject({ name: 'kt_prop', license: 'Proprietary', letters: 'POE' });
    expect(by.P.actor).toEqual({ kind: 'process', pid: null, tid: 112, comm: null, via: 'kmsg' });
    expect(e.limits).toEqual([]);
  });
});

describe('oops: the report lines that follow the header name the task and the site', () => {
  it('D from "Oops: … [#1]", task from "CPU: … PID: … Comm:", site from RIP or "kernel BUG at"', () => {
    const file = join(tmp, 'oops');
    writeFileSync(
      file,
      [
        '1,0,1000000,-;BUG: kernel NULL pointer dereference, address: 0000000000000008',
        '1,1,1000100,-;#PF: supervisor write access in kernel mode',
        '4,2,1000200,-;Oops: 0002 [#1] PREEMPT SMP NOPTI',
        '4,3,1000300,-;CPU: 2 UID: 0 PID: 77 Comm: kworker/2:1 (events) Not tainted 7.2.13 #1',
        '4,4,1000400,-;RIP: 0010:kt_oops_work+0x11/0x30 [kt_oops]',
        '4,5,2000000,-;kernel BUG at mm/slub.c:444!',
        '4,6,2000100,-;invalid opcode: 0000 [#2] SMP',
        '',
      ].join('\n'),
    );
    const e = explainTaint({ path: value(bit('D')), profile: 'mainline', kmsgPath: file, _bootTime: BOOT });
    expect(e.bits[0]).toMatchObject({
      sinceBoot: 1.0002,
      cause: { kind: 'oops', site: 'kt_oops_work+0x11/0x30 [kt_oops]', line: 'Oops: 0002 [#1] PREEMPT SMP NOPTI' },
      actor: { kind: 'incidental', tid: 77, comm: 'kworker/2:1 (events)', via: 'kmsg' },
    });
    // Without the first oops, the second one wins, with the BUG site printed before it.
    writeFileSync(
      file,
      ['4,5,2000000,-;kernel BUG at mm/slub.c:444!', '4,6,2000100,-;invalid opcode: 0000 [#2] SMP', ''].join('\n'),
    );
    const e2 = explainTaint({ path: value(bit('D')), profile: 'mainline', kmsgPath: file, _bootTime: BOOT });
    expect(e2.bits[0].cause).toMatchObject({ kind: 'oops', site: 'mm/slub.c:444' });
  });
});

describe('limits', () => {
  it('a ring that no longer reaches boot says where it starts', () => {
    const e = explainTaint({
      path: value(bit('L', 'W')),
      profile: 'mainline',
      kmsgPath: fixture('wrapped.kmsg'),
      _bootTime: BOOT,
    });
    const by = Object.fromEntries(e.bits.map((b) => [b.flag.letter, b]));
    expect(by.L).toMatchObject({
      sinceBoot: 3200.25,
      cause: { kind: 'soft-lockup' },
      actor: { kind: 'incidental', tid: 4242, comm: 'kworker/3:1 (events)' },
    });
    expect(by.W.cause).toBeNull();
    expect(e.limits).toContain('the log ring no longer reaches back to boot: oldest record at 3121 s');
    expect(e.limits).toContain('no log record or loaded module explains W');
  });

  it('an unreadable log is a limit, in plain words, not an error', () => {
    const e = explainTaint({ path: value(bit('W')), profile: 'mainline', kmsgPath: join(tmp, 'missing') });
    expect(e.bits[0].cause).toBeNull();
    expect(e.limits[0]).toBe(`kernel log not available: ${join(tmp, 'missing')} does not exist`);
  });

  it('kernel log permission limits say why, in plain words', () => {
    const eperm = Object.assign(new Error('EPERM'), { code: 'EPERM' });
    expect(logLimit(KMSG_PATH, eperm, () => '1')).toBe('kernel log not readable: dmesg_restrict=1 and no CAP_SYSLOG');
    expect(logLimit(KMSG_PATH, eperm, () => '0')).toBe(`kernel log not readable: EPERM opening ${KMSG_PATH}`);
    // dmesg_restrict says nothing about another file.
    expect(logLimit('/var/log/k', { ...eperm, code: 'EACCES' }, () => '1')).toBe(
      'kernel log not readable: EACCES opening /var/log/k',
    );
  });

  it('the first record that explains a bit wins; later ones for the same bit are ignored', () => {
    const file = join(tmp, 'two');
    writeFileSync(
      file,
      [
        '4,0,1000000,-;WARNING: at first_site+0x1/0x2, CPU#0: swapper/0',
        '4,1,2000000,-;WARNING: CPU: 1 PID: 42 at mm/slub.c:123 kfree+0x1/0x2',
        '4,2,3000000,-;kt_b: loading out-of-tree module taints kernel.',
        '4,3,4000000,-;kt_a: loading out-of-tree module taints kernel.',
        '',
      ].join('\n'),
    );
    const e = explainTaint({ path: value(bit('W', 'O')), profile: 'mainline', kmsgPath: file, _bootTime: BOOT });
    const by = Object.fromEntries(e.bits.map((b) => [b.flag.letter, b]));
    expect(by.W).toMatchObject({ sinceBoot: 1, cause: { site: 'first_site+0x1/0x2' }, actor: { comm: 'swapper' } });
    expect(by.W.since?.getTime()).toBe(BOOT + 1000);
    expect(by.O).toMatchObject({ sinceBoot: 3, cause: { module: { name: 'kt_b' } } });
  });

  it('modules alone explain module bits when the log is not readable', () => {
    const e = explainTaint({
      path: value(bit('P', 'O')),
      profile: 'mainline',
      kmsgPath: join(tmp, 'missing'),
      _sysModuleDir: sysModules({ nvidia: 'PO' }),
    });
    expect(e.bits.map((b) => [b.flag.letter, b.source, b.cause?.module?.name])).toEqual([
      ['P', 'modules', 'nvidia'],
      ['O', 'modules', 'nvidia'],
    ]);
    expect(e.bits[0].since).toBeNull();
  });

  it('two modules carrying a bit: the module is not named (never guessed)', () => {
    const e = explainTaint({
      path: value(bit('O')),
      profile: 'mainline',
      kmsgPath: join(tmp, 'missing'),
      _sysModuleDir: sysModules({ a: 'O', b: 'O' }),
    });
    expect(e.bits[0].cause).toEqual({ kind: 'module' });
  });

  it('T is built in: set from boot', () => {
    const e = explainTaint({
      path: value(bit('T')),
      profile: 'mainline',
      kmsgPath: fixture('wrapped.kmsg'),
      _bootTime: BOOT,
    });
    expect(e.bits[0]).toMatchObject({ source: 'built-in', sinceBoot: 0, cause: { kind: 'built-in' }, actor: null });
    expect(e.bits[0].since?.getTime()).toBe(BOOT);
  });

  it('a clean kernel reads nothing and has no limits', () => {
    const e = explainTaint({ path: value(0), kmsgPath: join(tmp, 'missing') });
    expect(e).toMatchObject({ bits: [], limits: [] });
  });

  it('bad options are coded errors', () => {
    expect(() => explainTaint({ kmsgPath: '' })).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }),
    );
    expect(() => explainTaint({ path: value(1), profile: 'nope' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }),
    );
    expect(() => explainTaint(null as never)).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }),
    );
    expect(() => explainTaint({ path: join(tmp, 'nofile') })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('the log reader: garbage, huge lines, truncated rings', () => {
  it('skips lines that are not records, oversized lines and a torn last record; keeps the rest', () => {
    const good = readFileSync(fixture('bookworm-6.1.kmsg'), 'utf8');
    const huge = `4,99,1,-;${'A'.repeat(200_000)}`;
    const garbage = ['\u0000\u0001\u00ff binary', '6,1;x', '', 'x'.repeat(70_000), huge].join('\n');
    const torn = good.slice(0, good.indexOf('WARNING') + 20); // cut inside the WARN banner record
    const file = join(tmp, 'ring');
    writeFileSync(file, `${garbage}\n${torn}`);
    const e = explainTaint({ path: value(bit('O', 'W')), profile: 'mainline', kmsgPath: file, _bootTime: BOOT });
    const by = Object.fromEntries(e.bits.map((b) => [b.flag.letter, b]));
    expect(by.O.cause?.kind).toBe('module');
    // The torn banner is still a record, but no longer a banner with a site.
    expect(by.W.cause).toBeNull();
    expect(e.limits.some((l) => /line\(s\) of .* are not kernel log records/.test(l))).toBe(true);
  });

  it('stops at the byte bound and says so', () => {
    const file = join(tmp, 'big');
    const filler = Array.from({ length: 5000 }, (_, i) => `6,${i},${i * 1000},-;filler line ${i}`).join('\n');
    writeFileSync(file, `${filler}\n4,5000,9000000,-;WARNING: at f+0x1/0x2, CPU#0: swapper/0\n`);
    const e = explainTaint({ path: value(bit('W')), profile: 'mainline', kmsgPath: file, _maxLogBytes: 64 * 1024 });
    expect(e.bits[0].cause).toBeNull();
    expect(e.limits).toContain('read only the first 64 KiB of the kernel log');
    const full = explainTaint({ path: value(bit('W')), profile: 'mainline', kmsgPath: file });
    expect(full.bits[0].cause?.kind).toBe('warning');
  });

  it('random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        const file = join(tmp, 'rand');
        writeFileSync(file, bytes);
        const scan = scanKernelLog(file, () => false);
        expect(scan.readable).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('a FIFO with no writer reads as an empty log and never blocks', async () => {
    const fifo = join(tmp, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const scan = scanKernelLog(fifo, () => false);
    expect(scan).toMatchObject({ readable: true, records: 0 });
  });

  it('a FIFO whose writer stays open and silent never blocks: the log read so far', () => {
    const fifo = join(tmp, 'fifo-w');
    execFileSync('mkfifo', [fifo]);
    // O_RDWR: a writer end held by this process, so the reader never sees end of file.
    const w = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      writeFileSync(w, '4,0,5000000,-;WARNING: at f+0x1/0x2, CPU#0: swapper/0\n4,1,6000000,-;torn rec');
      const t0 = Date.now();
      const e = explainTaint({ path: value(bit('W', 'O')), profile: 'mainline', kmsgPath: fifo, _bootTime: BOOT });
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(e.bits.map((b) => [b.flag.letter, b.cause?.kind ?? null])).toEqual([
        ['W', 'warning'],
        ['O', null],
      ]);
    } finally {
      closeSync(w);
    }
  });

  it('a directory or other unreadable kmsgPath is a limit, never a throw', () => {
    const d = join(tmp, 'adir');
    mkdirSync(d);
    const e = explainTaint({ path: value(bit('W')), profile: 'mainline', kmsgPath: d });
    expect(e.bits[0].cause).toBeNull();
    expect(e.limits[0]).toBe(`kernel log not readable: EISDIR on ${d}`);
    expect(scanKernelLog(d, () => false)).toMatchObject({ readable: false, records: 0 });
  });

  it('a read error (EIO) is a limit naming it; a tail on such a log reports it and never throws', () => {
    // /proc/self/mem opens, and its first read fails with EIO (nothing is mapped at address 0).
    const e = explainTaint({ path: value(bit('W')), profile: 'mainline', kmsgPath: '/proc/self/mem' });
    expect(e.limits[0]).toBe('kernel log not readable: EIO on /proc/self/mem');
    expect(e.bits[0].cause).toBeNull();
    const tail = KmsgTail.open('/proc/self/mem')!;
    try {
      expect(tail.poll()).toMatchObject({ readable: false, records: 0, error: { code: 'EIO' } });
      expect(tail.recent).toEqual([]);
    } finally {
      tail.close();
    }
  });

  it('continuation lines (" KEY=value") are neither records nor skipped garbage', () => {
    const file = join(tmp, 'dict');
    writeFileSync(
      file,
      '6,0,1,-;usb 1-1: new device\n SUBSYSTEM=usb\n DEVICE=c189:1\n4,1,2,-;kt_x: loading test module taints kernel.\n SUBSYSTEM=module\n',
    );
    const seen: string[] = [];
    const scan = scanKernelLog(file, (r) => {
      seen.push(r.text);
      return false;
    });
    expect(seen).toEqual(['usb 1-1: new device', 'kt_x: loading test module taints kernel.']);
    expect(scan).toMatchObject({ records: 2, skipped: 0 });
  });

  it("the watcher's tail reads through the same reader: a huge line split over polls is skipped whole", () => {
    const file = join(tmp, 'tail');
    writeFileSync(file, '6,0,1,-;first\n');
    const tail = KmsgTail.open(file)!;
    try {
      expect(tail.poll().records).toBe(1);
      // A 200 KB line written in two parts, each read by its own poll; its second half looks like a record.
      appendFileSync(file, `4,1,2,-;${'A'.repeat(100_000)}`);
      expect(tail.poll().records).toBe(0);
      appendFileSync(file, `${'B'.repeat(100_000)};4,2,3,-;not a record\n6,3,4,-;last\n`);
      const scan = tail.poll();
      expect(scan).toMatchObject({ records: 1, skipped: 1 });
      expect(tail.recent.map((r) => r.text)).toEqual(['first', 'last']);
      // A record whose end is not written yet waits for its newline.
      appendFileSync(file, '6,4,5,-;par');
      expect(tail.poll().records).toBe(0);
      appendFileSync(file, 'tial\n');
      tail.poll();
      expect(tail.recent.at(-1)?.text).toBe('partial');
    } finally {
      tail.close();
    }
  });

  it(`reads the real ${KMSG_PATH} from its start without blocking, where this process may (read-only)`, () => {
    let fd: number;
    try {
      fd = openSync(KMSG_PATH, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      // Explicit opt-out: this host hides the log (dmesg_restrict and no CAP_SYSLOG).
      console.log(`skipped: ${KMSG_PATH} not readable here (${(e as NodeJS.ErrnoException).code})`);
      return;
    }
    closeSync(fd);
    if (!statSync(KMSG_PATH).isCharacterDevice()) {
      console.log(`skipped: ${KMSG_PATH} is not the kernel's device here (a file mounted over it)`);
      return;
    }
    let count = 0;
    let firstSeq = -1;
    const scan = scanKernelLog(KMSG_PATH, (r) => {
      if (count++ === 0) firstSeq = r.seq;
      return false;
    });
    expect(scan.readable).toBe(true);
    expect(scan.records).toBe(count);
    expect(count).toBeGreaterThan(0);
    // From the start of the ring, not from its end.
    expect(scan.first?.seq).toBe(firstSeq);
    expect(scan.skipped).toBe(0);
    // A watcher's tail on the device: its first poll reads the ring from its start (as the scan did,
    // plus anything logged since), the next one only what was logged after it.
    const tail = KmsgTail.open(KMSG_PATH)!;
    try {
      const p1 = tail.poll();
      expect(p1.readable).toBe(true);
      // The ring may have dropped its oldest records since the scan: they count as read.
      expect(p1.first!.seq).toBeGreaterThanOrEqual(firstSeq);
      expect(p1.records + (p1.first!.seq - firstSeq)).toBeGreaterThanOrEqual(count);
      const last = tail.recent.at(-1)!.seq;
      const p2 = tail.poll();
      expect(p2.readable).toBe(true);
      if (p2.first !== null) expect(p2.first.seq).toBeGreaterThan(last);
    } finally {
      tail.close();
    }
  });
});

describe('evidenceFromLog over kept records (a watcher re-scans them per change)', () => {
  it('gives the same evidence on every scan, never objects shared between scans', () => {
    const text = readFileSync(fileURLToPath(new URL('../fixtures/kmsg/bookworm-6.1.kmsg', import.meta.url)), 'utf8');
    const records = text
      .split('\n')
      .map((l) => parseKmsgRecord(l))
      .filter((r): r is NonNullable<typeof r> => r !== null);
    const want = decodeTaint((1 << 0) | (1 << 9) | (1 << 12) | (1 << 13)).flags; // P W O E
    const first = evidenceFromLog(records, want, 0).found;
    expect([...first.keys()].sort((a, b) => a - b)).toEqual([0, 9, 12, 13]);
    const snapshot = JSON.stringify([...first.values()]);
    // A caller that edits what it got (as the watcher's actor merge may) cannot change a later scan.
    for (const ev of first.values()) {
      if (ev.cause !== null) (ev.cause as { site?: string }).site = 'edited';
      if (ev.cause?.module) (ev.cause.module as { name: string }).name = 'edited';
    }
    const second = evidenceFromLog(records, want, 0).found;
    expect(JSON.stringify([...second.values()])).toBe(snapshot);
  });
});

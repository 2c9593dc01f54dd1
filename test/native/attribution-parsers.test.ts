// The attribution parsers of the native addon (native/attribution/*) on
// synthetic input: perf mmap rings built here byte by byte (wrap-around, lost
// records, several CPUs, malformed headers), a fake /proc/kallsyms, and the
// tracefs `format` files real kernels printed (test/fixtures/tracefs). No
// kernel state is read or written.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { native } from '../../lib/binding.js';
import { isRoot } from '../helpers/features.js';
import { ROOT } from '../helpers/reference.js';
import { publicTempDir, tempDir } from '../helpers/tmp.js';

interface Sample {
  pid: number;
  tid: number;
  time: string;
  cpu: number;
  ip: string;
  callchain: string[];
  raw: Uint8Array;
}
interface Rec {
  type: number;
  size: number;
  sample?: Sample;
  lost?: number;
  comm?: string;
  pid?: number;
  error?: string;
}
interface Api {
  drainRing(
    data: Uint8Array,
    head: number,
    tail: number,
    sampleType: number,
  ): { tail: number; malformed: boolean; records: Rec[] };
  symbolize(
    text: string,
    addrs: (string | number)[],
  ): { names: string[]; covers: boolean[]; site: number; count: number; hidden: boolean };
  findSymbol(text: string, name: string): { address: string; hidden: boolean };
  parseFormat(text: string): {
    name?: string;
    id?: number;
    fields?: { type: string; name: string; offset: number; size: number; signed: boolean; dataLoc: boolean }[];
    error?: string;
  };
  readField(format: string, raw: Uint8Array, field: string): string | null;
  tracefsFromMounts(text: string): string;
  locateTracefs(mounts: string, fallbacks: string[]): { root: string; reason: string };
  nameFromSections(kallsyms: string, addr: string, sysfsModule: string, procModules?: string): string;
  parseCpuList(text: string): number[];
  causesJson(causes: [string, [string, string | number | string[]][]][]): string;
  earliestWarnTrap(kallsyms: string, traps: [number, string[]][]): number;
}
const api = (native() as unknown as { _attribution: Api })._attribution;

// linux/perf_event.h
const SAMPLE = 9;
const LOST = 2;
const COMM = 3;
const TID = 1 << 1;
const TIME = 1 << 2;
const CPU = 1 << 7;
const CALLCHAIN = 1 << 5;
const RAW = 1 << 10;
const WATCHPOINT_TYPE = TID | TIME | CPU | CALLCHAIN;
const TRACEPOINT_TYPE = TID | TIME | CPU | RAW;
const CONTEXT_KERNEL = 0xffffffffffffff80n; // PERF_CONTEXT_KERNEL (-128)

function record(type: number, body: Uint8Array): Uint8Array {
  const size = 8 + body.length;
  const r = new Uint8Array(size);
  const v = new DataView(r.buffer);
  v.setUint32(0, type, true);
  v.setUint16(4, 0, true);
  v.setUint16(6, size, true);
  r.set(body, 8);
  return r;
}

function wpSample(pid: number, tid: number, time: bigint, cpu: number, chain: bigint[]): Uint8Array {
  const b = new DataView(new ArrayBuffer(8 + 8 + 8 + 8 + 8 * chain.length));
  b.setUint32(0, pid, true);
  b.setUint32(4, tid, true);
  b.setBigUint64(8, time, true);
  b.setUint32(16, cpu, true);
  b.setBigUint64(24, BigInt(chain.length), true);
  for (const [i, ip] of chain.entries()) b.setBigUint64(32 + 8 * i, ip, true);
  return record(SAMPLE, new Uint8Array(b.buffer));
}

function tpSample(pid: number, cpu: number, raw: Uint8Array): Uint8Array {
  // PERF_SAMPLE_RAW: u32 size + data, padded so the record stays 8-byte aligned (as the kernel does).
  const rawLen = 4 + raw.length;
  const padded = Math.ceil(rawLen / 8) * 8;
  const b = new Uint8Array(8 + 8 + 8 + padded);
  const v = new DataView(b.buffer);
  v.setUint32(0, pid, true);
  v.setUint32(4, pid, true);
  v.setBigUint64(8, 123n, true);
  v.setUint32(16, cpu, true);
  v.setUint32(24, raw.length, true);
  b.set(raw, 28);
  return record(SAMPLE, b);
}

/** A data area of `size` bytes holding `records` from position `tail` on (wrapping). */
function ring(size: number, tail: number, records: Uint8Array[]): { data: Uint8Array; head: number } {
  const data = new Uint8Array(size).fill(0xee);
  let pos = tail;
  for (const r of records) {
    for (let i = 0; i < r.length; i++) data[(pos + i) % size] = r[i];
    pos += r.length;
  }
  return { data, head: pos };
}

describe('perf ring reader', () => {
  const chainA = [CONTEXT_KERNEL, 0xffffffff81377aean, 0xffffffff81377c7en];
  it('reads samples in order with their pid, tid, time, CPU and callchain (markers dropped)', () => {
    const { data, head } = ring(4096, 0, [
      wpSample(112, 113, 4110275442n, 0, chainA),
      wpSample(1, 1, 4110275999n, 3, [0xffffffffa0001011n]),
    ]);
    const r = api.drainRing(data, head, 0, WATCHPOINT_TYPE);
    expect(r.malformed).toBe(false);
    expect(r.tail).toBe(head);
    expect(r.records.map((x) => x.sample)).toMatchObject([
      { pid: 112, tid: 113, time: '4110275442', cpu: 0, callchain: ['0xffffffff81377aea', '0xffffffff81377c7e'] },
      { pid: 1, tid: 1, time: '4110275999', cpu: 3, callchain: ['0xffffffffa0001011'] },
    ]);
  });

  it('reassembles a record that wraps around the end of the data area', () => {
    const size = 256;
    const chain = Array.from({ length: 12 }, (_, i) => 0xffffffff81000000n + BigInt(i) * 0x111n);
    const rec = wpSample(4242, 4243, 99n, 1, chain); // 32 + 96 + 8 = 136 bytes
    for (const tail of [size - 8, size - 24, size - 100, size * 5 - 40]) {
      const { data, head } = ring(size, tail, [rec]);
      const r = api.drainRing(data, head, tail, WATCHPOINT_TYPE);
      expect(r.malformed, `tail ${tail}`).toBe(false);
      expect(r.tail).toBe(head);
      expect(r.records).toHaveLength(1);
      expect(r.records[0].sample?.callchain).toEqual(chain.map((c) => `0x${c.toString(16)}`));
      expect(r.records[0].sample?.pid).toBe(4242);
    }
  });

  it('reports lost records between samples and keeps reading after them', () => {
    const lost = new DataView(new ArrayBuffer(16));
    lost.setBigUint64(0, 7n, true); // id
    lost.setBigUint64(8, 31n, true); // lost
    const comm = new Uint8Array(8 + 16);
    new DataView(comm.buffer).setUint32(0, 77, true);
    new DataView(comm.buffer).setUint32(4, 77, true);
    comm.set(new TextEncoder().encode('(udev-worker)'), 8);
    const { data, head } = ring(512, 300, [
      wpSample(10, 10, 1n, 0, chainA),
      record(LOST, new Uint8Array(lost.buffer)),
      record(COMM, comm),
      wpSample(11, 11, 2n, 1, chainA),
    ]);
    const r = api.drainRing(data, head, 300, WATCHPOINT_TYPE);
    expect(r.records.map((x) => x.type)).toEqual([SAMPLE, LOST, COMM, SAMPLE]);
    expect(r.records[1].lost).toBe(31);
    expect(r.records[2]).toMatchObject({ comm: '(udev-worker)', pid: 77 });
    expect(r.records[3].sample?.pid).toBe(11);
  });

  it('decodes samples of several CPUs as their rings hold them', () => {
    const rings = [0, 1, 2, 3].map((cpu) =>
      ring(1024, cpu * 100, [wpSample(500 + cpu, 500 + cpu, BigInt(1000 - cpu), cpu, chainA)]),
    );
    const got = rings.map((r, cpu) => api.drainRing(r.data, r.head, cpu * 100, WATCHPOINT_TYPE).records[0].sample);
    expect(got.map((s) => [s?.cpu, s?.pid, s?.time])).toEqual([
      [0, 500, '1000'],
      [1, 501, '999'],
      [2, 502, '998'],
      [3, 503, '997'],
    ]);
  });

  it('never reads past head or loops on a malformed header, and says so', () => {
    const good = wpSample(1, 1, 1n, 0, chainA);
    // size 0 header after a good record: skip to head
    const zero = new Uint8Array(8);
    let { data, head } = ring(256, 0, [good, zero, good]);
    let r = api.drainRing(data, head, 0, WATCHPOINT_TYPE);
    expect(r).toMatchObject({ malformed: true, tail: head });
    expect(r.records).toHaveLength(1);
    // a size beyond head
    const big = record(SAMPLE, new Uint8Array(8));
    new DataView(big.buffer).setUint16(6, 4000, true);
    ({ data, head } = ring(256, 0, [big]));
    r = api.drainRing(data, head, 0, WATCHPOINT_TYPE);
    expect(r).toMatchObject({ malformed: true, tail: head, records: [] });
    // the writer lapped the reader (head - tail > size), or positions are garbage
    expect(api.drainRing(new Uint8Array(256), 1000, 0, WATCHPOINT_TYPE)).toMatchObject({ malformed: true, tail: 1000 });
    expect(api.drainRing(new Uint8Array(256), 0, 8, WATCHPOINT_TYPE)).toMatchObject({ malformed: true, tail: 0 });
    // a data area that is not a power of two
    expect(api.drainRing(new Uint8Array(100), 16, 0, WATCHPOINT_TYPE)).toMatchObject({ malformed: true, tail: 16 });
    // an empty ring
    expect(api.drainRing(new Uint8Array(256), 64, 64, WATCHPOINT_TYPE)).toMatchObject({
      malformed: false,
      tail: 64,
      records: [],
    });
  });

  it('rejects a sample whose callchain or raw size runs past the record', () => {
    const s = wpSample(1, 1, 1n, 0, chainA);
    new DataView(s.buffer).setBigUint64(8 + 24, 1n << 40n, true); // nr
    let { data, head } = ring(256, 0, [s]);
    expect(api.drainRing(data, head, 0, WATCHPOINT_TYPE).records[0].error).toBe('malformed sample');
    const t = tpSample(1, 0, new Uint8Array(20));
    new DataView(t.buffer).setUint32(8 + 24, 5000, true);
    ({ data, head } = ring(256, 0, [t]));
    expect(api.drainRing(data, head, 0, TRACEPOINT_TYPE).records[0].error).toBe('malformed sample');
    // a sample_type bit the parser cannot skip (PERF_SAMPLE_READ)
    ({ data, head } = ring(256, 0, [wpSample(1, 1, 1n, 0, chainA)]));
    expect(api.drainRing(data, head, 0, WATCHPOINT_TYPE | (1 << 4)).records[0].error).toBe('malformed sample');
  });

  it('survives random bytes in every position (no crash, progress, tail within head)', () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 300; i++) {
      const data = new Uint8Array(256).map(() => rnd() & 0xff);
      const tail = rnd() % 1000;
      const head = tail + (rnd() % 300);
      const r = api.drainRing(data, head, tail, rnd() & 0xffff);
      expect(r.tail).toBe(head);
    }
  });
});

describe('module_load and error_report_end records, decoded with the format files', () => {
  const fixture = (n: string) => readFileSync(join(ROOT, 'test/fixtures/tracefs', n), 'utf8');
  const ml72 = fixture('module_load-7.2.13.format');
  const ml61 = fixture('module_load-6.1.format');
  const er72 = fixture('error_report_end-7.2.13.format');

  it('parses the real 7.2.13 and 6.1 module_load formats', () => {
    for (const [text, id, nameSigned] of [
      [ml72, 396, false],
      [ml61, 357, true],
    ] as const) {
      const f = api.parseFormat(text);
      expect(f.error).toBeUndefined();
      expect(f).toMatchObject({ name: 'module_load', id });
      expect(f.fields?.map((x) => [x.name, x.offset, x.size])).toEqual([
        ['common_type', 0, 2],
        ['common_flags', 2, 1],
        ['common_preempt_count', 3, 1],
        ['common_pid', 4, 4],
        ['taints', 8, 4],
        ['name', 12, 4],
      ]);
      expect(f.fields?.find((x) => x.name === 'name')).toMatchObject({
        type: '__data_loc char[]',
        dataLoc: true,
        signed: nameSigned,
      });
      expect(f.fields?.find((x) => x.name === 'taints')).toMatchObject({ type: 'unsigned int', dataLoc: false });
    }
  });

  it('parses error_report_end (enum field, no ID line)', () => {
    const f = api.parseFormat(er72);
    expect(f).toMatchObject({ name: 'error_report_end', id: -1 });
    expect(f.fields?.slice(4)).toEqual([
      { type: 'enum error_detector', name: 'error_detector', offset: 8, size: 4, signed: false, dataLoc: false },
      { type: 'unsigned long', name: 'id', offset: 16, size: 8, signed: false, dataLoc: false },
    ]);
  });

  it('reads the module name and taints of a raw module_load record, through a ring', () => {
    // The record seen on 7.2.13: name=kt_prop module_taints=0x3001 pid=112 comm=insmod
    const raw = new Uint8Array(24);
    const v = new DataView(raw.buffer);
    v.setUint16(0, 396, true);
    v.setInt32(4, 112, true);
    v.setUint32(8, 0x3001, true);
    v.setUint32(12, (8 << 16) | 16, true); // __data_loc: length 8 at offset 16
    raw.set(new TextEncoder().encode('kt_prop\0'), 16);
    const { data, head } = ring(256, 200, [tpSample(112, 0, raw)]);
    const s = api.drainRing(data, head, 200, TRACEPOINT_TYPE).records[0].sample as Sample;
    expect(s.pid).toBe(112);
    expect(Array.from(s.raw)).toEqual(Array.from(raw));
    expect(api.readField(ml72, s.raw, 'taints')).toBe('0x3001');
    expect(api.readField(ml72, s.raw, 'name')).toBe('kt_prop');
    expect(api.readField(ml61, s.raw, 'name')).toBe('kt_prop');
  });

  it('reads the WARN caller of an error_report_end record', () => {
    const raw = new Uint8Array(24);
    const v = new DataView(raw.buffer);
    v.setUint32(8, 2, true);
    v.setBigUint64(16, 0xffffffffc0a01011n, true);
    expect(api.readField(er72, raw, 'error_detector')).toBe('0x2');
    expect(api.readField(er72, raw, 'id')).toBe('0xffffffffc0a01011');
  });

  it('refuses out-of-bounds fields and __data_loc pointers instead of reading past the record', () => {
    const raw = new Uint8Array(16);
    new DataView(raw.buffer).setUint32(12, (200 << 16) | 10, true);
    expect(api.readField(ml72, raw, 'name')).toBeNull();
    expect(api.readField(ml72, new Uint8Array(10), 'taints')).toBeNull();
    expect(api.readField(er72, new Uint8Array(20), 'id')).toBeNull();
    expect(api.readField(ml72, raw, 'nope')).toBeNull();
  });

  it('rejects text that is not a format file', () => {
    expect(api.parseFormat('').error).toBe('no field lines');
    expect(api.parseFormat('name: x\nID: 1\nformat:\n\tfield:int;\toffset:0;\tsize:4;\n').error).toMatch(
      /malformed field/,
    );
    expect(api.parseFormat('\tfield:int x;\toffset:abc;\tsize:4;\tsigned:1;\n').error).toMatch(/malformed field/);
    expect(api.parseFormat('x'.repeat(100_000)).error).toBe('no field lines');
  });
});

describe('kallsyms symbolizer', () => {
  // A fake /proc/kallsyms in the kernel's layout: the image, then modules with [name].
  const kallsyms = [
    'ffffffff81000000 T _stext',
    'ffffffff81377ad0 T add_taint',
    'ffffffff81377b30 t proc_taint',
    'ffffffff81377ed0 T __warn',
    'ffffffff81378100 T report_bug',
    'ffffffff81378300 T handle_bug',
    'ffffffff81378400 T exc_invalid_op',
    'ffffffff81378500 T asm_exc_invalid_op',
    'ffffffff81379000 T proc_sys_call_handler',
    'ffffffff8120c5a0 t __warn.cold',
    'ffffffff8120c400 t proc_taint.cold',
    'ffffffff82000000 T _etext',
    'ffffffff8f849508 b tainted_mask',
    'ffffffffc0a01000 t kt_warn_init\t[kt_warn]',
    'ffffffffc0a01100 t kt_warn_exit\t[kt_warn]',
    'ffffffffc0b00000 t kt_prop_init\t[kt_prop]',
    'ffffffffc0b00040 t kt_prop_exit\t[kt_prop]',
    'garbage line',
    '',
  ].join('\n');

  it('finds tainted_mask (a data symbol) and names code addresses', () => {
    expect(api.findSymbol(kallsyms, 'tainted_mask')).toEqual({ address: '0xffffffff8f849508', hidden: false });
    expect(api.findSymbol(kallsyms, 'nope')).toEqual({ address: '0x0', hidden: false });
    const r = api.symbolize(kallsyms, ['0xffffffff81377aea', '0xffffffff81377c7e', '0xffffffffc0a01011']);
    expect(r.names).toEqual(['add_taint+0x1a', 'proc_taint+0x14e', 'kt_warn_init+0x11 [kt_warn]']);
  });

  it('names the site of a user write: proc_taint, past add_taint', () => {
    const r = api.symbolize(kallsyms, ['0xffffffff81377aea', '0xffffffff81377c7e', '0xffffffff810791c9']);
    expect(r.site).toBe(1);
  });

  it('names the site of a WARN: the module function, past __warn(.cold) and the trap', () => {
    const chain = [
      0xffffffff81377aean,
      0xffffffff8120c5afn,
      0xffffffff81378120n,
      0xffffffff81378310n,
      0xffffffff81378410n,
      0xffffffff81378510n,
      0xffffffffc0a01011n,
    ];
    const r = api.symbolize(
      kallsyms,
      chain.map((c) => `0x${c.toString(16)}`),
    );
    expect(r.site).toBe(6);
    expect(r.names[1]).toBe('__warn.cold+0xf');
    expect(r.names[6]).toBe('kt_warn_init+0x11 [kt_warn]');
    // inlined into proc_taint.cold on 6.17+: still past the machinery
    expect(api.symbolize(kallsyms, ['0xffffffff8120c410']).site).toBe(0);
  });

  it("treats an address past a module's last symbol as unknown (a module loaded since): hex, site there", () => {
    const r = api.symbolize(kallsyms, ['0xffffffff81377aea', '0xffffffffc0c00010']);
    expect(r.covers).toEqual([true, false]);
    expect(r.names[1]).toBe('0xffffffffc0c00010');
    expect(r.site).toBe(1);
    expect(api.symbolize(kallsyms, ['0xffffffff80000000']).names).toEqual(['0xffffffff80000000']);
  });

  it('reports a kallsyms hidden by kptr_restrict', () => {
    const hidden = kallsyms.replace(/^[0-9a-f]{16}/gm, '0000000000000000');
    expect(api.findSymbol(hidden, 'tainted_mask')).toEqual({ address: '0x0', hidden: true });
    expect(api.symbolize(hidden, ['0xffffffff81377aea'])).toMatchObject({
      count: 0,
      hidden: true,
      site: 0,
      names: ['0xffffffff81377aea'],
    });
  });

  it('handles a huge table and rejects bad addresses with a TypeError', () => {
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) lines.push(`${(0xffffffff81000000n + BigInt(i) * 16n).toString(16)} t f${i}`);
    const r = api.symbolize(lines.join('\n'), ['0xffffffff81000015', '0xffffffff81030d45']);
    expect(r.count).toBe(100_000);
    expect(r.names).toEqual(['f1+0x5', 'f12500+0x5']);
    expect(() => api.symbolize(kallsyms, ['zz'])).toThrow(TypeError);
    expect(() => api.symbolize(kallsyms, [-1])).toThrow(TypeError);
  });
});

describe('naming a module loaded after kallsyms was read, from /sys/module/<m>/sections', () => {
  // The watch thread never waits for a /proc/kallsyms re-read: a frame in a
  // new module (a WARN in its init) is named from its sections meanwhile.
  const kallsyms = [
    'ffffffff81000000 T _stext',
    'ffffffff81001000 T add_taint',
    'ffffffff81002000 T __warn',
    'ffffffff8100f000 T _etext',
    'ffffffffc0000000 t old_fn\t[old]',
    'ffffffffc0000100 t old_end\t[old]',
  ].join('\n');
  function sysfs(): string {
    const d = tempDir();
    const sections = (m: string, s: Record<string, string>) => {
      mkdirSync(join(d, m, 'sections'), { recursive: true });
      for (const [k, v] of Object.entries(s)) writeFileSync(join(d, m, 'sections', k), `${v}\n`);
    };
    sections('kt_warn', {
      '.text': '0xffffffffc0a00000',
      '.init.text': '0xffffffffc0a05000',
      '.data': '0xffffffffc0a02000',
    });
    sections('old', { '.text': '0xffffffffc0000000' }); // in the table already: never used
    sections('hidden', { '.text': '0x0000000000000000' }); // kptr_restrict: zeros
    mkdirSync(join(d, 'builtin', 'parameters'), { recursive: true }); // built in: no sections
    return d;
  }

  it('names the nearest section below the address, in a module the table does not know', () => {
    const d = sysfs();
    expect(api.nameFromSections(kallsyms, '0xffffffffc0a05011', d)).toBe('.init.text+0x11 [kt_warn]');
    expect(api.nameFromSections(kallsyms, '0xffffffffc0a00040', d)).toBe('.text+0x40 [kt_warn]');
    expect(api.nameFromSections(kallsyms, '0xffffffffc0a02008', d)).toBe('.data+0x8 [kt_warn]');
  });

  it('gives "" for addresses no new module holds, a missing directory, or hidden addresses', () => {
    const d = sysfs();
    // below every section, or in the module the table already lists
    expect(api.nameFromSections(kallsyms, '0xffffffffb0000000', d)).toBe('');
    expect(api.nameFromSections(kallsyms, '0xffffffffc0000010', d)).toBe('');
    // far above the last section (64 MiB): not that module's
    expect(api.nameFromSections(kallsyms, '0xffffffffc8a00000', d)).toBe('');
    expect(api.nameFromSections(kallsyms, '0xffffffffc0a05011', join(d, 'nope'))).toBe('');
    expect(() => api.nameFromSections(kallsyms, 'zz', d)).toThrow(TypeError);
  });

  it('looks only in the modules /proc/modules lists (one read, no lookup per built-in), else every directory', () => {
    const d = sysfs();
    // A second new module whose .text is nearer below the address than kt_warn's .init.text.
    mkdirSync(join(d, 'kt_other', 'sections'), { recursive: true });
    writeFileSync(join(d, 'kt_other', 'sections', '.text'), '0xffffffffc0a05008\n');
    const proc = join(d, 'proc-modules');
    // Real /proc/modules lines (name size refcount users state address taint).
    writeFileSync(
      proc,
      [
        'kt_warn 16384 0 - Live 0xffffffffc0a00000 (OE)',
        'old 12288 1 - Live 0xffffffffc0000000',
        'hidden 12288 0 - Live 0x0000000000000000',
        '',
      ].join('\n'),
    );
    // kt_other is not loaded as far as /proc/modules says: its stale sysfs entry is not read.
    expect(api.nameFromSections(kallsyms, '0xffffffffc0a05011', d, proc)).toBe('.init.text+0x11 [kt_warn]');
    // Without the list every directory counts, kt_other's .text included.
    expect(api.nameFromSections(kallsyms, '0xffffffffc0a05011', d)).toBe('.text+0x9 [kt_other]');
    // An unreadable list: every directory, as before.
    expect(api.nameFromSections(kallsyms, '0xffffffffc0a05011', d, join(d, 'no-such-file'))).toBe(
      '.text+0x9 [kt_other]',
    );
  });
});

describe('tracefs mount point and CPU list', () => {
  it('finds tracefs in /proc/self/mounts, with octal escapes', () => {
    const mounts = [
      'sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0',
      'debugfs /sys/kernel/debug debugfs rw,relatime 0 0',
      'tracefs /mnt/my\\040trace tracefs rw,relatime 0 0',
    ].join('\n');
    expect(api.tracefsFromMounts(mounts)).toBe('/mnt/my trace');
    expect(api.tracefsFromMounts('proc /proc proc rw 0 0\n')).toBe('');
    expect(api.tracefsFromMounts('')).toBe('');
  });

  // The tracepoint source's 'ready' reason (TracepointCore::Arm): which tracefs
  // it reads, and why none, against real directories.
  const mountLine = (dir: string) => `tracefs ${dir.replace(/ /g, '\\040')} tracefs rw,relatime 0 0\n`;
  it('locates tracefs: the mounted one, else the first fallback with an events directory', () => {
    const d = tempDir();
    for (const n of ['mounted', 'fallback']) mkdirSync(join(d, n, 'events'), { recursive: true });
    mkdirSync(join(d, 'empty'));
    expect(api.locateTracefs(mountLine(join(d, 'mounted')), [join(d, 'fallback')])).toEqual({
      root: join(d, 'mounted'),
      reason: '',
    });
    expect(api.locateTracefs('proc /proc proc rw 0 0\n', [join(d, 'missing'), join(d, 'fallback')]).root).toBe(
      join(d, 'fallback'),
    );
    // A tracefs mount without events/ (or gone) falls back too.
    expect(api.locateTracefs(mountLine(join(d, 'empty')), [join(d, 'fallback')]).root).toBe(join(d, 'fallback'));
  });

  it('says "no tracefs mounted" only when there is none, and names a mount without events', () => {
    const d = tempDir();
    mkdirSync(join(d, 'empty'));
    expect(api.locateTracefs('', [join(d, 'a'), join(d, 'b')])).toEqual({
      root: '',
      reason: 'tracepoint: no tracefs mounted',
    });
    expect(api.locateTracefs(mountLine(join(d, 'empty')), [join(d, 'a')])).toEqual({
      root: '',
      reason: `tracepoint: tracefs at ${join(d, 'empty')} has no events directory`,
    });
    // A path through a regular file: not there either.
    writeFileSync(join(d, 'file'), 'x');
    expect(api.locateTracefs('', [join(d, 'file')]).reason).toBe('tracepoint: no tracefs mounted');
  });

  it('reports a tracefs the reader may not search (mode 700, not root) as a permission, not as missing', () => {
    // The guest's /sys/kernel/tracing is root-only (mode 700): an unprivileged
    // watcher must hear why. Root bypasses modes, so as root the check runs in
    // a child that drops to nobody (the addon copied where nobody can load it).
    const d = publicTempDir();
    const tracefs = join(d, 'tracing');
    mkdirSync(join(tracefs, 'events'), { recursive: true });
    const mounts = mountLine(tracefs);
    const fallbacks = [join(d, 'missing')];
    const expected = {
      root: '',
      reason: `tracepoint: ${tracefs}: Permission denied (needs root, or CAP_DAC_READ_SEARCH and CAP_PERFMON)`,
    };
    if (!isRoot) {
      chmodSync(tracefs, 0o000);
      try {
        expect(api.locateTracefs(mounts, fallbacks)).toEqual(expected);
      } finally {
        chmodSync(tracefs, 0o755);
      }
      return;
    }
    chmodSync(tracefs, 0o700);
    const addon = join(d, 'kernel_taint.node');
    copyFileSync(join(ROOT, 'build/Release/kernel_taint.node'), addon);
    const script = `const r = require(${JSON.stringify(addon)})._attribution.locateTracefs(${JSON.stringify(
      mounts,
    )}, ${JSON.stringify(fallbacks)}); process.stdout.write(JSON.stringify(r));`;
    const child = spawnSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: d });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual(expected);
    // The same directory is fine for root: the reason depends on the reader.
    expect(api.locateTracefs(mounts, fallbacks)).toEqual({ root: tracefs, reason: '' });
  });

  it('parses the online CPU list', () => {
    expect(api.parseCpuList('0-3,5,7-8\n')).toEqual([0, 1, 2, 3, 5, 7, 8]);
    expect(api.parseCpuList('0\n')).toEqual([0]);
    expect(api.parseCpuList('3-1')).toEqual([]);
    expect(api.parseCpuList('')).toEqual([]);
    expect(api.parseCpuList('0-99999999')).toEqual([]);
  });
});

describe("a delivery's causes, as the JSON text the watch thread hands to JS", () => {
  // Real kernel log lines and task names carry quotes, backslashes, tabs, escape bytes and UTF-8.
  const awkward = [
    'kt_warn: module license \'Proprietary "x"\' taints kernel.',
    'C:\\path\\with\\backslashes',
    'tab\there, newline\nthere, bell\u0007, escape\u001b[31m, nul\u0000',
    '(udev-worker)/728 → naïve ✓',
    '',
  ];
  it('round-trips every string, number and list exactly through JSON.parse', () => {
    const text = api.causesJson([
      ['kmsg', [['line', awkward[0]]]],
      [
        'watchpoint',
        [
          ['pid', 4194304],
          ['timeNs', 1234567890123456],
          ['cpu', -1],
          ['ratio', 0.1],
          ['comm', awkward[3]],
          ['exe', awkward[1]],
          ['site', awkward[2]],
          ['empty', awkward[4]],
          ['stack', awkward],
        ],
      ],
    ]);
    expect(JSON.parse(text)).toEqual({
      kmsg: { line: awkward[0] },
      watchpoint: {
        pid: 4194304,
        timeNs: 1234567890123456,
        cpu: -1,
        ratio: 0.1,
        comm: awkward[3],
        exe: awkward[1],
        site: awkward[2],
        empty: '',
        stack: awkward,
      },
    });
  });
  it('gives null for a number JSON cannot hold, and {} for no sources', () => {
    expect(
      JSON.parse(
        api.causesJson([
          [
            'x',
            [
              ['a', Number.NaN],
              ['b', Number.POSITIVE_INFINITY],
            ],
          ],
        ]),
      ),
    ).toEqual({
      x: { a: null, b: null },
    });
    expect(api.causesJson([])).toBe('{}');
  });
});

describe('the trap a watchpoint report names, when a drain holds several', () => {
  // Real callchains from the guests (6.1, 6.12, 7.3): a user write, the loader's store, a WARN in kt_warn's init.
  const rows = readFileSync(join(ROOT, 'test/fixtures/attribution/watchpoint-stacks.tsv'), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('kernel\t'))
    .map((l) => {
      const [kernel, action, bits, loader, stack] = l.split('\t');
      return { kernel, action, bits: Number(bits), loader: loader === 'yes', frames: stack.split(' ; ') };
    });
  // A symbol table with every function of these chains (modules' frames stay unknown, as for a new module).
  const names = [
    ...new Set(
      rows
        .flatMap((r) => r.frames)
        .filter((f) => !f.includes('['))
        .map((f) => f.split('+')[0]),
    ),
  ];
  const base = (i: number) => 0xffffffff81000000n + BigInt(i) * 0x10000n;
  const kallsyms = [
    ...names.map((n, i) => `${base(i).toString(16)} T ${n}`),
    `${base(names.length).toString(16)} T _etext`,
  ].join('\n');
  const addrs = (frames: string[]) =>
    frames.map((f) => {
      const m = /^([^+ ]+)\+0x([0-9a-f]+)/.exec(f);
      const i = m ? names.indexOf(m[1]) : -1;
      return i < 0 ? '0xffffffffc0a05025' : `0x${(base(i) + BigInt(`0x${m?.[2]}`)).toString(16)}`;
    });
  for (const kernel of [...new Set(rows.map((r) => r.kernel))]) {
    const of = (action: string, loader: boolean) =>
      rows.find((r) => r.kernel === kernel && r.action === action && r.loader === loader);
    const warn = of('insmod kt_warn', false);
    const load = of('insmod kt_prop', true);
    const user = of('user-write', false);
    it(`${kernel}: the WARN's store, not the loader's no-op stores drained before it`, () => {
      if (!warn || !load || !user) throw new Error(`fixture rows missing for ${kernel}`);
      // insmod kt_warn: the loader's stores of O and E (already set), then the WARN in its init.
      expect(
        api.earliestWarnTrap(kallsyms, [
          [100, addrs(load.frames)],
          [200, addrs(load.frames)],
          [300, addrs(warn.frames)],
        ]),
      ).toBe(2);
      // Across CPUs the rings are not in time order: the earliest WARN trap wins.
      expect(
        api.earliestWarnTrap(kallsyms, [
          [500, addrs(warn.frames)],
          [100, addrs(load.frames)],
          [400, addrs(warn.frames)],
        ]),
      ).toBe(2);
      // No WARN among the traps: none (the report keeps the earliest trap).
      expect(
        api.earliestWarnTrap(kallsyms, [
          [100, addrs(load.frames)],
          [200, addrs(user.frames)],
        ]),
      ).toBe(-1);
      expect(api.earliestWarnTrap(kallsyms, [])).toBe(-1);
    });
  }
  it('the fixture has the three kernels, and the 7.3 row that named load_module for a W', () => {
    expect(new Set(rows.map((r) => r.kernel)).size).toBe(3);
    const bad = rows.find((r) => r.action === 'insmod kt_warn' && r.loader);
    expect(bad?.frames[1]).toMatch(/^load_module\+/);
    // Its W came from a WARN: with a trap of the WARN's chain in the same drain, that trap is named.
    expect(api.earliestWarnTrap(kallsyms, [[1, addrs(bad?.frames ?? [])]])).toBe(-1);
  });
});

// lib/attribution.ts: the kernel's reports (as the native sources describe
// them) turned into TaintChange.attribution and .actor, with the actor kind of
// attribution.md §4. Pure: no addon, no kernel.
import { describe, expect, it } from 'vitest';
import {
  actorFrom,
  actorKind,
  attributionDisabledByEnv,
  attributionFrom,
  attributionsFor,
  causeFrom,
  type TaintAttribution,
} from '../../lib/attribution.js';

const bit = (...bits: number[]) => bits.reduce((m, b) => (m | (1 << b)) >>> 0, 0);
const [P, F, S, R, M, B, U, D, A, W, C, I, O, E, L, K, X, T, N, J] = Array.from({ length: 20 }, (_, i) => bit(i));

// What native/attribution/sources.cc describes for a sysctl write of U (7.2.13).
const userWrite = {
  pid: 4242,
  tid: 4242,
  cpu: 1,
  timeNs: 4110275442,
  comm: 'sh',
  exe: '/bin/busybox',
  uid: 0,
  site: 'proc_taint+0x14e',
  bits: U,
  before: '0x0',
  after: '0x40',
  samples: 1,
  stack: 'proc_taint+0x14e\nproc_sys_call_handler+0x1c9\nvfs_write+0x281',
};
const moduleLoad = {
  pid: 112,
  tid: 112,
  cpu: 0,
  timeNs: 5,
  comm: 'insmod',
  bits: P | O | E,
  event: 'module_load',
  module: 'kt_prop',
};

describe('actorKind (attribution.md §4)', () => {
  it('names the process for bits a process asks for', () => {
    for (const b of [P, F, R, U, C, K, O, E, X, N, J]) expect(actorKind(b)).toBe('process');
  });
  it('calls the task incidental for W D B L', () => {
    for (const b of [W, D, B, L]) expect(actorKind(b)).toBe('incidental');
  });
  it('says hardware for M and boot for S I A T and unknown bits', () => {
    expect(actorKind(M)).toBe('hardware');
    for (const b of [S, I, A, T, 1 << 25, 0]) expect(actorKind(b)).toBe('boot');
  });
  it('lets a process bit win when bits were set together', () => {
    expect(actorKind(P | W)).toBe('process');
    expect(actorKind(W | M)).toBe('incidental');
  });
});

describe('attributionFrom / attributionsFor / actorFrom', () => {
  it('decodes a watchpoint report', () => {
    expect(attributionFrom('watchpoint', userWrite)).toEqual({
      via: 'watchpoint',
      pid: 4242,
      tid: 4242,
      cpu: 1,
      comm: 'sh',
      exe: '/bin/busybox',
      uid: 0,
      timeNs: 4110275442,
      site: 'proc_taint+0x14e',
      stack: ['proc_taint+0x14e', 'proc_sys_call_handler+0x1c9', 'vfs_write+0x281'],
      bits: U,
      before: 0,
      after: 0x40,
      samples: 1,
      writers: 1,
    });
  });

  it('decodes a tracepoint report with the detector named', () => {
    expect(attributionFrom('tracepoint', moduleLoad)).toMatchObject({
      event: 'module_load',
      module: 'kt_prop',
      bits: P | O | E,
      comm: 'insmod',
      exe: null,
      uid: null,
      site: null,
      stack: [],
    });
    expect(
      attributionFrom('tracepoint', {
        pid: 0,
        bits: W,
        event: 'error_report_end',
        detector: 2,
        site: 'kt_warn_init+0x11 [kt_warn]',
      }),
    ).toMatchObject({ detector: 'warning', pid: 0, comm: null });
    expect(attributionFrom('tracepoint', { pid: 1, bits: B, detector: 7 })?.detector).toBe(7);
  });

  it('rejects malformed causes instead of inventing fields', () => {
    expect(attributionFrom('watchpoint', undefined)).toBeNull();
    expect(attributionFrom('watchpoint', {})).toBeNull();
    expect(attributionFrom('watchpoint', { pid: '1', bits: 64 })).toBeNull();
    expect(attributionFrom('watchpoint', { pid: 1, bits: 64, before: 'zz' })?.before).toBeUndefined();
  });

  it('reads the masks as 0x and 1-8 hex digits (either case), nothing else', () => {
    const mask = (v: string) => attributionFrom('watchpoint', { pid: 1, bits: 64, before: v, after: v })?.before;
    expect(mask('0x0')).toBe(0);
    expect(mask('0xffffffff')).toBe(0xffff_ffff);
    expect(mask('0X8000_0000'.replace('_', ''))).toBe(0x8000_0000);
    expect(mask('0xAbC')).toBe(0xabc);
    for (const bad of ['0x', '0x123456789', 'x40', '040', '0x4g', '0x-1', ' 0x40', '0x40 ', '']) {
      expect(mask(bad), bad).toBeUndefined();
    }
    // A malformed mask is left out, the rest of the report stays.
    const a = attributionFrom('watchpoint', { pid: 1, bits: 64, before: '0x0', after: 'nope' });
    expect(a).toMatchObject({ pid: 1, before: 0, samples: 1, writers: 1 });
    expect(a && 'after' in a).toBe(false);
  });

  it('keeps only reports about the added bits, the watchpoint first', () => {
    const causes = { tracepoint: moduleLoad, watchpoint: { ...userWrite, bits: P | O | E }, kmsg: { line: 'x' } };
    expect(attributionsFor(causes, O).map((a) => a.via)).toEqual(['watchpoint', 'tracepoint']);
    // a stale module report is not about a WARN
    expect(attributionsFor({ tracepoint: moduleLoad }, W)).toEqual([]);
    expect(attributionsFor(null, W)).toEqual([]);
    expect(attributionsFor(causes, 0)).toEqual([]);
  });

  it('gives the actor from the first report, with the kind of the bits it set among the added ones', () => {
    const a = attributionsFor({ watchpoint: userWrite }, U);
    expect(actorFrom(a, U)).toEqual({
      kind: 'process',
      pid: 4242,
      tid: 4242,
      comm: 'sh',
      exe: '/bin/busybox',
      uid: 0,
      via: 'watchpoint',
    });
    const warn = attributionsFor({ watchpoint: { ...userWrite, comm: 'kworker/0:1', bits: W } }, W);
    expect(actorFrom(warn, W)?.kind).toBe('incidental');
    expect(actorFrom([], W)).toBeNull();
  });

  it('names no actor and no cause from a watchpoint report of several threads (a storm beside a real write)', () => {
    const mixed = { ...userWrite, comm: 'kworker/0:1', samples: 40, writers: 2 };
    const [a] = attributionsFor({ watchpoint: mixed }, U);
    expect(a?.writers).toBe(2);
    expect(actorFrom([a as TaintAttribution], U)).toBeNull();
    expect(causeFrom(a as TaintAttribution)).toBeNull();
    // the module_load tracepoint still names the loader when the watchpoint report is ambiguous
    const both = attributionsFor({ watchpoint: { ...mixed, bits: P | O | E }, tracepoint: moduleLoad }, P);
    expect(actorFrom(both, P)).toMatchObject({ comm: 'insmod', via: 'tracepoint' });
  });
});

describe('causeFrom', () => {
  it('calls a watchpoint hit in the sysctl handler a user write, with its site', () => {
    const a = attributionFrom('watchpoint', userWrite);
    expect(a && causeFrom(a)).toEqual({ kind: 'user-write', site: 'proc_taint+0x14e' });
  });
  it('finds proc_taint just below the named site (6.17+ inlines add_taint into it)', () => {
    const a = attributionFrom('watchpoint', {
      ...userWrite,
      site: 'proc_taint.cold+0x5',
      stack: 'add_taint+0x1a\nproc_taint.cold+0x5',
    });
    expect(a && causeFrom(a)?.kind).toBe('user-write');
  });
  it('says nothing for a WARN, a module load or a tracepoint report', () => {
    const warn = attributionFrom('watchpoint', {
      ...userWrite,
      bits: W,
      site: 'kt_warn_init+0x11 [kt_warn]',
      stack: '__warn+0x8a\nkt_warn_init+0x11 [kt_warn]',
    });
    const load = attributionFrom('watchpoint', {
      ...userWrite,
      bits: P,
      site: 'load_module+0x1922',
      stack: 'add_taint_module+0x2f\nload_module+0x1922',
    });
    const tp = attributionFrom('tracepoint', { ...moduleLoad, site: 'proc_taint+0x1' });
    for (const a of [warn, load, tp]) expect(a && causeFrom(a)).toBeNull();
  });
});

describe('KERNEL_TAINT_ATTRIBUTION', () => {
  it('turns attribution off with off/0/false/no, case-insensitively', () => {
    for (const v of ['off', 'OFF', '0', 'false', ' no '])
      expect(attributionDisabledByEnv({ KERNEL_TAINT_ATTRIBUTION: v })).toBe(true);
    for (const v of [undefined, '', 'on', 'auto', '1'])
      expect(attributionDisabledByEnv({ KERNEL_TAINT_ATTRIBUTION: v })).toBe(false);
  });
});

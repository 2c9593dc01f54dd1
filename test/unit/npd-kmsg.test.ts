// deploy/node-problem-detector/kernel-taint-kmsg-monitor.json against real
// kernel log lines. NPD (Go regexp, RE2) appends `\z` to each pattern and
// matches it against the last `bufferSize` messages joined with "\n", so a
// rule fires when the newest message ends a match. /dev/kmsg messages carry no
// `[ seconds]` prefix: the console/dmesg prefix of the captured lines is removed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, referenceFile } from '../helpers/reference.js';

interface KmsgRule {
  type: string;
  reason: string;
  pattern: string;
}
const config = JSON.parse(
  readFileSync(join(ROOT, 'deploy', 'node-problem-detector', 'kernel-taint-kmsg-monitor.json'), 'utf8'),
) as { plugin: string; bufferSize: number; rules: KmsgRule[] };

/** Constructs RE2 (Go regexp) rejects or treats differently from JS; empty when the pattern is portable. */
function re2Problems(pattern: string): string[] {
  const problems: string[] = [];
  const checks: Array<[RegExp, string]> = [
    [/\(\?[=!]/, 'lookahead'],
    [/\(\?<[=!]/, 'lookbehind'],
    [/\(\?>/, 'atomic group'],
    [/\\[1-9]/, 'backreference'],
    [/\\k</, 'named backreference'],
    [/\(\?<(?![=!])/, 'named group without P (Go < 1.22)'],
    [/[*+?}][+]/, 'possessive quantifier'],
    [/\\[ZAGz]/, 'anchor escape that differs between Go and JS'],
    [/\\[cu]/, 'JS-only escape'],
  ];
  // Strip escaped backslashes first so `\\1` (a literal backslash, then 1) is not a backreference.
  const s = pattern.replace(/\\\\/g, '');
  for (const [re, what] of checks) if (re.test(s)) problems.push(what);
  for (const m of s.matchAll(/\{(\d+)(?:,(\d*))?\}/g)) {
    if (Number(m[1]) > 1000 || Number(m[2] ?? 0) > 1000) problems.push('repeat count over 1000');
  }
  return problems;
}

/** NPD's match: pattern + `\z` against the buffered messages joined with "\n" (JS `$` without `m` is `\z`). */
function npdMatches(pattern: string, messages: string[]): boolean {
  return new RegExp(`${pattern}$`).test(messages.slice(-config.bufferSize).join('\n'));
}

/** Rules whose pattern fires when `line` is the newest kmsg message. */
function firing(line: string, before: string[] = []): string[] {
  return config.rules.filter((r) => npdMatches(r.pattern, [...before, line])).map((r) => r.reason);
}

const stripConsole = (l: string) => l.replace(/^(\[ *\d+\.\d+\])+(\[ *[CT]\d+\])? ?/, '').replace(/^<\d>/, '');

// The real lines: the QEMU guest logs (Debian 6.1, old WARN banner, module
// taint lines) and the 7.x banners quoted from a real 7.0.11 log in attribution.md §5.
const guestLogs = ['qemu-bookworm.log2.txt', 'qemu-sid.log2.txt', 'qemu-trixie.log.txt']
  .map((f) => referenceFile(join('attribution', f)))
  .join('\n')
  .split('\n')
  .map((l) => stripConsole(l.trim()));
const attribution = referenceFile('attribution.md');
const section5 = attribution.slice(attribution.indexOf('## 5.'), attribution.indexOf('## 6.'));
const quoted = [...section5.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/\s+/g, ' ').trim());
/** The §5 printf formats with values a kernel would print (comm with spaces and parentheses, as §5 warns). */
const instantiate = (fmt: string) =>
  fmt
    .replace(/%s: /, 'kt_prop: ')
    .replace(/\[%s:%d\]/, '[(udev-worker) x:728]')
    .replace(/%u/g, '23')
    .replace(/%d/g, '3')
    .replace(/%x/g, '1f')
    .replace(/'%s'/, "'Proprietary'")
    .replace(/%s/g, 'kt_mod');
const oopsLines = referenceFile('oops-lines.tsv')
  .split('\n')
  .slice(1)
  .filter(Boolean)
  .map((l) => l.split('\t'))
  .map(([, kind, , text]) => ({ kind, text: stripConsole((text ?? '').replace(/\\t/g, '\t')) }));

describe('NPD kmsg rules (kernel-taint-kmsg-monitor.json)', () => {
  it('is a kmsg system-log-monitor config with temporary rules', () => {
    expect(config.plugin).toBe('kmsg');
    expect(config.rules.length).toBeGreaterThanOrEqual(6);
    for (const r of config.rules)
      expect(r).toMatchObject({ type: 'temporary', reason: expect.stringMatching(/^[A-Z][A-Za-z]+$/) });
  });

  it('uses only RE2-compatible syntax that JS parses the same way', () => {
    for (const r of config.rules) {
      expect(re2Problems(r.pattern), r.pattern).toEqual([]);
      expect(() => new RegExp(r.pattern, 'u')).not.toThrow();
    }
  });

  it('the RE2 check rejects what Go would refuse', () => {
    expect(re2Problems('WARNING(?=: CPU)')).toEqual(['lookahead']);
    expect(re2Problems('(?<!x)y')).toEqual(['lookbehind']);
    expect(re2Problems('(a)\\1')).toEqual(['backreference']);
    expect(re2Problems('(?<n>a)')).toEqual(['named group without P (Go < 1.22)']);
    expect(re2Problems('a{1001}')).toEqual(['repeat count over 1000']);
    expect(re2Problems('a++')).toEqual(['possessive quantifier']);
    expect(re2Problems('a\\\\1')).toEqual([]);
  });

  it('has the real lines to test (guest logs, attribution.md §5, oops-lines.tsv)', () => {
    expect(guestLogs.some((l) => l.startsWith('WARNING: CPU: '))).toBe(true);
    expect(quoted.filter((q) => q.startsWith('WARNING: ')).length).toBeGreaterThanOrEqual(4);
    expect(oopsLines.length).toBeGreaterThan(300);
  });

  it('fires KernelWarning on the old banner (up to ~6.18) from a real 6.1 guest and oops corpus lines', () => {
    const old = [
      ...guestLogs.filter((l) => l.startsWith('WARNING: CPU: ')),
      ...oopsLines
        .filter((o) => /WARNING: CPU: \d+ PID/.test(o.text))
        .map((o) => o.text.slice(o.text.indexOf('WARNING: '))),
    ];
    expect(old.length).toBeGreaterThanOrEqual(2);
    for (const l of old) expect(firing(l), l).toEqual(['KernelWarning']);
  });

  it('fires KernelWarning on every new-format banner (7.x) quoted in attribution.md §5', () => {
    const banners = quoted.filter((q) => /^WARNING: (?!CPU: )/.test(q) && !q.includes('"'));
    // at-with-location, at-only and condition-first forms.
    expect(banners.length).toBeGreaterThanOrEqual(3);
    expect(banners).toContain(
      'WARNING: arch/x86/kernel/cpu/bugs.c:3736 at __warn_thunk+0x10/0x20, CPU#1: (udev-worker)/728',
    );
    for (const b of banners) expect(firing(b), b).toEqual(['KernelWarning']);
    // The same with a comm holding spaces and parentheses.
    expect(firing('WARNING: at func+0x1/0x2, CPU#0: (sd-exec strv)/1234')).toEqual(['KernelWarning']);
  });

  it('fires on soft lockups, bad pages and every taint line of §5, and on the real guest module lines', () => {
    const lockup = instantiate(quoted.find((q) => q.startsWith('soft lockup')) ?? '');
    expect(firing(`watchdog: BUG: ${lockup}`)).toEqual(['KernelSoftLockup']);
    expect(firing(lockup)).toEqual(['KernelSoftLockup']);
    expect(firing(instantiate(quoted.find((q) => q.startsWith('BUG: Bad page')) ?? ''))).toEqual(['KernelBadPage']);
    const moduleLines = quoted.filter((q) => q.startsWith('%s: ')).map(instantiate);
    expect(moduleLines.length).toBeGreaterThanOrEqual(8);
    for (const l of moduleLines) {
      const by = l.includes('Unexpected write') ? 'KernelTaintedByUser' : 'KernelTaintedByModule';
      expect(firing(l), l).toEqual([by]);
    }
    const guestModule = guestLogs.filter((l) => /taints kernel\.$|tainting kernel$/.test(l));
    expect(guestModule.length).toBeGreaterThanOrEqual(3);
    for (const l of guestModule) expect(firing(l), l).toEqual(['KernelTaintedByModule']);
    expect(firing(instantiate('Setting dangerous option %s - tainting kernel'))).toEqual(['KernelTaintedByUser']);
    expect(firing('Adding kernel taint for vfio-noiommu group on device 0000:00:02.0')).toEqual([
      'KernelTaintedByUser',
    ]);
  });

  it('fires once per line: the lines after a banner do not fire it again', () => {
    const banner = 'WARNING: arch/x86/kernel/cpu/bugs.c:3736 at __warn_thunk+0x10/0x20, CPU#1: (udev-worker)/728';
    const after = [
      'Modules linked in: kt_prop(POE)',
      'CPU: 1 UID: 0 PID: 728 Comm: (udev-worker) Tainted: P           OE      7.2.13+deb14-cloud-amd64 #1',
      'RIP: 0010:__warn_thunk+0x10/0x20',
      '---[ end trace 0000000000000000 ]---',
    ];
    expect(firing(banner, ['------------[ cut here ]------------'])).toEqual(['KernelWarning']);
    for (let i = 0; i < after.length; i++) expect(firing(after[i], [banner, ...after.slice(0, i)])).toEqual([]);
  });

  it('stays quiet on the rest of the oops corpus and ordinary boot lines', () => {
    const quiet = oopsLines.filter(
      (o) => !/WARNING: |soft lockup|Bad page state|taints kernel|tainting kernel/.test(o.text),
    );
    expect(quiet.length).toBeGreaterThan(250);
    for (const o of quiet) expect(firing(o.text), o.text).toEqual([]);
    const boot = guestLogs.filter((l) => l && !/WARNING: |taints kernel|tainting kernel/.test(l));
    expect(boot.length).toBeGreaterThan(50);
    for (const l of boot) expect(firing(l), l).toEqual([]);
    for (const l of [
      'WARNING: CPU: x',
      'soft lockup - CPU#1 stuck',
      'kt: loading out-of-tree module',
      'x'.repeat(1024),
      `${'x: '.repeat(340)}`,
    ]) {
      expect(firing(l), l.slice(0, 80)).toEqual([]);
    }
  });
});

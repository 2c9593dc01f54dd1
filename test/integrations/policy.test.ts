import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeTaint } from '../../lib/decode.js';
import { KernelTaintError } from '../../lib/errors.js';
import {
  classifyTaint,
  DEFAULT_CATEGORY_STATUS,
  loadTaintPolicy,
  parseTaintPolicy,
} from '../../lib/integrations/policy.js';
import { tempDir } from '../helpers/tmp.js';
import { mainline } from './helpers.js';

const O = 1 << 12;
const P = 1 << 0;
const W = 1 << 9;
const U = 1 << 6;
const T = 1 << 17;

function policyError(fn: () => unknown): KernelTaintError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KernelTaintError);
    expect((e as KernelTaintError).code).toBe('ERR_KERNEL_TAINT_INVALID_POLICY');
    return e as KernelTaintError;
  }
  throw new Error('did not throw');
}

describe('classifyTaint: default policy by category', () => {
  it('passes a clean kernel with no reasons', () => {
    expect(classifyTaint(mainline(0))).toMatchObject({ status: 'pass', reasons: [], value: 0, letters: '' });
  });

  it('hardware and stability fail, integrity and unknown warn, informational passes', () => {
    expect(DEFAULT_CATEGORY_STATUS).toEqual({
      hardware: 'fail',
      stability: 'fail',
      integrity: 'warn',
      informational: 'pass',
      unknown: 'warn',
    });
    expect(classifyTaint(mainline(W)).status).toBe('fail'); // stability
    expect(classifyTaint(mainline(1 << 4)).status).toBe('fail'); // M: hardware
    expect(classifyTaint(mainline(O)).status).toBe('warn'); // integrity
    expect(classifyTaint(mainline(T)).status).toBe('pass'); // informational
    expect(classifyTaint(mainline(1 << 30)).status).toBe('warn'); // unknown bit
  });

  it('gives one reason per set flag in bit order, the worst status wins', () => {
    const c = classifyTaint(mainline(P | W | O | T));
    expect(c.status).toBe('fail');
    expect(c.reasons.map((r) => [r.letter, r.status, r.rule])).toEqual([
      ['P', 'warn', 'category'],
      ['W', 'fail', 'category'],
      ['O', 'warn', 'category'],
      ['T', 'pass', 'category'],
    ]);
    expect(c.reasons[1].message).toBe('WARN: stability flag, fail');
  });

  it('classifies letters a parsed state did not know as unknown', () => {
    const state = { ...mainline(0), tainted: true, unknownLetters: ['Q'] } as never;
    const c = classifyTaint(state);
    expect(c.status).toBe('warn');
    expect(c.reasons[0]).toMatchObject({ bit: null, letter: 'Q', category: 'unknown' });
  });

  it('decodes vendor profiles with their own flags', () => {
    const c = classifyTaint(decodeTaint(1 << 29, { profile: 'rhel8' }), { flags: { TECH_PREVIEW: 'fail' } });
    expect(c.status).toBe('fail');
    expect(c.reasons[0]).toMatchObject({ letter: 't', name: 'TECH_PREVIEW', rule: 'flag' });
  });
});

describe('classifyTaint: user policies', () => {
  it('categories and per-flag statuses override the defaults (flag beats category)', () => {
    const p = { categories: { integrity: 'pass' as const }, flags: { W: 'warn' as const, 13: 'fail' as const } };
    expect(classifyTaint(mainline(O), p).status).toBe('pass');
    expect(classifyTaint(mainline(W), p).status).toBe('warn');
    expect(classifyTaint(mainline(1 << 13), p).status).toBe('fail');
    expect(classifyTaint(mainline(W), { flags: { WARN: 'pass' } }).status).toBe('pass');
  });

  it('allow-lists by letter, name and bit', () => {
    for (const sel of ['W', 'WARN', 'TAINT_WARN', 9]) {
      const c = classifyTaint(mainline(W), { allow: [sel] });
      expect(c.status).toBe('pass');
      expect(c.reasons[0].rule).toBe('allow');
    }
  });

  it('allows O only when every module carrying it is allowed', () => {
    const policy = { allow: [{ flag: 'O', modules: ['zfs', 'nvidia*'], reason: 'vendor drivers' }] };
    const ok = classifyTaint(mainline(O | P), policy, {
      modules: [
        { name: 'zfs', letters: 'PO' },
        { name: 'nvidia_drm', letters: 'PO' },
      ],
    });
    expect(ok.reasons.find((r) => r.letter === 'O')).toMatchObject({
      status: 'pass',
      rule: 'allow-modules',
      modules: ['zfs', 'nvidia_drm'],
    });
    expect(ok.reasons.find((r) => r.letter === 'O')?.message).toContain('(vendor drivers)');
    // P is not allowed by the rule: still its category's status.
    expect(ok.status).toBe('warn');

    const bad = classifyTaint(mainline(O), policy, {
      modules: [
        { name: 'zfs', letters: 'O' },
        { name: 'rootkit', letters: 'OE' },
      ],
    });
    expect(bad.status).toBe('warn');
    expect(bad.reasons[0].message).toContain('also comes from rootkit');
  });

  it('module names match with - and _ alike', () => {
    const c = classifyTaint(
      mainline(O),
      { allow: [{ flag: 'O', modules: ['my-driver'] }] },
      {
        modules: [{ name: 'my_driver', letters: 'O' }],
      },
    );
    expect(c.status).toBe('pass');
  });

  it('does not allow a module rule when the modules are unknown or none carries the flag', () => {
    const policy = { allow: [{ flag: 'O', modules: ['zfs'] }] };
    const unknown = classifyTaint(mainline(O), policy);
    expect(unknown.status).toBe('warn');
    expect(unknown.reasons[0].message).toContain('loaded modules are unknown');
    const none = classifyTaint(mainline(O), policy, { modules: [] });
    expect(none.reasons[0].message).toContain('no loaded module carries it');
  });

  it('ignores baseline bits: fixed value, flag list, or the runtime baseline for "start"', () => {
    expect(classifyTaint(mainline(W | O), { baseline: W }).status).toBe('warn');
    expect(classifyTaint(mainline(W | O), { baseline: ['W', 'O'] }).status).toBe('pass');
    expect(classifyTaint(mainline(W | O), { baseline: '0x1200' }).status).toBe('pass');
    const start = classifyTaint(mainline(W | U | O), { baseline: 'start' }, { baseline: mainline(W) });
    expect(start.baseline).toBe(W);
    expect(start.reasons[0]).toMatchObject({ letter: 'U', rule: 'category' });
    expect(start.reasons[1]).toMatchObject({ letter: 'W', status: 'pass', rule: 'baseline' });
    expect(start.status).toBe('warn');
    // Without a runtime baseline nothing is ignored.
    expect(classifyTaint(mainline(W), { baseline: 'start' }).status).toBe('fail');
    // A runtime baseline is ignored unless the policy asks for one.
    expect(classifyTaint(mainline(W), {}, { baseline: W }).status).toBe('fail');
    expect(classifyTaint(mainline(W), { onlyNewSinceBoot: true }, { baseline: W }).status).toBe('pass');
  });
});

describe('parseTaintPolicy', () => {
  it('accepts JSON text or objects, and returns a frozen copy', () => {
    const p = parseTaintPolicy(
      '{"$schema":"x","description":"fleet","categories":{"unknown":"fail"},"flags":{"O":"pass"},"allow":["U",{"flag":"P","modules":["nvidia"]}],"baseline":"start","onlyNewSinceBoot":false}',
    );
    expect(p.categories).toEqual({ unknown: 'fail' });
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.allow)).toBe(true);
    expect(parseTaintPolicy({})).toEqual({});
  });

  it('accepts flags of any profile', () => {
    expect(() => parseTaintPolicy({ allow: ['TECH_PREVIEW', 'NO_SUPPORT'] })).not.toThrow();
  });

  it.each([
    ['not JSON', '{', '(text)'],
    ['not an object', '[]', '(root)'],
    ['an unknown key', { alow: ['O'] }, 'alow: unknown key'],
    ['an unknown category', { categories: { hardwear: 'fail' } }, 'categories.hardwear'],
    ['a bad status', { categories: { hardware: 'error' } }, 'categories.hardware: expected "pass", "warn" or "fail"'],
    ['an unknown flag key', { flags: { Q: 'fail' } }, 'flags.Q: "Q" names no taint flag'],
    ['an unknown allowed flag', { allow: ['OOT'] }, 'allow[0]'],
    ['a bit out of range', { allow: [32] }, 'allow[0]'],
    ['a rule without flag', { allow: [{ modules: ['zfs'] }] }, 'allow[0].flag'],
    ['an empty module list', { allow: [{ flag: 'O', modules: [] }] }, 'allow[0].modules'],
    ['a bad module name', { allow: [{ flag: 'O', modules: ['../x'] }] }, 'allow[0].modules[0]'],
    ['an unknown rule key', { allow: [{ flag: 'O', module: ['zfs'] }] }, 'allow[0].module'],
    ['a bad baseline', { baseline: 'boot' }, 'baseline'],
    ['a bad baseline flag', { baseline: ['Q'] }, 'baseline[0]'],
    ['a non-boolean onlyNewSinceBoot', { onlyNewSinceBoot: 'yes' }, 'onlyNewSinceBoot'],
  ])('rejects %s with ERR_KERNEL_TAINT_INVALID_POLICY', (_what, input, where) => {
    const e = policyError(() => parseTaintPolicy(input));
    expect(e.message).toContain(where);
  });

  it('classifyTaint validates plain objects too', () => {
    policyError(() => classifyTaint(mainline(0), { flags: { nope: 'fail' } } as never));
  });

  it('loadTaintPolicy names the file in errors', () => {
    const dir = tempDir();
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ allow: ['O'] }));
    expect(loadTaintPolicy(good).allow).toEqual(['O']);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ allow: ['nope'] }));
    expect(policyError(() => loadTaintPolicy(bad)).message).toContain(bad);
    expect(policyError(() => loadTaintPolicy(join(dir, 'missing.json'))).message).toContain('ENOENT');
  });
});

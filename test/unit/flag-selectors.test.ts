// lib/flag-selectors.ts is generated from lib/flags.json: it must list every
// letter, name and alias the run time resolves, or a valid literal would not compile.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveFlag } from '../../lib/decode.js';
import { PROFILE_IDS } from '../../lib/flags.js';
// @ts-expect-error: a plain .mjs script without types.
import { selectorSource } from '../../scripts/flag-selectors.mjs';

const source = readFileSync(new URL('../../lib/flag-selectors.ts', import.meta.url), 'utf8');
const members = (type: string) => {
  const block = source.split(`export type ${type} =`)[1].split(';')[0];
  return [...block.matchAll(/'([^']+)'/g)].map((m) => m[1]);
};

describe('flag selector literal types', () => {
  it('are up to date with lib/flags.json (node scripts/flag-selectors.mjs)', () => {
    expect(source).toBe(selectorSource());
  });
  it('every listed letter and name resolves in some profile', () => {
    for (const sel of [...members('FlagLetter'), ...members('FlagName')]) {
      const found = PROFILE_IDS.some((profile) => {
        try {
          resolveFlag(sel as string, { profile });
          return true;
        } catch {
          return false;
        }
      });
      expect(found, sel).toBe(true);
    }
    expect(members('FlagName')).toContain('MACHINE_CHECK');
    expect(members('FlagLetter').length).toBeGreaterThanOrEqual(20);
  });
});

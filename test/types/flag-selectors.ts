// Type-level test, checked by `npm run typecheck` (tsconfig includes test/):
// a literal flag selector that names no flag does not compile; every form the
// run time accepts for a real flag does; a string variable is left to the run time.
import { resolveFlag } from '../../lib/decode.js';
import type { TaintState } from '../../lib/types.js';

export function literals(s: TaintState, fromConfig: string): boolean[] {
  return [
    s.has('M'),
    s.has('MACHINE_CHECK'),
    s.has('TAINT_MACHINE_CHECK'),
    s.has('machine_check'),
    s.has('taint_machine_check'),
    s.has('MCE'),
    s.has('bit 4'),
    s.has('4'),
    s.has(4),
    s.has('p'), // rhel10's PARTNER_SUPPORTED, a vendor letter
    s.has(fromConfig),
    // @ts-expect-error: a typo of MACHINE_CHECK.
    s.has('MACHINE_CHEK'),
    // @ts-expect-error: no flag has this letter.
    s.has('Q'),
    resolveFlag('OOT_MODULE') === 12,
    // @ts-expect-error: a typo of OOT_MODULE.
    resolveFlag('OOT_MODUEL') === 12,
  ];
}

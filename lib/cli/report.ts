// `kernel-taint` (no command): reports this kernel's taint.
import { KMSG_PATH } from '../defaults.js';
import { evidenceLines } from '../explain-text.js';
import { profileTable } from '../flags.js';
import { readTaint } from '../read.js';
import type { TaintEvidence, TaintState } from '../types.js';
import type { Paint, Style } from './io.js';
import { type Command, JSON_OPTION, PATH_OPTION, PROFILE_OPTION, stringOption } from './options.js';

const CATEGORY_STYLE: Record<string, Style> = {
  hardware: 'red',
  stability: 'red',
  integrity: 'yellow',
  informational: 'dim',
  unknown: 'yellow',
};

/** The human description of a state: one headline, then each flag with its meaning (and its evidence, when given). */
export function describeState(state: TaintState, paint: Paint, evidence?: readonly TaintEvidence[]): string[] {
  if (!state.tainted) return [paint('green', `Not tainted (value 0, profile ${state.profile})`)];
  const lines = [
    paint('bold', `Tainted: value ${state.value}, letters ${state.letters || '-'} (profile ${state.profile})`),
  ];
  for (const f of state.flags) {
    lines.push(`  ${paint(CATEGORY_STYLE[f.category], `[${f.letter}] ${f.name}`)}  bit ${f.bit}, ${f.category}`);
    lines.push(`      ${f.description}`);
    const e = evidence?.find((x) => x.flag.bit === f.bit);
    if (e) for (const l of evidenceLines(e)) lines.push(`      ${paint('dim', l)}`);
  }
  for (const l of state.unknownLetters)
    lines.push(`  ${paint('yellow', `[${l}] unknown letter`)}: not defined by profile ${state.profile}`);
  return lines;
}

export const report: Command = {
  name: 'report',
  usage: '[--json] [--profile P] [--path FILE] [--kmsg FILE]',
  summary: "report this kernel's taint: each set bit since when, why and by whom",
  details:
    'Each set bit is explained from the kernel log (/dev/kmsg from the start of its ring: needs CAP_SYSLOG or\n' +
    'dmesg_restrict=0) and the loaded modules. With --path the log is read only when --kmsg names it.',
  options: [
    JSON_OPTION,
    PROFILE_OPTION,
    PATH_OPTION,
    { name: 'kmsg', type: 'string', arg: 'FILE', help: 'kernel log in /dev/kmsg record format (default /dev/kmsg)' },
  ],
  positionals: [0, 0],
  async run({ values, profile, io, paint }) {
    const path = stringOption(values, 'path');
    const kmsg = stringOption(values, 'kmsg');
    const state = readTaint({ ...(path ? { path } : {}), profile });
    // The log explains the running kernel: with --path (another file) only when asked for.
    const kmsgPath = kmsg ?? (path ? null : KMSG_PATH);
    // No set bit, nothing to explain: the log reader is loaded only for a tainted kernel.
    const { bits, limits } =
      state.flags.length === 0
        ? { bits: [], limits: [] }
        : (await import('../explain.js')).explainFlags(state.flags, profileTable(state.profile), { kmsgPath });
    if (state.tainted && kmsgPath === null)
      limits.unshift('kernel log not read: --path names another taint file (add --kmsg)');
    if (values.json) io.out(JSON.stringify({ ...state.toJSON(), explanation: { bits, limits } }));
    else {
      io.out(describeState(state, paint, bits).join('\n'));
      if (state.lettersMismatch) io.out(paint('yellow', `Note: the kernel's own letters say '${state.kernelLetters}'`));
      if (limits.length > 0) io.out(paint('dim', `Not known: ${limits.join('; ')}.`));
    }
    return state.tainted ? 1 : 0;
  },
};

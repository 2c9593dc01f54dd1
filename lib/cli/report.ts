// `kernel-taint` (no command): reports this kernel's taint.
import { readTaint } from '../read.js';
import type { TaintState } from '../types.js';
import type { Paint, Style } from './io.js';
import { type Command, JSON_OPTION, PATH_OPTION, PROFILE_OPTION, stringOption } from './options.js';

const CATEGORY_STYLE: Record<string, Style> = {
  hardware: 'red',
  stability: 'red',
  integrity: 'yellow',
  informational: 'dim',
  unknown: 'yellow',
};

/** The human description of a state: one headline, then each flag with its meaning. */
export function describeState(state: TaintState, paint: Paint): string[] {
  if (!state.tainted) return [paint('green', `Not tainted (value 0, profile ${state.profile})`)];
  const lines = [
    paint('bold', `Tainted: value ${state.value}, letters ${state.letters || '-'} (profile ${state.profile})`),
  ];
  for (const f of state.flags) {
    lines.push(`  ${paint(CATEGORY_STYLE[f.category], `[${f.letter}] ${f.name}`)}  bit ${f.bit}, ${f.category}`);
    lines.push(`      ${f.description}`);
  }
  for (const l of state.unknownLetters)
    lines.push(`  ${paint('yellow', `[${l}] unknown letter`)}: not defined by profile ${state.profile}`);
  return lines;
}

export const report: Command = {
  name: 'report',
  usage: '[--json] [--profile P] [--path FILE]',
  summary: "report this kernel's taint",
  options: [JSON_OPTION, PROFILE_OPTION, PATH_OPTION],
  positionals: [0, 0],
  async run({ values, profile, io, paint }) {
    const path = stringOption(values, 'path');
    const state = readTaint({ ...(path ? { path } : {}), profile });
    if (values.json) io.out(JSON.stringify(state));
    else {
      io.out(describeState(state, paint).join('\n'));
      if (state.lettersMismatch) io.out(paint('yellow', `Note: the kernel's own letters say '${state.kernelLetters}'`));
    }
    return state.tainted ? 1 : 0;
  },
};

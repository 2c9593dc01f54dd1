// `kernel-taint decode <value>`: explains a taint value.
import { decodeTaint } from '../decode.js';
import { type Command, JSON_OPTION, PROFILE_OPTION } from './options.js';
import { describeState } from './report.js';

export const decode: Command = {
  name: 'decode',
  usage: 'decode <value> [--json] [--profile P]',
  summary: 'explain a taint value (decimal or 0x hex)',
  options: [JSON_OPTION, PROFILE_OPTION],
  positionals: [1, 1],
  async run({ values, positionals, profile, io, paint }) {
    const state = decodeTaint(positionals[0], { profile });
    io.out(values.json ? JSON.stringify(state) : describeState(state, paint).join('\n'));
    return state.tainted ? 1 : 0;
  },
};

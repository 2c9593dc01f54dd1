// `kernel-taint parse [FILE]`: finds taint in a kernel log.
import { readFileSync } from 'node:fs';
import { parseTaintLog, type TaintReport } from '../parse.js';
import { readTaint } from '../read.js';
import type { TaintState } from '../types.js';
import { type Command, JSON_OPTION, PATH_OPTION, PROFILE_OPTION, stringOption } from './options.js';

function reportLine(r: TaintReport): string {
  const where = [r.release && `kernel ${r.release}`, r.comm && `comm ${r.comm}`].filter(Boolean).join(', ');
  const what =
    r.kind === 'modules' || r.kind === 'unloaded'
      ? r.modules
          .filter((m) => m.letters)
          .map((m) => `${m.name}(${m.letters})`)
          .join(' ')
      : `${r.state}`;
  return `line ${r.line} ${r.kind}${where ? ` (${where})` : ''}: ${what || 'no tainting modules'}`;
}

export const parse: Command = {
  name: 'parse',
  usage: 'parse [FILE] [--json] [--profile P] [--path FILE]',
  summary: 'find taint in a log (stdin when no FILE or -), e.g. dmesg | kernel-taint parse',
  details: 'Prints each taint line found, oldest first, then the current value (--path: read it from FILE).',
  options: [JSON_OPTION, PROFILE_OPTION, PATH_OPTION],
  positionals: [0, 1],
  async run({ values, positionals, profile, io }) {
    const file = positionals[0];
    const text = file === undefined || file === '-' ? await io.stdin() : readFileSync(file, 'utf8');
    const reports = parseTaintLog(text, { profile });
    const path = stringOption(values, 'path');
    let current: TaintState | null = null;
    try {
      current = readTaint(path ? { path } : {});
    } catch {
      current = null;
    }
    if (values.json) {
      io.out(JSON.stringify({ reports, current }));
    } else {
      if (reports.length === 0) io.out('No taint information found in the input.');
      for (const r of reports) io.out(reportLine(r));
      io.out(current ? `Now: ${current}` : 'Now: (this kernel cannot be read here)');
    }
    const last = reports.findLast((r) => r.kind === 'header' || r.kind === 'verbose' || r.kind === 'raw');
    return last?.state.tainted ? 1 : 0;
  },
};

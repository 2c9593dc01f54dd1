// `kernel-taint parse [FILE]`: finds taint in a kernel log. The work is
// runParseCommand() in lib/parse-stream.ts (streaming, bounded memory).
import { type Command, JSON_OPTION, PATH_OPTION, PROFILE_OPTION, stringOption } from './options.js';

export const parse: Command = {
  name: 'parse',
  usage: 'parse [FILE] [--json] [--profile P] [--path FILE]',
  summary: 'find taint in a log (stdin when no FILE or -), e.g. dmesg | kernel-taint parse',
  details:
    'Streams the log line by line (any size, bounded memory) and prints each taint report found, oldest first, ' +
    'then the verdict for the log (newest report, how many, worst severity), then this host (--path: read it ' +
    'from FILE). --json prints one compact JSON line per report, then a verdict line and a host line. Exit 1 ' +
    'when the log ends tainted, as parseTaint() answers on the same text.',
  options: [JSON_OPTION, PROFILE_OPTION, PATH_OPTION],
  positionals: [0, 1],
  async run({ values, positionals, profile, io }) {
    const { runParseCommand } = await import('../parse-stream.js');
    return runParseCommand(
      { file: positionals[0], json: values.json === true, profile, path: stringOption(values, 'path') },
      {
        out: io.out,
        stdout: io.stdout,
        ...(io.stdinStream ? { stdin: io.stdinStream } : { stdinText: io.stdin }),
      },
    );
  },
};

// `kernel-taint watch`: streams changes until Ctrl-C; --exec runs a command per change.
import { evidenceSummary } from '../explain-text.js';
import type { FlagSelector } from '../types.js';
import type { TaintChange, TaintWatcher } from '../watch.js';
import { errorLine, stopSignal, untilAborted } from './io.js';
import {
  type Command,
  INTERVAL_OPTION,
  intOption,
  JOURNAL_OPTIONS,
  JSON_OPTION,
  journalOption,
  KMSG_OPTION,
  PATH_OPTION,
  PROFILE_OPTION,
  stringOption,
  UsageError,
} from './options.js';

function changeJson(c: TaintChange): Record<string, unknown> {
  return {
    seq: c.seq,
    time: c.time.toISOString(),
    bootId: c.bootId,
    trigger: c.trigger,
    value: c.current.value,
    letters: c.current.letters,
    previous: c.previous.value,
    added: c.added.map((f) => ({ bit: f.bit, letter: f.letter, name: f.name, category: f.category })),
    modules: c.modules.carrying.map((m) => ({ name: m.name, letters: m.letters })),
    unattributable: c.modules.unattributable.map((f) => f.letter),
    kmsg: c.kmsg,
    evidence: c.evidence,
  };
}

/** Indented cause/actor lines of the added bits that something explains. */
function evidenceTail(c: TaintChange): string {
  return (c.evidence ?? [])
    .filter((e) => e.cause !== null || e.actor !== null)
    .map((e) => `\n  ${evidenceSummary(e)}`)
    .join('');
}

function changeLine(c: TaintChange): string {
  const t = c.time.toISOString();
  if (c.trigger === 'initial') return `${t} initial: ${c.current}${evidenceTail(c)}`;
  const what =
    c.added.length > 0
      ? `+${c.added.map((f) => f.letter).join('')} (${c.added.map((f) => f.name).join(', ')})`
      : `value dropped to ${c.current.value}`;
  const from = c.modules.carrying.length
    ? ` from ${c.modules.carrying.map((m) => `${m.name}(${m.letters})`).join(' ')}`
    : '';
  return `${t} ${what} via ${c.trigger}${from}: ${c.current}${evidenceTail(c)}`;
}

export const watch: Command = {
  name: 'watch',
  usage: 'watch [--json] [--exec CMD] [--interval MS] [--filter W,D,...] [--ignore-initial] [--journal FILE]',
  summary: 'stream changes until Ctrl-C; --exec runs CMD (sh -c) per change, JSON on its stdin',
  details:
    'Each change is one line (--json: one JSON object). --exec runs one command at a time, in order, with the\n' +
    'change as JSON on stdin and in KERNEL_TAINT_SEQ, _VALUE, _LETTERS, _ADDED, _TRIGGER, _BOOT_ID. A run that\n' +
    'takes longer than --exec-timeout is stopped (SIGTERM, SIGKILL 2 s later); at most --exec-queue changes\n' +
    'wait, further ones are dropped and counted on stderr. On SIGTERM/SIGINT a running command gets 2 s to\n' +
    'finish, then SIGTERM, then SIGKILL 2 s later.',
  options: [
    JSON_OPTION,
    { name: 'exec', type: 'string', arg: 'CMD', help: 'run CMD with sh -c once per change' },
    { name: 'exec-timeout', type: 'string', arg: 'MS', help: 'stop a --exec run after MS (default 30000)' },
    { name: 'exec-queue', type: 'string', arg: 'N', help: 'changes waiting for --exec at most (default 64)' },
    INTERVAL_OPTION,
    { name: 'filter', type: 'string', arg: 'W,D,...', help: 'only changes adding these bits, letters or names' },
    { name: 'ignore-initial', type: 'boolean', help: 'do not report the value found at start' },
    ...JOURNAL_OPTIONS,
    PROFILE_OPTION,
    PATH_OPTION,
    KMSG_OPTION,
  ],
  positionals: [0, 0],
  async run({ values, profile, io }) {
    const interval = intOption(values, 'interval', 0, 0x7fff_ffff);
    const filter: FlagSelector[] | undefined = stringOption(values, 'filter')
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const exec = stringOption(values, 'exec');
    const execTimeout = intOption(values, 'exec-timeout', 1, 0x7fff_ffff);
    const execQueue = intOption(values, 'exec-queue', 1, 1_000_000);
    if (!exec && (execTimeout !== undefined || execQueue !== undefined)) {
      throw new UsageError('--exec-timeout and --exec-queue need --exec CMD');
    }
    const path = stringOption(values, 'path');
    const kmsg = stringOption(values, 'kmsg');
    const openJournal = await journalOption(values, io, profile);
    // Loaded here, not at start-up: other commands need neither (npm run bench:startup).
    const { watchTaint } = await import('../watch.js');
    const { ExecRunner } = await import('./exec.js');
    const { signal, dispose } = stopSignal(io);
    let watcher: TaintWatcher;
    try {
      watcher = watchTaint({
        ...(path ? { path } : {}),
        ...(kmsg ? { _kmsgPath: kmsg } : {}),
        ...(interval !== undefined ? { interval } : {}),
        ...(filter ? { filter } : {}),
        ignoreInitial: values['ignore-initial'] === true,
        profile: profile ?? 'auto',
      });
    } catch (e) {
      dispose();
      throw e;
    }
    let journal: ReturnType<typeof openJournal>;
    try {
      journal = openJournal(watcher);
    } catch (e) {
      await watcher.close();
      dispose();
      throw e;
    }
    journal?.on('error', (e) => io.err(`kernel-taint: journal: ${e.message}`));
    const runner = exec
      ? new ExecRunner({
          command: exec,
          env: io.env,
          ...(execTimeout !== undefined ? { timeout: execTimeout } : {}),
          ...(execQueue !== undefined ? { maxQueue: execQueue } : {}),
          report: io.err,
        })
      : null;
    const run = (c: TaintChange) =>
      runner?.push({
        stdin: `${JSON.stringify(changeJson(c))}\n`,
        env: {
          KERNEL_TAINT_SEQ: String(c.seq),
          KERNEL_TAINT_VALUE: String(c.current.value),
          KERNEL_TAINT_LETTERS: c.current.letters,
          KERNEL_TAINT_ADDED: c.added.map((f) => f.letter).join(''),
          KERNEL_TAINT_TRIGGER: c.trigger,
          KERNEL_TAINT_BOOT_ID: c.bootId ?? '',
        },
      });
    watcher.on('change', (c) => {
      io.out(values.json ? JSON.stringify(changeJson(c)) : changeLine(c));
      run(c);
    });
    watcher.on('error', (e) => io.err(errorLine(e)));
    watcher.on('ready', (triggers) => {
      if (!values.json)
        io.err(`kernel-taint: watching ${path ?? '/proc/sys/kernel/tainted'} via ${triggers.join(', ')}`);
    });
    await untilAborted(signal);
    dispose();
    await watcher.close();
    await runner?.stop();
    await journal?.close();
    return 0;
  },
};

// `kernel-taint serve`: the sidecar (panel, /health, /metrics, /events).
import type { TaintWatcher } from '../watch.js';
import { errorLine, stopSignal, untilAborted } from './io.js';
import {
  BASELINE_OPTION,
  type Command,
  INTERVAL_OPTION,
  intOption,
  JOURNAL_OPTIONS,
  journalOption,
  KMSG_OPTION,
  listOption,
  PATH_OPTION,
  POLICY_OPTION,
  PROFILE_OPTION,
  stringOption,
  UsageError,
} from './options.js';

const DEFAULT_PORT = 9523;

export const serve: Command = {
  name: 'serve',
  usage: `serve [--port ${DEFAULT_PORT}] [--host 127.0.0.1] [--policy FILE] [--baseline FILE] [--journal FILE]`,
  summary: 'panel at /, /health, /metrics, /events until Ctrl-C',
  details:
    'Listens on loopback unless --host says otherwise; anyone who can reach the port can read it. Requests\n' +
    'whose Host header is not an IP address, localhost or a name given with --allowed-host get 421, on every\n' +
    'bind address (a web page cannot read it through DNS rebinding).',
  options: [
    { name: 'port', type: 'string', arg: 'N', help: `TCP port (0: any free one; default ${DEFAULT_PORT})` },
    { name: 'host', type: 'string', arg: 'ADDR', help: 'address to listen on (default 127.0.0.1)' },
    {
      name: 'allowed-host',
      type: 'string',
      arg: 'NAME',
      multiple: true,
      help: 'also accept NAME in the Host header (repeatable; IP addresses and localhost always are)',
    },
    INTERVAL_OPTION,
    POLICY_OPTION,
    BASELINE_OPTION,
    ...JOURNAL_OPTIONS,
    PROFILE_OPTION,
    PATH_OPTION,
    KMSG_OPTION,
  ],
  positionals: [0, 0],
  async run({ values, profile, io }) {
    const port = intOption(values, 'port', 0, 65535) ?? DEFAULT_PORT;
    const interval = intOption(values, 'interval', 0, 0x7fff_ffff);
    const host = stringOption(values, 'host') ?? '127.0.0.1';
    const allowedHosts = listOption(values, 'allowed-host');
    if (allowedHosts.some((h) => h.trim() === '' || /[\s/@]/.test(h))) {
      throw new UsageError(
        `--allowed-host takes a host name, got '${allowedHosts.find((h) => h.trim() === '' || /[\s/@]/.test(h))}'`,
      );
    }
    const { loadTaintPolicy } = await import('../integrations/policy.js');
    const { serveTaint } = await import('../integrations/serve.js');
    const { watchTaint } = await import('../watch.js');
    const policyFile = stringOption(values, 'policy');
    const policy = policyFile ? loadTaintPolicy(policyFile) : {};
    const baselineFile = stringOption(values, 'baseline');
    const path = stringOption(values, 'path');
    const kmsg = stringOption(values, 'kmsg');
    const openJournal = await journalOption(values, io, profile);
    const { signal, dispose } = stopSignal(io);
    let watcher: TaintWatcher | undefined;
    let journal: ReturnType<typeof openJournal> | undefined;
    try {
      watcher = watchTaint({
        ...(path ? { path } : {}),
        ...(kmsg ? { _kmsgPath: kmsg } : {}),
        ...(interval !== undefined ? { interval } : {}),
        profile: profile ?? 'auto',
      });
      journal = openJournal(watcher);
      journal?.on('error', (e) => io.err(`kernel-taint: journal: ${e.message}`));
      watcher.on('error', (e) => io.err(errorLine(e)));
      const server = await serveTaint({
        host,
        port,
        allowedHosts,
        source: watcher,
        policy: baselineFile ? { ...policy, onlyNewSinceBoot: true } : policy,
        ...(baselineFile ? { baselineFile } : {}),
        ...(journal ? { journal } : {}),
        ...(profile ? { profile } : {}),
        // As for check: lets tests stand in for /proc/sys/kernel/random/boot_id.
        ...(io.env.KERNEL_TAINT_BOOT_ID_PATH ? { bootIdPath: io.env.KERNEL_TAINT_BOOT_ID_PATH } : {}),
      });
      if (!['127.0.0.1', '::1', 'localhost'].includes(host)) {
        io.err(`kernel-taint: warning: listening on ${host}, not loopback: anyone who can reach it can read it`);
      }
      io.out(`kernel-taint: serving on ${server.url}/ (/health, /metrics, /events, /state)`);
      await untilAborted(signal);
      await server.close();
    } finally {
      dispose();
      await watcher?.close();
      await journal?.close();
    }
    return 0;
  },
};

// `kernel-taint check`: a CI gate over the current taint and a policy.
import { readTaint } from '../read.js';
import {
  BASELINE_OPTION,
  type Command,
  type CommandContext,
  JSON_OPTION,
  PATH_OPTION,
  POLICY_OPTION,
  PROFILE_OPTION,
  stringOption,
  UsageError,
} from './options.js';

export const check: Command = {
  name: 'check',
  usage: 'check [--policy FILE] [--baseline FILE] [--fail-on warn|fail] [--json | --format text|json|npd]',
  summary: 'CI gate: exit 0 pass/warn, 1 fail, 2 error',
  details:
    'Classifies the current taint under --policy (default: by category). --baseline FILE ignores the bits\n' +
    'that were set at the first check of this boot (the file is created then).\n' +
    '--format=npd is the node-problem-detector custom plugin protocol: one line of at most 80 bytes on\n' +
    'stdout, the flags on stderr, exit 0 OK, 1 NonOK, 2 Unknown (also for errors).',
  options: [
    POLICY_OPTION,
    BASELINE_OPTION,
    { name: 'fail-on', type: 'string', arg: 'warn|fail', help: 'lowest status that exits 1 (default fail)' },
    JSON_OPTION,
    { name: 'format', type: 'string', arg: 'text|json|npd', help: 'output format (default text; npd: see below)' },
    PROFILE_OPTION,
    PATH_OPTION,
  ],
  positionals: [0, 0],
  async run(ctx) {
    const format = stringOption(ctx.values, 'format') ?? (ctx.values.json ? 'json' : 'text');
    if (format !== 'text' && format !== 'json' && format !== 'npd') {
      throw new UsageError(`--format must be text, json or npd, got '${format}'`);
    }
    if (format !== 'npd') return runCheck(ctx, format === 'json');
    // node-problem-detector: every outcome, errors included, is one short line and an exit status.
    const { formatNpd, formatNpdError } = await import('../integrations/npd.js');
    let result: ReturnType<typeof formatNpd>;
    try {
      const { c, failOn } = await classify(ctx);
      result = formatNpd(c, { failOn });
    } catch (e) {
      result = formatNpdError(e as Error & { code?: string });
      ctx.io.err(`kernel-taint: ${(e as Error).message}`);
    }
    ctx.io.out(result.message);
    for (const d of result.details) ctx.io.err(d);
    return result.exitCode;
  },
};

async function classify({ values, profile, io }: CommandContext) {
  const failOn = stringOption(values, 'fail-on') ?? 'fail';
  if (failOn !== 'warn' && failOn !== 'fail') throw new UsageError(`--fail-on must be warn or fail, got '${failOn}'`);
  const { bootBaseline } = await import('../integrations/boot.js');
  const { classifyTaint, loadTaintPolicy } = await import('../integrations/policy.js');
  const policyFile = stringOption(values, 'policy');
  let policy = policyFile ? loadTaintPolicy(policyFile) : {};
  const path = stringOption(values, 'path');
  const state = readTaint({ ...(path ? { path } : {}), profile: profile ?? 'auto' });
  const baselineFile = stringOption(values, 'baseline');
  let baseline: ReturnType<typeof bootBaseline> | null = null;
  if (baselineFile) {
    baseline = bootBaseline(baselineFile, state.value, {
      ...(io.env.KERNEL_TAINT_BOOT_ID_PATH ? { bootIdPath: io.env.KERNEL_TAINT_BOOT_ID_PATH } : {}),
    });
    policy = { ...policy, onlyNewSinceBoot: true };
  }
  const needsModules = (policy.allow ?? []).some((r) => typeof r === 'object' && r.modules !== undefined);
  const modules = needsModules
    ? (await import('../modules.js')).readModuleTaints({ profile: profile ?? 'auto' })
    : undefined;
  const c = classifyTaint(state, policy, {
    ...(baseline ? { baseline: baseline.value } : {}),
    ...(modules ? { modules } : {}),
  });
  return { c, state, baseline, baselineFile, failOn: failOn as 'warn' | 'fail' };
}

async function runCheck(ctx: CommandContext, json: boolean): Promise<number> {
  const { io } = ctx;
  const { c, state, baseline, baselineFile, failOn } = await classify(ctx);
  if (json) {
    io.out(
      JSON.stringify({
        status: c.status,
        value: state.value,
        letters: state.letters,
        profile: state.profile,
        baseline: baseline ? { value: baseline.value, bootId: baseline.bootId, created: baseline.created } : null,
        reasons: c.reasons,
      }),
    );
  } else {
    io.out(`${c.status.toUpperCase()}: ${state}`);
    if (baseline?.created) io.out(`  baseline recorded in ${baselineFile}: value ${baseline.value}`);
    else if (baseline) io.out(`  baseline from ${baselineFile}: value ${baseline.value} (ignored bits)`);
    for (const r of c.reasons) io.out(`  [${r.letter}] ${r.status}: ${r.message}`);
  }
  const bad = failOn === 'warn' ? ['warn', 'fail'] : ['fail'];
  return bad.includes(c.status) ? 1 : 0;
}

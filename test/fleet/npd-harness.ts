// How node-problem-detector runs a custom plugin and turns its result into a
// node condition, written from NPD's source (pkg/custompluginmonitor:
// plugin/plugin.go, types/config.go, custom_plugin_monitor.go) so the plugin
// contract can be tested without a cluster:
// - the plugin runs in its own process group; at the rule's timeout (or the
//   global one, whichever is smaller) the whole group gets SIGKILL and the
//   message becomes `Timeout when running plugin "<path>": state - <state>. output - "<stdout>"`;
// - stdout and stderr are read up to 4 KiB each; stdout, trimmed, cut at
//   max_output_length bytes (default 80), is the message;
// - exit 0 is OK, 1 NonOK, anything else (a signal too) Unknown;
// - a permanent rule sets its condition True on NonOK (reason of the rule,
//   the message), False on OK (the default reason and message), Unknown on Unknown.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export type NpdStatus = 'OK' | 'NonOK' | 'Unknown';

export interface NpdRule {
  type: 'permanent' | 'temporary';
  condition?: string;
  reason: string;
  path: string;
  args?: string[];
  timeout?: string;
}

export interface NpdPluginConfig {
  plugin: string;
  pluginConfig?: {
    invoke_interval?: string;
    timeout?: string;
    max_output_length?: number;
    concurrency?: number;
    enable_message_change_based_condition_update?: boolean;
  };
  source: string;
  conditions: Array<{ type: string; reason: string; message: string }>;
  rules: NpdRule[];
}

/** Go's time.ParseDuration for the units NPD configs use. */
export function goDuration(s: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * units[m[2]];
    at = re.lastIndex;
  }
  if (at !== s.length || s.length === 0) throw new Error(`time: invalid duration "${s}"`);
  return total;
}

/** ApplyConfiguration + Validate: the errors NPD would refuse the config with. */
export function validateNpdConfig(c: NpdPluginConfig, pathExists = existsSync): string[] {
  const errors: string[] = [];
  if (c.plugin !== 'custom') errors.push(`NPD does not support "${c.plugin}" plugin for now`);
  const global = goDuration(c.pluginConfig?.timeout ?? '5s');
  goDuration(c.pluginConfig?.invoke_interval ?? '30s');
  for (const r of c.rules) {
    if (r.timeout !== undefined && goDuration(r.timeout) > global)
      errors.push(`plugin timeout is greater than global timeout: ${r.reason}`);
    if (!pathExists(r.path)) errors.push(`rule path "${r.path}" does not exist`);
    if (r.type === 'permanent' && !c.conditions.some((d) => d.type === r.condition)) {
      errors.push(`Permanent problem ${r.condition} does not have preset default condition.`);
    }
  }
  return errors;
}

export interface NpdRunResult {
  status: NpdStatus;
  message: string;
  stderr: string;
  timedOut: boolean;
  /** Wall time of the run (ms). */
  ms: number;
  /** The plugin's process group id (gone after the run). */
  pgid: number;
}

const BUF = 4096;

/** Runs one rule the way plugin.go does. */
export function runNpdRule(c: NpdPluginConfig, rule: NpdRule): Promise<NpdRunResult> {
  const global = goDuration(c.pluginConfig?.timeout ?? '5s');
  const timeout = rule.timeout !== undefined && goDuration(rule.timeout) < global ? goDuration(rule.timeout) : global;
  const maxOut = c.pluginConfig?.max_output_length ?? 80;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(rule.path, rule.args ?? [], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout: Buffer = Buffer.alloc(0);
    let stderr: Buffer = Buffer.alloc(0);
    const keep = (buf: Buffer, d: Buffer) => (buf.length < BUF ? Buffer.concat([buf, d]).subarray(0, BUF) : buf);
    child.stdout.on('data', (d: Buffer) => {
      stdout = keep(stdout, d);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = keep(stderr, d);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeout);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let output = stdout.toString('utf8').trim();
      if (timedOut) {
        const state = signal ? `signal: ${signal === 'SIGKILL' ? 'killed' : signal}` : `exit status ${code}`;
        output = `Timeout when running plugin "${rule.path}": state - ${state}. output - ${JSON.stringify(output)}`;
      }
      // Go slices bytes.
      const bytes = Buffer.from(output, 'utf8');
      if (bytes.length > maxOut) output = bytes.subarray(0, maxOut).toString('utf8');
      const status: NpdStatus = code === 0 ? 'OK' : code === 1 ? 'NonOK' : 'Unknown';
      resolve({
        status,
        message: output,
        stderr: stderr.toString('utf8'),
        timedOut,
        ms: performance.now() - t0,
        pgid: child.pid as number,
      });
    });
  });
}

export interface NpdCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/** The condition after a result of a permanent rule (custom_plugin_monitor.go generateStatus). */
export function nextCondition(
  c: NpdPluginConfig,
  current: NpdCondition,
  rule: NpdRule,
  result: Pick<NpdRunResult, 'status' | 'message'>,
): NpdCondition {
  const def = c.conditions.find((d) => d.type === rule.condition);
  if (!def) throw new Error(`no default condition ${rule.condition}`);
  const status = result.status === 'OK' ? 'False' : result.status === 'NonOK' ? 'True' : 'Unknown';
  const onMessageChange = c.pluginConfig?.enable_message_change_based_condition_update ?? false;
  if (current.status === 'True' && status !== 'True') {
    return { ...current, status, reason: def.reason, message: status === 'False' ? def.message : result.message };
  }
  if (current.status !== 'True' && status === 'True')
    return { ...current, status, reason: rule.reason, message: result.message };
  if (current.status !== status) {
    return { ...current, status, reason: def.reason, message: status === 'False' ? def.message : result.message };
  }
  if (
    status === 'True' &&
    (current.reason !== rule.reason || (onMessageChange && current.message !== result.message))
  ) {
    return { ...current, reason: rule.reason, message: result.message };
  }
  return current;
}

/** The condition NPD starts with (initializeStatus). */
export function initialCondition(c: NpdPluginConfig, type: string): NpdCondition {
  const def = c.conditions.find((d) => d.type === type);
  if (!def) throw new Error(`no default condition ${type}`);
  return { type, status: 'False', reason: def.reason, message: def.message };
}

// Shared helpers of the integration tests.
import { EventEmitter } from 'node:events';
import { stateOf } from '../../lib/decode.js';
import { profileTable } from '../../lib/flags.js';
import type { SourceChange, TaintSource } from '../../lib/integrations/source.js';
import type { ChangeModules, ModuleTaint } from '../../lib/modules.js';
import type { TaintState } from '../../lib/types.js';

/** A state of the mainline profile. */
export function mainline(value: number): TaintState {
  return stateOf(value >>> 0, profileTable('mainline'));
}

/** A module entry as readModuleTaints returns it. */
export function mod(name: string, letters: string): ModuleTaint {
  const t = profileTable('mainline');
  let v = 0;
  for (const l of letters) v |= 1 << (t.byLetter.get(l) ?? 0);
  return { name, letters, flags: mainline(v).flags };
}

/** A TaintSource without a native thread: `set()` emits changes like a watcher. */
export class FakeSource extends EventEmitter<{ change: [SourceChange]; error: [Error] }> implements TaintSource {
  current: TaintState | null;
  seq = 0;
  bootId: string | null = 'boot-a';
  constructor(value: number | null = 0) {
    super();
    this.current = value === null ? null : mainline(value);
  }
  set(value: number, trigger = 'inotify', extra: { carrying?: ModuleTaint[]; kmsg?: string } = {}): SourceChange {
    const previous = this.current ?? mainline(0);
    const current = mainline(value);
    this.current = current;
    const addedBits = (current.value & ~previous.value) >>> 0;
    const added = current.flags.filter((f) => ((addedBits >>> f.bit) & 1) === 1);
    const modules: ChangeModules = {
      carrying: extra.carrying ?? [],
      unattributable: added.filter((f) => !f.module),
    };
    const change: SourceChange = {
      seq: ++this.seq,
      time: new Date(),
      bootId: this.bootId,
      previous,
      current,
      added,
      trigger,
      modules,
      ...(extra.kmsg ? { kmsg: extra.kmsg } : {}),
    };
    this.emit('change', change);
    return change;
  }
}

export { until } from '../helpers/events.js';

/** An in-memory CLI io for `main()` run in process: what it printed, and its signal. */
export function memIo(signal?: AbortSignal, env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      out: (s: string) => out.push(s),
      err: (s: string) => err.push(s),
      isTTY: false,
      env,
      stdin: async () => '',
      ...(signal ? { signal } : {}),
    },
  };
}

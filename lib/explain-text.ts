// Plain-text rendering of taint evidence for the CLI (report, watch) and the
// panel: "since <local time> (<duration> after boot)", the cause, the actor.
import type { TaintActor, TaintCause, TaintEvidence } from './types.js';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `2026-12-02 06:01:02` in the local time zone. */
export function localTime(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `12.0 s`, `5 min 03 s`, `3 h 07 min`, `2 d 4 h`. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.floor(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** `since 2026-12-02 06:01:02 (12.0 s after boot)`, or `since: unknown`. */
export function sinceText(e: Pick<TaintEvidence, 'since' | 'sinceBoot'>): string {
  if (e.since === null) return e.sinceBoot === null ? 'since: unknown' : `since ${duration(e.sinceBoot)} after boot`;
  return `since ${localTime(e.since)}${e.sinceBoot === null ? '' : ` (${duration(e.sinceBoot)} after boot)`}`;
}

/** `module kt_prop [POE]: out of tree, unsigned, licence 'Proprietary'`, `WARN at mm/slub.c:123`… */
export function causeText(c: TaintCause): string {
  switch (c.kind) {
    case 'module': {
      const m = c.module;
      if (m === undefined) return 'a module load (which module is not known)';
      const props: string[] = [];
      if (m.intree === false) props.push('out of tree');
      if (m.signed === false) props.push('unsigned');
      if (m.license !== undefined) props.push(`licence '${m.license}'`);
      return `module ${m.name}${m.letters ? ` [${m.letters}]` : ''}${props.length ? `: ${props.join(', ')}` : ''}`;
    }
    case 'warning':
      return c.site ? `WARN at ${c.site}` : 'a kernel WARN';
    case 'oops':
      return c.site ? `oops in ${c.site}` : 'a kernel oops';
    case 'user-write':
      return c.site ? `user request (${c.site})` : 'a user request';
    case 'built-in':
      return 'built in (set from boot)';
    default:
      return c.site ? `${c.kind} (${c.site})` : c.kind;
  }
}

const KIND: Record<TaintActor['kind'], string> = {
  process: 'the process that caused it',
  incidental: 'the task that happened to be running',
  hardware: 'hardware',
  boot: 'boot',
};

/** `insmod, pid 117 (the process that caused it; from the watchpoint)` */
export function actorText(a: TaintActor): string {
  const ids: string[] = [];
  if (a.pid !== null) ids.push(`pid ${a.pid}`);
  if (a.tid !== null && a.tid !== a.pid) ids.push(`tid ${a.tid}`);
  if (a.uid !== undefined && a.uid !== null) ids.push(`uid ${a.uid}`);
  const who = [a.comm, ...ids].filter((s) => s !== null && s !== '').join(', ');
  const exe = a.exe ? ` ${a.exe}` : '';
  return `${who || '(no task named)'}${exe} (${KIND[a.kind]}; from the ${a.via === 'kmsg' ? 'kernel log' : a.via})`;
}

/** The lines the CLI prints under a flag: since, cause, log line, actor. */
export function evidenceLines(e: TaintEvidence): string[] {
  const out = [sinceText(e)];
  out.push(`cause: ${e.cause === null ? 'unknown' : causeText(e.cause)}`);
  if (e.cause?.line !== undefined) out.push(`log: ${e.cause.line}`);
  if (e.actor !== null) out.push(`actor: ${actorText(e.actor)}`);
  return out;
}

/** One line for a watch change: `W: WARN at mm/slub.c:123; actor swapper, tid 0 (…)`. */
export function evidenceSummary(e: TaintEvidence): string {
  const parts = [`${e.flag.letter}: ${e.cause === null ? 'cause unknown' : causeText(e.cause)}`];
  if (e.actor !== null) parts.push(`actor ${actorText(e.actor)}`);
  return parts.join('; ');
}

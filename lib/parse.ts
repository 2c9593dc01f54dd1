import { resolveIn, stateOf } from './decode.js';
import { type ProfileTable, profileTable } from './flags.js';
import { profileForRelease, resolveProfile } from './profiles.js';
import type { Profile, TaintState } from './types.js';

/** What kind of line a taint report came from. */
export type TaintLineKind = 'header' | 'verbose' | 'modules' | 'unloaded' | 'raw';

/** One taint report found in a log. */
export interface TaintReport {
  /** 1-based line number in the text. */
  readonly line: number;
  readonly kind: TaintLineKind;
  /** The kernel release printed beside the taint, when there is one. */
  readonly release: string | null;
  /** `Comm:` of the task that hit the report, when printed. */
  readonly comm: string | null;
  readonly state: TaintState;
  /** Modules and their letters (module lines only). */
  readonly modules: readonly { name: string; letters: string }[];
  /** The verbose line was cut short (6.11-7.0 cut it at 16 bytes per flag - 1: 303 or 319 characters). */
  readonly truncated: boolean;
}

export interface ParseOptions {
  /** Flag table; `auto` (default) picks a vendor from the release in the text, else mainline. */
  profile?: Profile;
}

// Lines are capped before matching so that garbage input cannot make a regex slow.
const MAX_LINE = 8192;

const VERBOSE_RE = /Tainted: (\[.*)$/;
const HEADER_RE = /(Not tainted|Tainted:)/;
const MODULES_RE = /Modules linked in:(.*)$/;
const UNLOADED_RE = /Unloaded tainted modules:(.*)$/;
const RAW_RE = /Raw taint value as int\/string: (\d+)\//;
const RELEASE_RE = /\(?\d+\.\d+[^\s)]*/;
const COMM_RE = /Comm: (\S+)/;
const MODULE_TOKEN_RE = /([\w-]+)\(([A-Za-z+-]*)\)/g;

function isFlagsToken(tok: string): boolean {
  if (tok.length === 0 || tok.length > 32 || !/^[A-Za-z-]+$/.test(tok)) return false;
  // A word (a release such as "syzkaller", a trailing "NONE") is not a flags token:
  // the kernel prints each letter once, and lowercase (RHEL) letters at most two in a row.
  if (/[a-z]{3}/.test(tok)) return false;
  const letters = tok.replace(/-/g, '');
  return new Set(letters).size === letters.length;
}

interface Letters {
  value: number;
  unknown: string[];
}

function lettersToValue(letters: Iterable<string>, table: ProfileTable): Letters {
  let value = 0;
  const unknown: string[] = [];
  for (const c of letters) {
    if (c === 'G' || c === '-' || c === '+' || c === ' ') continue;
    const bit = table.byLetter.get(c);
    if (bit === undefined) {
      if (!unknown.includes(c)) unknown.push(c);
    } else value |= 1 << bit;
  }
  return { value: value >>> 0, unknown };
}

function pickTable(profile: Profile | undefined, release: string | null): ProfileTable {
  return profileTable(resolveProfile(profile, () => profileForRelease(release)));
}

function releaseAfter(text: string): string | null {
  const m = RELEASE_RE.exec(text);
  return m ? m[0].replace(/^\(/, '') : null;
}

function releaseNear(line: string, at: number, after: string): string | null {
  // The release follows the flags ("Tainted: G  W  6.1.0 #1") or, in other
  // formats, precedes "Not tainted"/"Tainted:" ("6.9.0-rc7 #417 Not tainted").
  const r = releaseAfter(after);
  if (r) return r;
  const before = line.slice(0, at);
  const m = /(\d+\.\d+[^\s)]*) #\S+\s*$/.exec(before);
  return m ? m[1] : null;
}

function parseHeader(line: string, lineNo: number, profile: Profile | undefined): TaintReport | null {
  const m = HEADER_RE.exec(line);
  if (!m) return null;
  const comm = COMM_RE.exec(line)?.[1] ?? null;
  const afterLabel = line.slice(m.index + m[0].length);
  if (m[1] === 'Not tainted') {
    const release = releaseNear(line, m.index, afterLabel);
    const table = pickTable(profile, release);
    return report(lineNo, 'header', release, comm, stateOf(0, table));
  }
  const region = /^[A-Za-z\s-]*/.exec(afterLabel)?.[0] ?? '';
  const tokens = region.split(/\s+/).filter(Boolean);
  const flagTokens: string[] = [];
  for (const t of tokens) {
    if (!isFlagsToken(t)) break;
    flagTokens.push(t);
  }
  const consumed = flagTokens.length === 0 ? 0 : afterLabel.indexOf(flagTokens[flagTokens.length - 1]);
  const rest = afterLabel.slice(consumed + (flagTokens.at(-1)?.length ?? 0));
  const release = releaseNear(line, m.index, rest);
  const table = pickTable(profile, release);
  const { value, unknown } = lettersToValue(flagTokens.join(''), table);
  return report(lineNo, 'header', release, comm, stateOf(value, table, unknown));
}

function parseVerbose(body: string, table: ProfileTable): Letters & { truncated: boolean } {
  let value = 0;
  const unknown: string[] = [];
  let truncated = false;
  const entries = body.split(/,\s*/);
  for (const [i, entry] of entries.entries()) {
    const m = /^\[(.)\](?:=([A-Z0-9_]*))?/.exec(entry.trim());
    if (!m) {
      // Only the last entry can be cut; anything else is not a verbose line.
      if (i === entries.length - 1 && /^\[?$/.test(entry.trim())) truncated = true;
      continue;
    }
    const [, letter, name] = m;
    let bit: number | undefined;
    if (name) {
      try {
        bit = resolveIn(name, table);
      } catch {
        bit = undefined;
      }
    }
    if (bit === undefined || (name && table.byBit.get(bit)?.letter !== letter && table.byLetter.has(letter))) {
      // A cut name ("[K]=LIVEP") or a name this profile spells differently: trust the letter.
      bit = table.byLetter.get(letter);
    }
    if (name === undefined || (bit !== undefined && table.byBit.get(bit)?.name !== name)) {
      if (i === entries.length - 1) truncated = true;
    }
    if (bit === undefined) {
      if (!unknown.includes(letter)) unknown.push(letter);
    } else value |= 1 << bit;
  }
  return { value: value >>> 0, unknown, truncated };
}

function report(
  line: number,
  kind: TaintLineKind,
  release: string | null,
  comm: string | null,
  state: TaintState,
  extra: { modules?: { name: string; letters: string }[]; truncated?: boolean } = {},
): TaintReport {
  return Object.freeze({
    line,
    kind,
    release,
    comm,
    state,
    modules: Object.freeze(extra.modules ?? []),
    truncated: extra.truncated ?? false,
  });
}

function parseModules(
  body: string,
  lineNo: number,
  kind: 'modules' | 'unloaded',
  profile: Profile | undefined,
  release: string | null,
): TaintReport {
  const table = pickTable(profile, release);
  const modules: { name: string; letters: string }[] = [];
  const all: string[] = [];
  for (const m of body.matchAll(MODULE_TOKEN_RE)) {
    const letters = m[2].replace(/[+-]/g, '');
    modules.push({ name: m[1], letters });
    all.push(...letters);
  }
  const { value, unknown } = lettersToValue(all, table);
  return report(lineNo, kind, release, null, stateOf(value, table, unknown), { modules });
}

/**
 * Finds every taint report in a log, oldest first: oops headers (`Tainted: G   W`,
 * `Not tainted`), 6.11+ verbose lines, `Modules linked in:` and `Unloaded
 * tainted modules:` lines, and kernel-chktaint's `Raw taint value` line.
 * Letters are read by letter, not position, so RHEL `-` padding, SUSE gaps,
 * collapsed whitespace, tabs and CRLF all work; an unknown letter is kept in
 * `state.unknownLetters`. Never throws on any string.
 */
export function parseTaintLog(text: string, opts: ParseOptions = {}): TaintReport[] {
  if (typeof text !== 'string') return [];
  const out: TaintReport[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  let lastRelease: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].length > MAX_LINE ? lines[i].slice(0, MAX_LINE) : lines[i];
    const lineNo = i + 1;
    const raw = RAW_RE.exec(line);
    if (raw) {
      const n = Number(raw[1]);
      if (n <= 0xffff_ffff) {
        const table = pickTable(opts.profile, lastRelease);
        out.push(report(lineNo, 'raw', null, null, stateOf(n, table)));
        continue;
      }
    }
    const mod = MODULES_RE.exec(line);
    if (mod) {
      out.push(parseModules(mod[1], lineNo, 'modules', opts.profile, lastRelease));
      continue;
    }
    const unl = UNLOADED_RE.exec(line);
    if (unl) {
      out.push(parseModules(unl[1], lineNo, 'unloaded', opts.profile, lastRelease));
      continue;
    }
    const verb = VERBOSE_RE.exec(line);
    if (verb) {
      const table = pickTable(opts.profile, lastRelease);
      const { value, unknown, truncated } = parseVerbose(verb[1], table);
      out.push(report(lineNo, 'verbose', lastRelease, null, stateOf(value, table, unknown), { truncated }));
      continue;
    }
    const head = parseHeader(line, lineNo, opts.profile);
    if (head) {
      out.push(head);
      if (head.release) lastRelease = head.release;
    }
  }
  return out;
}

/**
 * Parses pasted kernel output (one line or a whole oops) into a taint state,
 * or `null` when the text holds no taint information. When a log holds
 * several reports the newest wins, its verbose line over its header (a verbose
 * line cut short is completed from the header beside it). Never throws.
 *
 * @example
 * parseTaint('CPU: 1 PID: 42 Comm: sh Tainted: P        W  O      6.1.0 #1').letters // 'PWO'
 * parseTaint('Tainted: [W]=WARN, [O]=OOT_MODULE')?.value                          // 4608
 */
export function parseTaint(text: string, opts: ParseOptions = {}): TaintState | null {
  const reports = parseTaintLog(text, opts);
  if (reports.length === 0) return null;
  for (const kind of ['verbose', 'header', 'raw'] as const) {
    const idx = reports.findLastIndex((r) => r.kind === kind);
    if (idx < 0) continue;
    const r = reports[idx];
    if (kind === 'verbose') {
      // The header of the same report sits a few lines above its verbose line.
      const head = reports.slice(0, idx).findLast((h) => h.kind === 'header' && r.line - h.line <= 4);
      if (head && (r.truncated || head.state.value !== r.state.value)) {
        const table = profileTable(r.state.profile);
        return stateOf((r.state.value | head.state.value) >>> 0, table, [
          ...new Set([...r.state.unknownLetters, ...head.state.unknownLetters]),
        ]);
      }
    }
    return r.state;
  }
  // Only module lines: the union of what the modules carry.
  let value = 0;
  const unknown = new Set<string>();
  for (const r of reports) {
    value |= r.state.value;
    for (const l of r.state.unknownLetters) unknown.add(l);
  }
  return stateOf(value >>> 0, profileTable(reports[0].state.profile), [...unknown]);
}

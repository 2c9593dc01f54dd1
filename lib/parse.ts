// Finds taint reports in kernel logs. Every scan here is a hand-written loop or
// an anchored pattern over a bounded token, so the time is linear in the input
// whatever it holds (test/unit/parse-linear.test.ts feeds each scan adversarial
// input of growing size).
import { resolveIn, stateOf } from './decode.js';
import { invalidArg } from './errors.js';
import { type ProfileTable, profileTable } from './flags.js';
import { atLeast, type KernelVersion, parseKernelVersion } from './kernel-version.js';
import { parseProfile, profileForRelease } from './profiles.js';
import type { Profile, ResolvedProfile, TaintState } from './types.js';
import { TaintVerdict } from './verdict.js';

// The verdict is part of the eagerly loaded core (lib/verdict.ts); it is
// re-exported here beside the parser that feeds it.
export { severityOf, TAINT_SEVERITIES, type TaintSeverity, TaintVerdict } from './verdict.js';

/** What kind of line a taint report came from. */
export type TaintLineKind = 'header' | 'verbose' | 'modules' | 'unloaded' | 'raw' | 'supported';

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

/** Lines are read up to their first 8 KiB: no kernel line is longer, and garbage stays cheap. */
export const MAX_LINE = 8192;

/** Validates the options once, before any text is read. Throws `ERR_KERNEL_TAINT_INVALID_ARG`. */
export function checkParseOptions(opts: unknown): ParseOptions {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object') throw invalidArg(`parse options must be an object, got ${typeof opts}`);
  return { profile: parseProfile((opts as ParseOptions).profile) };
}

// ---------------------------------------------------------------------------
// Small linear scanners.

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
/** ASCII whitespace, and the no-break and typographic spaces a web page turns spaces into. */
const isSpace = (c: number): boolean =>
  c === 32 ||
  c === 9 ||
  c === 13 ||
  c === 11 ||
  c === 12 ||
  c === 0xa0 ||
  (c >= 0x2000 && c <= 0x200b) ||
  c === 0x202f ||
  c === 0x3000;
/** A byte no kernel prints in a taint field: control chars, DEL, anything past ASCII. */
const isGarbage = (c: number): boolean => !isSpace(c) && (c < 32 || c >= 127);

/** `6.1.0…`, `(2.6.32…`: digits, a dot, a digit. */
function looksLikeRelease(s: string, at: number): boolean {
  let i = at;
  if (s.charCodeAt(i) === 40 /* ( */) i++;
  const start = i;
  while (i < s.length && i - start < 6 && isDigit(s.charCodeAt(i))) i++;
  return i > start && s.charCodeAt(i) === 46 /* . */ && isDigit(s.charCodeAt(i + 1));
}

/** The token at `at` (up to whitespace or `)`), without a leading `(`. */
function tokenAt(s: string, at: number): string {
  let i = at;
  if (s.charCodeAt(i) === 40) i++;
  const start = i;
  while (i < s.length && !isSpace(s.charCodeAt(i)) && s.charCodeAt(i) !== 41 /* ) */) i++;
  return s.slice(start, i);
}

function skipSpace(s: string, at: number): number {
  let i = at;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

/**
 * The release after the flags: `6.1.0-13-amd64 #1`, `(2.6.18 #1)`, or a word
 * followed by a build number (`syzkaller #0`).
 */
function releaseAt(s: string, at: number): string | null {
  const i = skipSpace(s, at);
  if (i >= s.length) return null;
  if (looksLikeRelease(s, i)) return tokenAt(s, i);
  const tok = tokenAt(s, i);
  if (tok.length === 0 || tok.length > 64) return null;
  const j = skipSpace(s, i + tok.length);
  return j > i + tok.length && s.charCodeAt(j) === 35 /* # */ && isLetter(tok.charCodeAt(0)) ? tok : null;
}

/** The release before the label, in `6.9.0-rc7 #417 Not tainted`: returns it and where it starts. */
function releaseBefore(s: string, end: number): { release: string; start: number } | null {
  let i = end;
  while (i > 0 && isSpace(s.charCodeAt(i - 1))) i--;
  const buildEnd = i;
  while (i > 0 && !isSpace(s.charCodeAt(i - 1))) i--;
  if (s.charCodeAt(i) !== 35 /* # */ || buildEnd - i < 2) return null;
  while (i > 0 && isSpace(s.charCodeAt(i - 1))) i--;
  const relEnd = i;
  while (i > 0 && !isSpace(s.charCodeAt(i - 1))) i--;
  if (relEnd === i || !looksLikeRelease(s, i)) return null;
  return { release: s.slice(i, relEnd), start: i };
}

// ---------------------------------------------------------------------------
// Letters.

/** Letter → bit for a table, as a kernel of the given version prints them. */
const letterMaps = new Map<string, ReadonlyMap<string, number>>();
function lettersOf(table: ProfileTable, version: KernelVersion | null): ReadonlyMap<string, number> {
  if (version === null) return table.byLetter;
  const key = `${table.id}:${version.major}.${version.minor}`;
  let m = letterMaps.get(key);
  if (!m) {
    // A letter a newer kernel took for another bit keeps its older meaning on older
    // kernels: SUSE 5.3 prints `N` for NO_SUPPORT, which 6.0 gave to TEST.
    const map = new Map<string, number>();
    const later = new Set<string>();
    for (const f of table.flags) {
      if (f.letter === '-') continue;
      if (atLeast(version, f.since)) map.set(f.letter, f.bit);
      else later.add(f.letter);
    }
    for (const f of table.flags) {
      for (const l of f.legacyLetters ?? []) if (!map.has(l)) map.set(l, f.bit);
    }
    for (const l of later) if (!map.has(l)) map.set(l, table.byLetter.get(l) as number);
    if (letterMaps.size > 256) letterMaps.clear();
    letterMaps.set(key, map);
    m = map;
  }
  return m;
}

interface Letters {
  value: number;
  unknown: string[];
}

function lettersToValue(letters: Iterable<string>, map: ReadonlyMap<string, number>): Letters {
  let value = 0;
  const unknown: string[] = [];
  for (const c of letters) {
    if (c === 'G' || c === '-' || c === '+' || c === ' ') continue;
    const bit = map.get(c);
    if (bit === undefined) {
      if (!unknown.includes(c)) unknown.push(c);
    } else value |= 1 << bit;
  }
  return { value: value >>> 0, unknown };
}

function isFlagsToken(tok: string): boolean {
  if (tok.length === 0 || tok.length > 32) return false;
  let lowerRun = 0;
  const seen = new Set<number>();
  for (let i = 0; i < tok.length; i++) {
    const c = tok.charCodeAt(i);
    if (c === 45 /* - */) {
      lowerRun = 0;
      continue;
    }
    if (!isLetter(c)) return false;
    // A word (a release such as "syzkaller", a trailing "NONE") is not a flags token:
    // the kernel prints each letter once, and lowercase (RHEL) letters at most two in a row.
    lowerRun = c >= 97 ? lowerRun + 1 : 0;
    if (lowerRun >= 3 || seen.has(c)) return false;
    seen.add(c);
  }
  return true;
}

// ---------------------------------------------------------------------------
// Line parsers.

interface Context {
  profile: ResolvedProfile | undefined;
  /** The release of the newest header, for lines that print none. */
  lastRelease: string | null;
}

function tableFor(ctx: Context, release: string | null): ProfileTable {
  return profileTable(ctx.profile ?? profileForRelease(release));
}

function versionOf(release: string | null): KernelVersion | null {
  return release === null ? null : parseKernelVersion(release);
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

/** Whether a label at `at` starts a field rather than sitting inside a word or a quoted value. */
function labelStarts(line: string, at: number): boolean {
  if (at === 0) return true;
  const c = line.charCodeAt(at - 1);
  return isSpace(c) || c === 40 /* ( */ || c === 93 /* ] */ || c === 58 /* : */ || c === 62 /* > */ || c === 124;
}

/** `Comm: Web Content Kdump: loaded Tainted:` → `Web Content`. */
function commBefore(line: string, end: number): string | null {
  let at = line.lastIndexOf('Comm: ', end);
  if (at < 0) at = line.lastIndexOf('comm: ', end);
  if (at < 0) return null;
  let s = line.slice(at + 6, end);
  for (const stop of [' Kdump: ', ' ve: ']) {
    const k = s.indexOf(stop);
    if (k >= 0) s = s.slice(0, k);
  }
  const rel = releaseBefore(s, s.length);
  if (rel) s = s.slice(0, rel.start);
  s = s.trim();
  return s.length > 0 && s.length <= 64 ? s : null;
}

/** Whether the text before the label says this is a kernel's taint field. */
function strongContext(line: string, at: number): boolean {
  const pre = line.slice(Math.max(0, at - 200), at);
  return (
    pre.includes('Comm: ') ||
    pre.includes('comm: ') ||
    pre.includes('EIP:') ||
    pre.includes('CPU:') ||
    line.charCodeAt(at - 1) === 40 /* BUG cache (Tainted: ...) */
  );
}

/** `)`, `(`, `[`, `:`, `,`. */
const TOKEN_END = new Set([41, 40, 91, 58, 44]);

function parseHeader(line: string, lineNo: number, ctx: Context): TaintReport | null {
  const tAt = line.indexOf('Tainted:');
  const nAt = line.indexOf('Not tainted');
  let at: number;
  let clean: boolean;
  if (nAt >= 0 && (tAt < 0 || nAt < tAt)) {
    at = nAt;
    clean = true;
  } else if (tAt >= 0) {
    at = tAt;
    clean = false;
  } else return null;
  if (!labelStarts(line, at)) return null;
  const comm = commBefore(line, at);
  const before = releaseBefore(line, at);
  if (clean) {
    const after = at + 'Not tainted'.length;
    const release = releaseAt(line, after) ?? before?.release ?? null;
    const next = line.charCodeAt(after);
    if (after < line.length && !isSpace(next) && next !== 41 /* ) */) return null;
    return report(lineNo, 'header', release, comm, stateOf(0, tableFor(ctx, release)));
  }

  // The flags field: tokens of letters and dashes, up to the release or anything else.
  let i = at + 'Tainted:'.length;
  let garbled = false;
  const tokens: string[] = [];
  let end = i;
  for (;;) {
    while (i < line.length && (isSpace(line.charCodeAt(i)) || isGarbage(line.charCodeAt(i)))) {
      if (isGarbage(line.charCodeAt(i))) garbled = true;
      i++;
    }
    let j = i;
    while (j < line.length && j - i <= 32 && (isLetter(line.charCodeAt(j)) || line.charCodeAt(j) === 45)) j++;
    // A token ends at a space, the end, or the punctuation around a field (`(Tainted: G  B ):`).
    const after = line.charCodeAt(j);
    const boundary = j >= line.length || isSpace(after) || isGarbage(after) || TOKEN_END.has(after);
    const tok = line.slice(i, j);
    if (!boundary || !isFlagsToken(tok)) break;
    tokens.push(tok);
    end = j;
    i = j;
  }
  // 2.6-era i386 show_registers() prints a literal `VLI` after the flags.
  if (tokens.at(-1) === 'VLI' && skipSpace(line, end) >= line.length) tokens.pop();
  const restAt = skipSpace(line, end);
  const release = releaseAt(line, end) ?? before?.release ?? null;
  if (!strongContext(line, at)) {
    // A bare `Tainted:` must look like the kernel's: flags, then the end, a release, or a bracket.
    const c = line.charCodeAt(restAt);
    const fits =
      restAt >= line.length ||
      release !== null ||
      c === 91 /* [ */ ||
      c === 41 /* ) */ ||
      c === 35 /* # */ ||
      (tokens.length > 0 && line.startsWith('VLI', restAt));
    if (!fits || (tokens.length === 0 && restAt < line.length && release === null)) return null;
  }
  const table = tableFor(ctx, release);
  const { value, unknown } = lettersToValue(tokens.join(''), lettersOf(table, versionOf(release)));
  // The kernel prints `Tainted:` only for a non-zero mask: with no letter shown, the
  // set bits are ones this position string does not print.
  const unknownValue = garbled || (value === 0 && unknown.length === 0);
  return report(lineNo, 'header', release, comm, stateOf(value, table, unknown, { unknownValue }));
}

interface Verbose extends Letters {
  truncated: boolean;
  names: Record<string, string>;
  /** The highest bit the line shows completely. */
  lastBit: number;
}

const nameBits = new Map<string, number | undefined>();
/** The bit a verbose name stands for in a table (cached: a log repeats the same few names). */
function bitOfName(name: string, table: ProfileTable): number | undefined {
  const key = `${table.id}:${name}`;
  if (nameBits.has(key)) return nameBits.get(key);
  let bit: number | undefined;
  try {
    bit = resolveIn(name, table);
  } catch {
    bit = undefined;
  }
  if (nameBits.size > 1024) nameBits.clear();
  nameBits.set(key, bit);
  return bit;
}

function parseVerbose(body: string, table: ProfileTable): Verbose {
  let value = 0;
  const unknown: string[] = [];
  const names: Record<string, string> = {};
  let truncated = false;
  let lastBit = -1;
  const entries = body.split(',');
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i].trim();
    const last = i === entries.length - 1;
    if (entry.length < 3 || entry.charCodeAt(0) !== 91 || entry.charCodeAt(2) !== 93) {
      // Only the last entry can be cut; anything else is not a verbose entry.
      if (last && (entry === '' || entry === '[' || entry.length < 3)) truncated = true;
      continue;
    }
    const letter = entry[1];
    let name: string | undefined;
    if (entry.charCodeAt(3) === 61 /* = */) {
      let k = 4;
      while (k < entry.length && k < 68) {
        const c = entry.charCodeAt(k);
        if (!(isDigit(c) || (c >= 65 && c <= 90) || c === 95)) break;
        k++;
      }
      name = entry.slice(4, k);
    }
    let bit = name ? bitOfName(name, table) : undefined;
    if (bit === undefined || (name && table.byBit.get(bit)?.letter !== letter && table.byLetter.has(letter))) {
      // A cut name ("[K]=LIVEP") or a name this profile spells differently: trust the letter.
      bit = table.byLetter.get(letter);
    }
    const complete = name !== undefined && name !== '' && (bit === undefined || table.byBit.get(bit)?.name === name);
    if (!complete && last) truncated = true;
    if (bit === undefined) {
      if (!unknown.includes(letter)) unknown.push(letter);
      if (name) names[letter] = name;
    } else {
      value |= 1 << bit;
      if (complete || !last) lastBit = Math.max(lastBit, bit);
    }
  }
  return { value: value >>> 0, unknown, truncated, names, lastBit };
}

/** `foo(POE) bar [last unloaded: qux(K)]` → modules with letters. Linear: one pass over the text. */
function scanModules(body: string): { name: string; letters: string }[] {
  const out: { name: string; letters: string }[] = [];
  let i = 0;
  const n = body.length;
  while (i < n) {
    // A name: word chars and dashes, directly followed by `(letters)`.
    const c = body.charCodeAt(i);
    const isName = (x: number) => isLetter(x) || isDigit(x) || x === 95 || x === 45;
    if (!isName(c)) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && isName(body.charCodeAt(i))) i++;
    if (body.charCodeAt(i) !== 40 /* ( */) continue;
    let j = i + 1;
    while (j < n && (isLetter(body.charCodeAt(j)) || body.charCodeAt(j) === 43 || body.charCodeAt(j) === 45)) j++;
    if (body.charCodeAt(j) === 41 /* ) */) {
      let letters = '';
      for (let k = i + 1; k < j; k++) if (isLetter(body.charCodeAt(k))) letters += body[k];
      out.push({ name: body.slice(start, i), letters });
      i = j + 1;
    } else i = j;
  }
  return out;
}

function parseModules(body: string, lineNo: number, kind: 'modules' | 'unloaded', ctx: Context): TaintReport {
  const table = tableFor(ctx, ctx.lastRelease);
  const modules = scanModules(body);
  const all: string[] = [];
  for (const m of modules) all.push(...m.letters);
  const { value, unknown } = lettersToValue(all, lettersOf(table, versionOf(ctx.lastRelease)));
  return report(lineNo, kind, ctx.lastRelease, null, stateOf(value, table, unknown), { modules });
}

/**
 * What SUSE's `Supported:` oops line and `/sys/kernel/supported` say, as taint:
 * `Yes` (nothing), `Yes, External` (EXTERNAL_SUPPORT), `No, Unsupported modules are
 * loaded` (NO_SUPPORT), `No, Proprietary and Unsupported modules are loaded` (both
 * PROPRIETARY_MODULE and NO_SUPPORT). `null` for other text.
 */
export function decodeSupported(text: string, opts: { profile?: Profile; release?: string } = {}): TaintState | null {
  if (typeof text !== 'string') throw invalidArg(`supported text must be a string, got ${typeof text}`);
  const o = checkParseOptions({ profile: opts.profile });
  const t = text.trim().slice(0, 200);
  if (!/^(Yes|No)\b/.test(t)) return null;
  const table = profileTable(
    o.profile && o.profile !== 'auto'
      ? o.profile
      : (() => {
          const p = profileForRelease(opts.release);
          return p === 'suse' || p === 'suse-legacy' ? p : 'suse';
        })(),
  );
  let value = 0;
  const set = (name: string) => {
    try {
      value |= 1 << resolveIn(name, table);
    } catch {
      // The profile has no such flag: nothing to set.
    }
  };
  if (t.startsWith('Yes')) {
    if (/External/i.test(t)) set('EXTERNAL_SUPPORT');
  } else {
    if (/Unsupported/i.test(t) || !/Proprietary/i.test(t)) set('NO_SUPPORT');
    if (/Proprietary/i.test(t)) set('PROPRIETARY_MODULE');
    if (/External/i.test(t)) set('EXTERNAL_SUPPORT');
  }
  return stateOf(value >>> 0, table);
}

function parseSupported(line: string, at: number, lineNo: number, ctx: Context): TaintReport | null {
  if (!labelStarts(line, at)) return null;
  const body = line.slice(at + 'Supported: '.length);
  if (!body.startsWith('Yes') && !body.startsWith('No')) return null;
  const state = decodeSupported(body, {
    ...(ctx.profile ? { profile: ctx.profile } : {}),
    ...(ctx.lastRelease ? { release: ctx.lastRelease } : {}),
  });
  return state ? report(lineNo, 'supported', ctx.lastRelease, null, state) : null;
}

/** Parses one line (already capped), or returns null when it holds no taint information. */
function parseLine(line: string, lineNo: number, ctx: Context): TaintReport | null {
  const rawAt = line.indexOf('Raw taint value as int/string: ');
  if (rawAt >= 0) {
    let i = rawAt + 'Raw taint value as int/string: '.length;
    const start = i;
    while (i < line.length && i - start < 11 && isDigit(line.charCodeAt(i))) i++;
    if (i > start && line.charCodeAt(i) === 47 /* / */) {
      const n = Number(line.slice(start, i));
      if (n <= 0xffff_ffff) return report(lineNo, 'raw', null, null, stateOf(n, tableFor(ctx, ctx.lastRelease)));
    }
  }
  const modAt = line.indexOf('Modules linked in:');
  if (modAt >= 0) return parseModules(line.slice(modAt + 18), lineNo, 'modules', ctx);
  const unlAt = line.indexOf('Unloaded tainted modules:');
  if (unlAt >= 0) return parseModules(line.slice(unlAt + 25), lineNo, 'unloaded', ctx);
  const supAt = line.indexOf('Supported: ');
  if (supAt >= 0) {
    const r = parseSupported(line, supAt, lineNo, ctx);
    if (r) return r;
  }
  const verbAt = line.indexOf('Tainted: [');
  if (verbAt >= 0 && labelStarts(line, verbAt)) {
    const table = tableFor(ctx, ctx.lastRelease);
    const v = parseVerbose(line.slice(verbAt + 9), table);
    return report(
      lineNo,
      'verbose',
      ctx.lastRelease,
      null,
      stateOf(v.value, table, v.unknown, { unknownNames: v.names }),
      { truncated: v.truncated },
    );
  }
  return parseHeader(line, lineNo, ctx);
}

/** Whether a line can hold taint information at all (what the stream reader looks for). */
export const LINE_NEEDLES = ['ainted', 'Modules linked in:', 'Raw taint value', 'Supported: '] as const;

// ---------------------------------------------------------------------------
// Line iteration.

/** Feeds lines to the parser; `push` takes one line without its newline. */
export class TaintLineParser {
  readonly #ctx: Context;
  constructor(opts: ParseOptions = {}) {
    const o = checkParseOptions(opts);
    this.#ctx = { profile: o.profile === 'auto' ? undefined : o.profile, lastRelease: null };
  }

  /** Parses one line (1-based `lineNo`); returns its report or null. */
  push(line: string, lineNo: number): TaintReport | null {
    let l = line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line;
    if (l.charCodeAt(l.length - 1) === 13) l = l.slice(0, -1);
    const r = parseLine(l, lineNo, this.#ctx);
    if (r?.kind === 'header' && r.release) this.#ctx.lastRelease = r.release;
    return r;
  }
}

function* linesOf(text: string): Generator<[string, number]> {
  let start = 0;
  let n = 1;
  for (;;) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    yield [text.slice(start, Math.min(end, start + MAX_LINE + 1)), n];
    if (nl < 0) return;
    start = nl + 1;
    n++;
  }
}

/** A source of log text for the stream parser. */
export type TaintLogSource =
  | AsyncIterable<string | Uint8Array>
  | Iterable<string | Uint8Array>
  | ReadableStream<string | Uint8Array>;

/**
 * Finds every taint report in a log, oldest first: oops headers (`Tainted: G   W`,
 * `Not tainted`), 6.11+ verbose lines, `Modules linked in:` and `Unloaded
 * tainted modules:` lines, SUSE's `Supported:` line and kernel-chktaint's
 * `Raw taint value` line. Letters are read by letter, not position, so RHEL `-`
 * padding, SUSE gaps, collapsed whitespace, tabs and CRLF all work; an unknown
 * letter is kept in `state.unknownLetters` (with its name from a verbose line in
 * `state.unknownNames`). Given a string, returns the reports; given a stream (a
 * Node.js Readable, an async iterable of chunks or a web ReadableStream), returns
 * an async iterator over them that reads line by line in bounded memory. Any
 * text is accepted; only invalid options throw (`ERR_KERNEL_TAINT_INVALID_ARG`).
 */
export function parseTaintLog(text: string, opts?: ParseOptions): TaintReport[];
export function parseTaintLog(source: TaintLogSource, opts?: ParseOptions): AsyncIterableIterator<TaintReport>;
export function parseTaintLog(
  input: string | TaintLogSource,
  opts: ParseOptions = {},
): TaintReport[] | AsyncIterableIterator<TaintReport> {
  const parser = new TaintLineParser(opts);
  if (typeof input === 'string') {
    const out: TaintReport[] = [];
    for (const [line, n] of linesOf(input)) {
      if (!mayHoldTaint(line)) continue;
      const r = parser.push(line, n);
      if (r) out.push(r);
    }
    return out;
  }
  if (input === null || typeof input !== 'object') {
    throw invalidArg(`parseTaintLog takes a string or a stream, got ${input === null ? 'null' : typeof input}`);
  }
  return streamReports(input, parser);
}

function mayHoldTaint(line: string): boolean {
  for (const n of LINE_NEEDLES) if (line.includes(n)) return true;
  return false;
}

async function* chunksOf(source: TaintLogSource): AsyncGenerator<string | Uint8Array> {
  if (typeof (source as unknown as ReadableStream).getReader === 'function' && !(Symbol.asyncIterator in source)) {
    const reader = (source as unknown as ReadableStream<string | Uint8Array>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }
  if (Symbol.asyncIterator in source || Symbol.iterator in source) {
    yield* source as AsyncIterable<string | Uint8Array>;
    return;
  }
  throw invalidArg('parseTaintLog takes a string, a Readable, an (async) iterable of chunks or a ReadableStream');
}

const NEEDLE_BYTES = LINE_NEEDLES.map((n) => Buffer.from(n, 'latin1'));

/**
 * Splits byte chunks into lines and parses only the lines that can hold taint
 * information (found with Buffer.indexOf, far faster than decoding every line).
 * A line is kept up to MAX_LINE bytes; the rest of a longer line is skipped, so
 * memory stays bounded whatever the input.
 */
async function* streamReports(source: TaintLogSource, parser: TaintLineParser): AsyncGenerator<TaintReport> {
  let lineNo = 1;
  let carry: Buffer | null = null; // the start of the current line (at most MAX_LINE bytes)
  let carryFull = false;
  const decoder = new TextDecoder();
  const flushLine = (buf: Buffer, start: number, end: number, checked = false): TaintReport | null => {
    // `buf[start, end)` is one whole line without its newline.
    if (!checked && !hasNeedle(buf, start, end)) return null;
    const stop = Math.min(end, start + MAX_LINE);
    return parser.push(decoder.decode(buf.subarray(start, stop)), lineNo);
  };
  for await (const chunk of chunksOf(source)) {
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let pos = 0;
    const nl = buf.indexOf(10, 0);
    if (carry !== null) {
      // Finish the line started in an earlier chunk.
      const end = nl < 0 ? buf.length : nl;
      if (!carryFull) {
        const room = MAX_LINE - carry.length;
        carry = Buffer.concat([carry, buf.subarray(0, Math.min(end, room))]);
        if (end > room) carryFull = true;
      }
      if (nl < 0) continue;
      const r = flushLine(carry, 0, carry.length);
      if (r) yield r;
      carry = null;
      carryFull = false;
      lineNo++;
      pos = nl + 1;
    }
    // Whole lines in this chunk: find candidate positions, count newlines up to each.
    const lastNl = buf.lastIndexOf(10);
    if (lastNl >= pos) {
      const hits = candidateLines(buf, pos, lastNl);
      let counted = pos;
      for (const [ls, le] of hits) {
        lineNo += countNewlines(buf, counted, ls);
        counted = ls;
        const r = flushLine(buf, ls, le, true);
        if (r) yield r;
      }
      lineNo += countNewlines(buf, counted, lastNl + 1);
      pos = lastNl + 1;
    }
    if (pos < buf.length) {
      carry = Buffer.from(buf.subarray(pos, Math.min(buf.length, pos + MAX_LINE)));
      carryFull = buf.length - pos > MAX_LINE;
    }
  }
  if (carry !== null && carry.length > 0) {
    const r = flushLine(carry, 0, carry.length);
    if (r) yield r;
  }
}

function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  let i = buf.indexOf(10, from);
  while (i >= 0 && i < to) {
    n++;
    i = buf.indexOf(10, i + 1);
  }
  return n;
}

function hasNeedle(buf: Buffer, start: number, end: number): boolean {
  const sub = buf.subarray(start, end);
  for (const n of NEEDLE_BYTES) if (sub.indexOf(n) >= 0) return true;
  return false;
}

/** The [start, end) of every line in `buf[from, lastNl]` holding a needle, in order, each once. */
function candidateLines(buf: Buffer, from: number, lastNl: number): [number, number][] {
  const starts: number[] = [];
  const region = buf.subarray(from, lastNl);
  for (const n of NEEDLE_BYTES) {
    let i = region.indexOf(n);
    while (i >= 0) {
      const abs = from + i;
      const ls = buf.lastIndexOf(10, abs) + 1;
      starts.push(Math.max(ls, from));
      // The next match after this line (a line is parsed once, whatever it holds).
      const le = buf.indexOf(10, abs);
      i = le - from + 1 < region.length ? region.indexOf(n, le - from + 1) : -1;
    }
  }
  if (starts.length === 0) return [];
  starts.sort((a, b) => a - b);
  const out: [number, number][] = [];
  let prev = -1;
  for (const s of starts) {
    if (s === prev) continue;
    prev = s;
    out.push([s, buf.indexOf(10, s)]);
  }
  return out;
}

/**
 * Parses pasted kernel output (one line or a whole oops) into a taint state,
 * or `null` when the text holds no taint information. When a log holds
 * several reports the newest wins, by position; a verbose line completes or
 * overrides only the header of its own report (a verbose line cut short is
 * completed from that header). Any text is accepted; only invalid options
 * throw (`ERR_KERNEL_TAINT_INVALID_ARG`).
 *
 * @example
 * parseTaint('CPU: 1 PID: 42 Comm: sh Tainted: P        W  O      6.1.0 #1').letters // 'PWO'
 * parseTaint('Tainted: [W]=WARN, [O]=OOT_MODULE')?.value                          // 4608
 */
export function parseTaint(text: string, opts: ParseOptions = {}): TaintState | null {
  checkParseOptions(opts);
  if (typeof text !== 'string') return null;
  const verdict = new TaintVerdict();
  for (const r of parseTaintLog(text, opts)) verdict.add(r);
  return verdict.state;
}

/** Like parseTaint() for a stream: reads it line by line and resolves to the state the log ends in. */
export async function parseTaintStream(source: TaintLogSource, opts: ParseOptions = {}): Promise<TaintVerdict> {
  const verdict = new TaintVerdict();
  for await (const r of parseTaintLog(source, opts)) verdict.add(r);
  return verdict;
}

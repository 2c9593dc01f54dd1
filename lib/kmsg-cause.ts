// Kernel log line → why a taint bit was set. Pure: no fs, no addon.
//
// The kernel prints a line when it sets most taint bits (attribution.md §5):
// the module loader names the module and the property that taints, WARN()
// prints a banner with its site and the running task, oops/bad-page/lockup/MCE
// paths print their own headers. Every matcher here is linear in the line:
// indexOf/startsWith scans and digit loops, no backtracking regular expression.
import type { TaintActor, TaintCause } from './types.js';

/** Longest `cause.line` kept, in UTF-8 bytes (cut on a character boundary). */
export const MAX_CAUSE_LINE = 512;

/** One `/dev/kmsg` record: `pri,seq,usec,flags[,caller=T123];text`. */
export interface KmsgRecord {
  /** Syslog priority and facility packed as the kernel prints them (`level = pri & 7`). */
  readonly pri: number;
  readonly level: number;
  readonly facility: number;
  readonly seq: number;
  /** Microseconds since boot (CLOCK_MONOTONIC at the time of the printk). */
  readonly usec: number;
  /** `-` for a whole record, `c` for a continuation fragment (older kernels). */
  readonly flags: string;
  /** `T123` (task id) or `C1` (CPU, interrupt context) with CONFIG_PRINTK_CALLER, else `null`. */
  readonly caller: string | null;
  /** The message, escapes (`\xNN`) decoded. */
  readonly text: string;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Parses an unsigned decimal that is the whole of `s`; `null` otherwise (or beyond 2^53). */
function uint(s: string): number | null {
  if (s.length === 0 || s.length > 16) return null;
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return null;
  return Number(s);
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Decodes `/dev/kmsg` escapes: the kernel writes every byte below 0x20, from
 * 0x7f up, and the backslash itself as `\xNN`. Bytes are then read as UTF-8.
 * Malformed escapes are kept as they are.
 */
export function unescapeKmsg(s: string): string {
  if (s.indexOf('\\x') === -1) return s;
  const bytes: number[] = [];
  let plain = '';
  const out: string[] = [];
  const flush = (): void => {
    if (bytes.length > 0) {
      out.push(Buffer.from(bytes).toString('utf8'));
      bytes.length = 0;
    }
  };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92 && s.charCodeAt(i + 1) === 120 && i + 3 < s.length) {
      const hi = hexValue(s.charCodeAt(i + 2));
      const lo = hexValue(s.charCodeAt(i + 3));
      if (hi >= 0 && lo >= 0) {
        if (plain.length > 0) {
          out.push(plain);
          plain = '';
        }
        bytes.push(hi * 16 + lo);
        i += 3;
        continue;
      }
    }
    flush();
    plain += s[i];
  }
  flush();
  out.push(plain);
  return out.join('');
}

/**
 * Parses one `/dev/kmsg` record line (`6,339,5140900,-;text`), the
 * continuation lines (` KEY=value`) excluded. `null` for anything else
 * (a continuation line, garbage, a header with non-numbers).
 */
export function parseKmsgRecord(line: string): KmsgRecord | null {
  const semi = line.indexOf(';');
  // Headers are short: "pri,seq,usec,flags,caller=T123456"; a far ';' is not a header.
  if (semi <= 0 || semi > 80) return null;
  const header = line.slice(0, semi).split(',');
  if (header.length < 4) return null;
  const pri = uint(header[0]);
  const seq = uint(header[1]);
  const usec = uint(header[2]);
  if (pri === null || seq === null || usec === null) return null;
  const flags = header[3];
  if (flags.length === 0 || flags.length > 4) return null;
  let caller: string | null = null;
  for (let i = 4; i < header.length; i++) {
    if (header[i].startsWith('caller=')) caller = header[i].slice(7);
  }
  let end = line.length;
  if (end > semi && line.charCodeAt(end - 1) === 10) end--;
  const text = unescapeKmsg(line.slice(semi + 1, end));
  return { pri, level: pri & 7, facility: pri >> 3, seq, usec, flags, caller, text };
}

/** The task id in a record's `caller=T123` field (CONFIG_PRINTK_CALLER), else `null`. */
export function callerTid(record: Pick<KmsgRecord, 'caller'>): number | null {
  const c = record.caller;
  return c?.startsWith('T') ? uint(c.slice(1)) : null;
}

/** What a WARN banner says. Fields the banner format does not carry are `null`. */
export interface WarnBanner {
  /** `old`: `WARNING: CPU: 1 PID: 42 at file:line func` (up to ~6.18); `new`: `WARNING: file:line at func, CPU#1: comm/pid`. */
  readonly format: 'old' | 'new';
  readonly cpu: number | null;
  /** The task id the kernel prints as PID (a thread id for multi-threaded processes). */
  readonly pid: number | null;
  readonly comm: string | null;
  readonly file: string | null;
  readonly line: number | null;
  /** `kfree+0x1/0x2` or `kt_warn_init+0x11/0x1000 [kt_warn]`. */
  readonly func: string | null;
  /** The condition in brackets of `WARNING: [cond] file:line at …`. */
  readonly condition: string | null;
}

/** Reads the digits at `s[i…]`: [value, end index], or null when there is no digit. */
function digitsAt(s: string, i: number): [number, number] | null {
  let j = i;
  while (j < s.length && j - i < 16 && isDigit(s.charCodeAt(j))) j++;
  if (j === i) return null;
  return [Number(s.slice(i, j)), j];
}

/** `file:line` → [file, line] when the part after the last ':' is a number. */
function fileLine(s: string): [string, number] | null {
  const colon = s.lastIndexOf(':');
  if (colon <= 0) return null;
  const n = uint(s.slice(colon + 1));
  return n === null ? null : [s.slice(0, colon), n];
}

/** Splits `at`-part `file:line func [mod]` (old banner) into file/line and function. */
function splitOldSite(rest: string): { file: string | null; line: number | null; func: string | null } {
  let r = rest.trim();
  if (r.endsWith('()')) r = r.slice(0, -2); // 2.6/3.x printed "func+0x1/0x2()"
  // The function is the last word, or the last two when the module is named: "f+0x1/0x2 [mod]".
  let funcStart = r.lastIndexOf(' ');
  if (r.endsWith(']') && funcStart > 0 && r.charCodeAt(funcStart + 1) === 91) {
    funcStart = r.lastIndexOf(' ', funcStart - 1);
  }
  const func = r.slice(funcStart + 1);
  const head = funcStart > 0 ? r.slice(0, funcStart).trim() : '';
  const fl = head.length > 0 ? fileLine(head) : null;
  if (fl) return { file: fl[0], line: fl[1], func: func || null };
  return { file: null, line: null, func: func || null };
}

/** Splits `comm/pid` on the last `/` (comm may hold `/`, spaces and parentheses). */
export function splitCommPid(s: string, sep = '/'): { comm: string; pid: number } | null {
  const slash = s.lastIndexOf(sep);
  if (slash < 0) return null;
  const pid = uint(s.slice(slash + 1).trim());
  if (pid === null) return null;
  return { comm: s.slice(0, slash), pid };
}

/**
 * Parses a WARN banner, either format:
 * - `WARNING: CPU: 1 PID: 42 at mm/slub.c:123 kfree+0x1/0x2` (up to about 6.18; also the
 *   2.6-era `WARNING: at mm/slub.c:123 kfree+0x1/0x2()`);
 * - `WARNING: arch/x86/kernel/cpu/bugs.c:3736 at __warn_thunk+0x10/0x20, CPU#1: (udev-worker)/728`,
 *   `WARNING: at func+0x1/0x2, CPU#0: swapper/0`, and the condition-first
 *   `WARNING: [ptr == 0 && 1] kernel/sched/core.c:8511 at sched_init+0x20/0x410 CPU#0: swapper/0`.
 * Returns `null` for any other line, including other `WARNING:` texts
 * (`WARNING: possible circular locking dependency detected`).
 */
export function parseWarnBanner(text: string): WarnBanner | null {
  if (!text.startsWith('WARNING: ')) return null;
  const rest = text.slice(9);
  if (rest.startsWith('CPU: ')) {
    const cpu = digitsAt(rest, 5);
    if (!cpu || !rest.startsWith(' PID: ', cpu[1])) return null;
    const pid = digitsAt(rest, cpu[1] + 6);
    if (!pid || !rest.startsWith(' at ', pid[1])) return null;
    const site = splitOldSite(rest.slice(pid[1] + 4));
    return { format: 'old', cpu: cpu[0], pid: pid[0], comm: null, ...site, condition: null };
  }
  // New banner: "... CPU#<n>: <comm>/<pid>". The first " CPU#<digits>: " that
  // follows an " at " is the separator: the comm after it may hold anything.
  let cpuAt = -1;
  let cpu: [number, number] | null = null;
  for (let i = rest.indexOf('CPU#'); i !== -1; i = rest.indexOf('CPU#', i + 4)) {
    if (i === 0 || rest.charCodeAt(i - 1) !== 32) continue;
    const d = digitsAt(rest, i + 4);
    if (d && rest.startsWith(': ', d[1])) {
      cpuAt = i;
      cpu = d;
      break;
    }
  }
  if (cpu === null) {
    // 2.6/3.x: "WARNING: at mm/slub.c:123 kfree+0x1/0x2()"
    if (rest.startsWith('at ')) {
      const site = splitOldSite(rest.slice(3));
      if (site.func === null) return null;
      return { format: 'old', cpu: null, pid: null, comm: null, ...site, condition: null };
    }
    return null;
  }
  const task = splitCommPid(rest.slice(cpu[1] + 2));
  let left = rest.slice(0, cpuAt).trimEnd();
  if (left.endsWith(',')) left = left.slice(0, -1);
  let atPos: number;
  let before: string;
  if (left.startsWith('at ')) {
    atPos = 0;
    before = '';
  } else {
    atPos = left.lastIndexOf(' at ');
    if (atPos < 0) return null;
    before = left.slice(0, atPos).trim();
  }
  const func = left.slice(atPos === 0 && before === '' && left.startsWith('at ') ? 3 : atPos + 4).trim() || null;
  let condition: string | null = null;
  let fileText = before;
  if (before.startsWith('[')) {
    const close = before.lastIndexOf(']');
    if (close > 0) {
      condition = before.slice(1, close);
      fileText = before.slice(close + 1).trim();
    }
  }
  const fl = fileText.length > 0 ? fileLine(fileText) : null;
  return {
    format: 'new',
    cpu: cpu[0],
    pid: task?.pid ?? null,
    comm: task?.comm ?? null,
    file: fl ? fl[0] : null,
    line: fl ? fl[1] : null,
    func,
    condition,
  };
}

/** The task line of an oops/WARN report: `CPU: 0 [UID: 0] PID: 119 Comm: insmod Tainted: …`. */
export function parseTaskLine(text: string): { cpu: number; pid: number; comm: string } | null {
  if (!text.startsWith('CPU: ')) return null;
  const cpu = digitsAt(text, 5);
  if (!cpu) return null;
  let i = cpu[1];
  if (text.startsWith(' UID: ', i)) {
    const uid = digitsAt(text, i + 6);
    if (!uid) return null;
    i = uid[1];
  }
  if (!text.startsWith(' PID: ', i)) return null;
  const pid = digitsAt(text, i + 6);
  if (!pid || !text.startsWith(' Comm: ', pid[1])) return null;
  const tail = text.slice(pid[1] + 7);
  let end = tail.lastIndexOf(' Tainted: ');
  if (end < 0) end = tail.lastIndexOf(' Not tainted');
  if (end < 0) end = tail.length;
  return { cpu: cpu[0], pid: pid[0], comm: tail.slice(0, end) };
}

/** What one kernel log line says about a taint. */
export interface KmsgLineCause {
  /** Mainline flag names the line explains (`OOT_MODULE`, `WARN`…): resolve them in the profile. */
  readonly flags: readonly string[];
  readonly cause: TaintCause;
  /** The task the line names (`via: 'kmsg'`), else `null`. */
  readonly actor: TaintActor | null;
}

/** `line` cut to at most MAX_CAUSE_LINE UTF-8 bytes, never inside a character. */
function cut(line: string): string {
  // Escapes are decoded, so a record may hold multi-byte characters: count bytes, not code units.
  if (line.length <= MAX_CAUSE_LINE / 3) return line;
  let bytes = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    let n: number;
    if (c < 0x80) n = 1;
    else if (c < 0x800) n = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < line.length) {
      const d = line.charCodeAt(i + 1);
      n = d >= 0xdc00 && d <= 0xdfff ? 4 : 3;
    } else n = 3; // BMP, or a lone surrogate (written as U+FFFD, 3 bytes)
    if (bytes + n > MAX_CAUSE_LINE) return line.slice(0, i);
    bytes += n;
    if (n === 4) i++;
  }
  return line;
}

function task(kind: TaintActor['kind'], tid: number | null, comm: string | null): TaintActor {
  // The kernel prints task ids (task->pid): for a thread that is the tid, so
  // `pid` (the process) is left unknown rather than guessed.
  return { kind, pid: null, tid, comm, via: 'kmsg' };
}

/** The module name of `name: message` lines (dev_printk-free module loader lines). */
function modulePrefix(text: string, at: number): string | null {
  const name = text.slice(0, at);
  if (name.length === 0 || name.length > 64 || name.indexOf(' ') !== -1) return null;
  return name;
}

const MODULE_LINES: ReadonlyArray<{ tail: string; flag: string; exact?: boolean }> = [
  { tail: ': loading out-of-tree module taints kernel.', flag: 'OOT_MODULE' },
  { tail: ': module license taints kernel.', flag: 'PROPRIETARY_MODULE' },
  {
    tail: ': module verification failed: signature and/or required key missing - tainting kernel',
    flag: 'UNSIGNED_MODULE',
  },
  { tail: ': module is from the staging directory, the quality is unknown, you have been warned.', flag: 'CRAP' },
  { tail: ': tainting kernel with TAINT_LIVEPATCH', flag: 'LIVEPATCH' },
  { tail: ': loading test module taints kernel.', flag: 'TEST' },
];

function moduleCause(text: string, tid: number | null): KmsgLineCause | null {
  for (const m of MODULE_LINES) {
    if (!text.endsWith(m.tail)) continue;
    const name = modulePrefix(text, text.length - m.tail.length);
    if (name === null) continue;
    if (m.flag === 'LIVEPATCH' && name === 'livepatch') {
      // Older kernels print it from the livepatch core when a patch is enabled ("livepatch: " is the
      // core's prefix, not a module): which patch module is not on this line.
      return {
        flags: [m.flag],
        cause: { kind: 'module', line: cut(text) },
        actor: tid === null ? null : task('process', tid, null),
      };
    }
    const module: NonNullable<TaintCause['module']> = { name, letters: '' };
    if (m.flag === 'OOT_MODULE') module.intree = false;
    if (m.flag === 'UNSIGNED_MODULE') module.signed = false;
    return {
      flags: [m.flag],
      cause: { kind: 'module', module, line: cut(text) },
      actor: tid === null ? null : task('process', tid, null),
    };
  }
  // "%s: module license '%s' taints kernel."
  const lic = text.indexOf(": module license '");
  if (lic > 0 && text.endsWith("' taints kernel.")) {
    const name = modulePrefix(text, lic);
    if (name !== null) {
      const license = text.slice(lic + 18, text.length - 16);
      return {
        flags: ['PROPRIETARY_MODULE'],
        cause: { kind: 'module', module: { name, letters: '', license }, line: cut(text) },
        actor: tid === null ? null : task('process', tid, null),
      };
    }
  }
  // "%s: module uses symbols %s from proprietary module %s, inheriting taint."
  const uses = text.indexOf(': module uses symbols ');
  if (uses > 0 && text.endsWith(', inheriting taint.')) {
    const name = modulePrefix(text, uses);
    if (name !== null) {
      return {
        flags: ['PROPRIETARY_MODULE'],
        cause: { kind: 'module', module: { name, letters: '' }, line: cut(text) },
        actor: tid === null ? null : task('process', tid, null),
      };
    }
  }
  return null;
}

/** `... [#1] ...` after `: <hex>`: the die() header of an oops (x86 `Oops: 0002 [#1] SMP`, arm64 `Internal error: Oops: 96000004 [#1]`). */
function isOopsHeader(text: string): boolean {
  const mark = text.indexOf(' [#');
  if (mark < 3) return false;
  const n = digitsAt(text, mark + 3);
  if (!n || text.charCodeAt(n[1]) !== 93) return false;
  // Hex digits back to ": ".
  let i = mark - 1;
  while (i >= 0 && hexValue(text.charCodeAt(i)) >= 0) i--;
  return i < mark - 1 && i >= 1 && text.charCodeAt(i) === 32 && text.charCodeAt(i - 1) === 58;
}

/** The TAINT_<NAME> a line names, e.g. "tainting kernel with TAINT_LIVEPATCH". */
function taintName(text: string): string | null {
  const i = text.indexOf('TAINT_');
  if (i < 0) return null;
  let j = i + 6;
  while (j < text.length) {
    const c = text.charCodeAt(j);
    if ((c >= 65 && c <= 90) || c === 95 || isDigit(c)) j++;
    else break;
  }
  return j > i + 6 ? text.slice(i + 6, j) : null;
}

/**
 * What a kernel log line (the record text, prefix stripped) says about a taint:
 * the flags it explains, the cause and, when the line names it, the task.
 * `tid` is the record's caller task id (`caller=T123`), when the kernel logs it.
 * Returns `null` for lines that explain no taint bit.
 *
 * @example
 * kmsgLineCause('kt_prop: loading out-of-tree module taints kernel.')
 * // { flags: ['OOT_MODULE'], cause: { kind: 'module', module: { name: 'kt_prop', letters: '', intree: false }, … }, actor: null }
 */
export function kmsgLineCause(text: string, tid: number | null = null): KmsgLineCause | null {
  if (text.length === 0) return null;
  // WARN (W): both banners.
  if (text.startsWith('WARNING: ')) {
    const w = parseWarnBanner(text);
    if (w) {
      const site = w.file !== null ? `${w.file}:${w.line}` : (w.func ?? undefined);
      const cause: TaintCause = { kind: 'warning', line: cut(text) };
      if (site !== undefined) cause.site = site;
      const actor = w.pid !== null || w.comm !== null ? task('incidental', w.pid, w.comm) : null;
      return { flags: ['WARN'], cause, actor };
    }
    // "WARNING: This combination of AMD processors is not suitable for SMP." (S)
    if (text.indexOf('not suitable for SMP') !== -1) {
      return { flags: ['CPU_OUT_OF_SPEC'], cause: { kind: 'other', line: cut(text) }, actor: null };
    }
    return null;
  }
  const mod = text.indexOf(': ') > 0 ? moduleCause(text, tid) : null;
  if (mod) return mod;
  // __schedule_bug sets W: "BUG: scheduling while atomic: comm/pid/0x00000002"
  if (text.startsWith('BUG: scheduling while atomic: ')) {
    const rest = text.slice(30);
    const lastSlash = rest.lastIndexOf('/');
    const t = lastSlash > 0 ? splitCommPid(rest.slice(0, lastSlash)) : null;
    return {
      flags: ['WARN'],
      cause: { kind: 'warning', site: 'scheduling while atomic', line: cut(text) },
      actor: t ? task('incidental', t.pid, t.comm) : null,
    };
  }
  // L: "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [comm:pid]"
  const lockup = text.indexOf('BUG: soft lockup - CPU#');
  if (lockup !== -1) {
    let actor: TaintActor | null = null;
    const open = text.indexOf('! [', lockup);
    if (open !== -1 && text.endsWith(']')) {
      const t = splitCommPid(text.slice(open + 3, -1), ':');
      if (t) actor = task('incidental', t.pid, t.comm);
    }
    return { flags: ['SOFTLOCKUP'], cause: { kind: 'soft-lockup', line: cut(text) }, actor };
  }
  // B: "BUG: Bad page state in process comm  pfn:1234", "BUG: Bad page map in process comm  pte:…"
  // (two spaces before the field; copies with the whitespace collapsed have one).
  for (const [head, field] of [
    ['BUG: Bad page state in process ', ' pfn:'],
    ['BUG: Bad page map in process ', ' pte:'],
  ]) {
    const at = text.indexOf(head);
    if (at === -1) continue;
    const rest = text.slice(at + head.length);
    const end = rest.lastIndexOf(field);
    const comm = (end === -1 ? rest : rest.slice(0, end)).trimEnd();
    return {
      flags: ['BAD_PAGE'],
      cause: { kind: 'bad-page', line: cut(text) },
      actor: comm.length > 0 ? task('incidental', null, comm) : null,
    };
  }
  // B from the memory error detectors: "BUG: KASAN: …", "BUG: KFENCE: …"
  if (text.startsWith('BUG: KASAN: ') || text.startsWith('BUG: KFENCE: ')) {
    const site = text.slice(text.indexOf(': ', 5) + 2);
    const cause: TaintCause = { kind: 'bad-page', line: cut(text) };
    const inAt = site.lastIndexOf(' in ');
    if (inAt !== -1) cause.site = site.slice(inAt + 4);
    return { flags: ['BAD_PAGE'], cause, actor: null };
  }
  // D: the die() header.
  if (isOopsHeader(text)) {
    return { flags: ['DIE'], cause: { kind: 'oops', line: cut(text) }, actor: null };
  }
  // M: "mce: [Hardware Error]: Machine check events logged", "Machine check: …"
  if (text.indexOf('Machine check') !== -1 || text.indexOf('Machine Check') !== -1) {
    return {
      flags: ['MACHINE_CHECK'],
      cause: { kind: 'machine-check', line: cut(text) },
      actor: { kind: 'hardware', pid: null, tid: null, comm: null, via: 'kmsg' },
    };
  }
  // U
  if (text.startsWith('Setting dangerous option ') && text.endsWith(' - tainting kernel')) {
    return {
      flags: ['USER'],
      cause: { kind: 'user-write', site: text.slice(25, -18), line: cut(text) },
      actor: tid === null ? null : task('process', tid, null),
    };
  }
  const noiommu = text.indexOf('Adding kernel taint for vfio-noiommu group on device');
  if (noiommu !== -1) {
    const cause: TaintCause = { kind: 'user-write', line: cut(text) };
    if (noiommu > 2) cause.site = text.slice(0, noiommu - 2);
    return { flags: ['USER'], cause, actor: tid === null ? null : task('process', tid, null) };
  }
  const cfg = text.indexOf(': Unexpected write to kernel-exclusive config offset ');
  if (cfg !== -1) {
    // pci_warn_once(dev, "%s: Unexpected write …", current->comm): "<drv> <dev>: <comm>: Unexpected …"
    const head = text.slice(0, cfg);
    const sep = head.indexOf(': ');
    const comm = sep === -1 ? head : head.slice(sep + 2);
    const cause: TaintCause = { kind: 'user-write', line: cut(text) };
    if (sep !== -1) cause.site = head.slice(0, sep);
    return { flags: ['USER'], cause, actor: task('process', tid, comm) };
  }
  // A: "ACPI: Override [DSDT-  Table], this is unsafe: tainting kernel"
  if (text.indexOf('Override [') !== -1 && text.endsWith('this is unsafe: tainting kernel')) {
    return {
      flags: ['OVERRIDDEN_ACPI_TABLE'],
      cause: { kind: 'firmware', line: cut(text) },
      actor: { kind: 'boot', pid: null, tid: null, comm: null, via: 'kmsg' },
    };
  }
  // X (AUX): btrfs RAID5/6 mounts ("btrfs RAID5/6 is EXPERIMENTAL and has known data-loss bugs"),
  // fanotify permission marks, RHEL's "TECH PREVIEW: %s may not be fully supported."
  if (text.indexOf('RAID5/6 is EXPERIMENTAL') !== -1) {
    return { flags: ['AUX'], cause: { kind: 'other', site: 'btrfs RAID5/6', line: cut(text) }, actor: null };
  }
  if (text.startsWith('TECH PREVIEW: ')) {
    const end = text.indexOf(' may not be fully supported');
    const cause: TaintCause = { kind: 'other', line: cut(text) };
    if (end > 14) cause.site = text.slice(14, end);
    return { flags: ['AUX'], cause, actor: null };
  }
  const fan = text.indexOf('fanotify');
  if (fan !== -1 && text.indexOf('permission', fan) !== -1) {
    return {
      flags: ['AUX'],
      cause: { kind: 'other', site: 'fanotify permission events', line: cut(text) },
      actor: null,
    };
  }
  // Anything else that names its flag: "...: tainting kernel with TAINT_<NAME>".
  if (text.indexOf('taint') !== -1) {
    const name = taintName(text);
    if (name !== null) return { flags: [name], cause: { kind: 'other', line: cut(text) }, actor: null };
  }
  return null;
}

// Node guest for the real-kernel tests: runs inside the QEMU guest (initramfs /test/guest.mjs),
// exercises the package under test from /pkg against the live kernel and reports "KT {json}"
// records on $KT_OUT (the second serial port), one writeSync per record.
//
// It reports raw observations; the host (test/kernel/kernel.test.ts) decides pass/fail:
//   {t:"node-load"}      which entry points loaded, exports present
//   {t:"node-read"}      readTaintValue()/readTaint() vs the file, at boot
//   {t:"node-event"}     one watchTaint 'change' event: what caused it, added letters, trigger, latency
//   {t:"node-modules"}   readModuleTaints() vs /sys/module/*/taint
//   {t:"node-step"}      after a write + sysrq-l: kernel header/verbose lines vs formatTaint/parseTaint/decodeTaint
//   {t:"node-close"}     watcher closed, no event after close
//   {t:"node-done"}
// Skips with {"t":"node","skip":"package not built"} when /pkg/dist is absent.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';

const TAINTED = '/proc/sys/kernel/tainted';
const outPath = process.env.KT_OUT || '/dev/console';
const out = fs.openSync(outPath, 'w');
const emit = (obj) => fs.writeSync(out, `KT ${JSON.stringify(obj)}\n`);
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const readFileValue = () => Number(fs.readFileSync(TAINTED, 'utf8').trim());
const release = fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
const cmdline = fs.readFileSync('/proc/cmdline', 'utf8');
const arg = (name) => (cmdline.match(new RegExp(`(?:^|\\s)${name.replace('.', '\\.')}=(\\S+)`)) || [])[1];
const errInfo = (e) => ({ name: e?.name, code: e?.code, message: String(e?.message ?? e) });

function dmesgClear() {
  try {
    return execFileSync('dmesg', ['-c'], { encoding: 'utf8' });
  } catch {
    return '';
  }
}
/** The Tainted lines of the log since the last clear, without the "[ time]" prefix. */
function taintLines(text) {
  return text
    .split('\n')
    .filter((l) => /Tainted|Not tainted/.test(l))
    .map((l) => l.replace(/^\[\s*[\d.]+\]\s?/, ''));
}
/** "Tainted: ..." / "Not tainted" exactly as printed between "Comm: x " and " <release>". */
function headerOf(lines) {
  for (const l of lines) {
    if (!/ Comm: /.test(l)) continue;
    const m = /(Not tainted.*|Tainted: .*)$/.exec(l);
    if (!m) continue;
    let s = m[1];
    const at = s.indexOf(` ${release}`);
    if (at >= 0) s = s.slice(0, at);
    return s;
  }
  return null;
}
const verboseOf = (lines) => lines.find((l) => /^Tainted: \[/.test(l)) ?? null;

/** added/current/previous may be TaintFlag[] / TaintState / number / letters: normalise. */
function lettersOf(x) {
  if (x == null) return null;
  if (typeof x === 'string') return x;
  if (typeof x === 'number') return `#${x}`;
  if (Array.isArray(x)) return x.map((f) => (typeof f === 'object' ? (f.letter ?? `#${f.bit}`) : String(f))).join('');
  if (typeof x.letters === 'string') return x.letters;
  return JSON.stringify(x);
}
const numberOf = (x) => (x == null ? null : typeof x === 'number' ? x : typeof x.value === 'number' ? x.value : null);

async function loadPackage() {
  const info = { esm: false, cjs: false, error: null };
  let api = null;
  try {
    api = await import('/pkg/dist/index.mjs');
    info.esm = true;
  } catch (e) {
    info.error = errInfo(e);
  }
  try {
    const cjs = createRequire('/pkg/package.json')('/pkg/dist/index.cjs');
    info.cjs = typeof cjs.formatTaint === 'function';
    api ??= cjs;
  } catch (e) {
    info.cjsError = errInfo(e);
  }
  return { api, info };
}

async function main() {
  if (!fs.existsSync('/pkg/dist')) {
    emit({ t: 'node', skip: 'package not built' });
    return;
  }
  const { api, info } = await loadPackage();
  const exportsSeen = api ? Object.keys(api).sort() : [];
  let supported = null;
  try {
    supported = typeof api?.isSupported === 'function' ? api.isSupported() : null;
  } catch (e) {
    supported = errInfo(e);
  }
  emit({ t: 'node-load', ...info, exports: exportsSeen, supported, node: process.version, uptime: process.uptime() });
  if (!api) return;

  // ---- reads at boot --------------------------------------------------------------------------
  const rec = { t: 'node-read', file: readFileValue() };
  try {
    rec.readTaintValue = api.readTaintValue();
    rec.readTaintValuePath = api.readTaintValue({ path: TAINTED });
    const st = api.readTaint();
    rec.readTaint = { value: st.value, letters: st.letters, tainted: st.tainted, text: String(st) };
  } catch (e) {
    rec.error = errInfo(e);
  }
  emit(rec);

  // ---- watcher ----------------------------------------------------------------------------------
  const events = [];
  let watcher = null;
  let closed = false;
  let afterClose = 0;
  if (typeof api.watchTaint === 'function') {
    try {
      watcher = api.watchTaint({});
      watcher.on('change', (ev) => {
        if (closed) afterClose++;
        events.push({ at: now(), ev });
      });
      watcher.on('error', (e) => emit({ t: 'node-error', where: 'watchTaint', error: errInfo(e) }));
    } catch (e) {
      emit({ t: 'node-error', where: 'watchTaint', error: errInfo(e) });
      watcher = null;
    }
  } else {
    emit({ t: 'node-event', skip: 'watchTaint not exported' });
  }
  await sleep(300); // let the watcher arm (inotify/uevent socket/first poll)

  /** Run an action, then wait for the first event that arrives after it. */
  async function expectEvent(cause, expectLetters, action, timeoutMs = 15000) {
    const seen = events.length;
    const before = readFileValue();
    const t0 = now();
    let actionResult = null;
    try {
      actionResult = action();
    } catch (e) {
      actionResult = errInfo(e);
    }
    // The action is synchronous (insmod, a write): JS can only see the event
    // once it returned, so latency is reported both from the start of the
    // action and from its return.
    const tReturn = now();
    const after = readFileValue();
    const r = { t: 'node-event', cause, expectLetters, before, after, action: actionResult };
    if (!watcher) {
      emit({ ...r, skip: 'no watcher' });
      return;
    }
    while (events.length === seen && now() - t0 < timeoutMs) await sleep(5);
    if (events.length === seen) {
      emit({ ...r, timeout: true, waitedMs: Math.round(now() - t0) });
      return;
    }
    await sleep(50); // collect a burst (e.g. two triggers for one change)
    const got = events.slice(seen);
    const { ev, at } = got[0];
    emit({
      ...r,
      added: lettersOf(ev.added),
      trigger: ev.trigger ?? null,
      current: numberOf(ev.current),
      previous: numberOf(ev.previous),
      latencyMs: Math.round((at - t0) * 10) / 10,
      afterReturnMs: Math.round((at - tReturn) * 10) / 10,
      extraEvents: got.length - 1,
    });
  }

  const modDir = `/lib/kt-modules/${release}`;
  const haveModules = fs.existsSync(modDir);
  if (haveModules) {
    for (const [m, letters] of [
      ['kt_gpl', 'OE'],
      ['kt_prop', 'P'],
      ['kt_warn', 'W'],
    ]) {
      await expectEvent(`insmod ${m}`, letters, () => {
        const r = spawnSync('insmod', [`${modDir}/${m}.ko`], { encoding: 'utf8' });
        return { rc: r.status, stderr: r.stderr.trim() };
      });
    }
  }
  // A userspace write (U, bit 6: not in any oracle chain and not set by the modules).
  await expectEvent('write U', 'U', () => {
    fs.writeFileSync(TAINTED, '64');
    return null;
  });

  // ---- module taints ------------------------------------------------------------------------------
  if (typeof api.readModuleTaints === 'function') {
    const sysfs = {};
    for (const m of fs.readdirSync('/sys/module')) {
      try {
        const s = fs.readFileSync(`/sys/module/${m}/taint`, 'utf8').trim();
        if (s) sysfs[m] = s;
      } catch {}
    }
    const r = { t: 'node-modules', sysfs, haveModules };
    try {
      const res = api.readModuleTaints();
      const list =
        res instanceof Map
          ? [...res].map(([name, v]) => ({ name, ...(typeof v === 'object' ? v : { letters: v }) }))
          : Array.isArray(res)
            ? res
            : Object.entries(res ?? {}).map(([name, v]) => ({ name, ...(typeof v === 'object' ? v : { letters: v }) }));
      r.lib = Object.fromEntries(
        list.map((x) => [
          x.name ?? x.module,
          typeof x.letters === 'string' ? x.letters : lettersOf(x.flags ?? x.state ?? x.taint),
        ]),
      );
    } catch (e) {
      r.error = errInfo(e);
    }
    emit(r);
  } else {
    emit({ t: 'node-modules', skip: 'readModuleTaints not exported' });
  }

  // ---- close ------------------------------------------------------------------------------------
  if (watcher) {
    let closeError = null;
    try {
      watcher.close();
    } catch (e) {
      closeError = errInfo(e);
    }
    closed = true;
    fs.writeFileSync(TAINTED, '2'); // F: must not produce an event after close()
    await sleep(1500);
    emit({ t: 'node-close', closeError, afterClose, totalEvents: events.length });
  }

  // ---- formatting / parsing against what the live kernel prints ----------------------------------
  const values = (arg('kt.values') || '0,1,4097,12289').split(',').map(Number);
  dmesgClear();
  for (const v of values) {
    fs.writeFileSync(TAINTED, String(v));
    const t = readFileValue();
    fs.writeFileSync('/proc/sysrq-trigger', 'l');
    const lines = taintLines(dmesgClear());
    const kernelHeader = headerOf(lines);
    const kernelVerbose = verboseOf(lines);
    const r = { t: 'node-step', wrote: v, tainted: t, kernelHeader, kernelVerbose };
    const tryIt = (k, f) => {
      try {
        r[k] = f();
      } catch (e) {
        r[k] = { error: errInfo(e) };
      }
    };
    tryIt('readTaintValue', () => api.readTaintValue());
    tryIt('readTaint', () => api.readTaint().value);
    tryIt('format', () => api.formatTaint(t, { kernel: release }));
    if (kernelVerbose !== null) tryIt('formatVerbose', () => api.formatTaint(t, { kernel: release, verbose: true }));
    tryIt('decode', () => {
      const s = api.decodeTaint(t);
      return { value: s.value, letters: s.letters };
    });
    if (kernelHeader !== null) {
      const full = lines.find((l) => / Comm: /.test(l));
      tryIt('parseHeader', () => api.parseTaint(full)?.value ?? null);
    }
    if (kernelVerbose !== null) tryIt('parseVerbose', () => api.parseTaint(kernelVerbose)?.value ?? null);
    emit(r);
  }
  emit({ t: 'node-done', uptime: process.uptime(), rssMb: Math.round(process.memoryUsage().rss / 1048576) });
}

main()
  .catch((e) => emit({ t: 'node-error', where: 'main', error: errInfo(e), stack: String(e?.stack ?? '') }))
  .finally(() => {
    fs.closeSync(out);
    process.exit(0);
  });

// Drives the raw watch API (watchAdd/watchRemove/watchRef/watchUnref/
// watchStats) through its thread, delivery, error and teardown paths, for
// sanitizer and valgrind runs of the addon:
//   LD_PRELOAD=$(g++ -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \
//     node test/native/exercise-watch.cjs build-asan/Debug/kernel_taint.node
// Exits 0 when every check passed. Workers load the same binary.
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const pad = (v) => `${String(v).padStart(10, '0')}\n`;
function put(file, v) {
  const fd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w+');
  fs.writeSync(fd, pad(v), 0);
  fs.closeSync(fd);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(check, what, ms = 5000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(2);
  }
}
const ALL = ['inotify', 'uevent', 'kmsg', 'counter', 'poll'];
const isRoot = process.getuid?.() === 0;
// Writing /dev/kmsg puts lines in the host's kernel log: only where that is
// allowed (a QEMU guest, a throwaway machine).
const kmsgWrites = process.env.KT_KMSG_WRITE === '1';

async function main() {
  const bin = path.resolve(process.argv[2]);
  const addon = require(bin);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kt-exercise-'));
  const file = path.join(dir, 'tainted');
  const warn = path.join(dir, 'warn_count');
  let checks = 0;
  const check = (fn) => {
    fn();
    checks++;
  };
  try {
    put(file, 0);
    put(warn, 0);
    // Argument validation: TypeErrors, never crashes.
    for (const args of [
      [],
      [{}],
      [{ path: file }, () => {}],
      [{ path: file, triggers: ['x'], interval: 0 }, () => {}],
    ]) {
      check(() => assert.throws(() => addon.watchAdd(...args), TypeError));
    }
    check(() => assert.throws(() => addon.watchAdd({ path: file, triggers: [], interval: -1 }, () => {}), TypeError));
    check(() =>
      assert.throws(
        () => addon.watchAdd({ path: file, triggers: [], interval: 0, counterPaths: 'x' }, () => {}),
        TypeError,
      ),
    );
    check(() => assert.throws(() => addon.watchRemove('x'), TypeError));
    check(() => assert.equal(addon.watchRemove(987654), false));
    check(() =>
      assert.equal(addon.watchAdd({ path: path.join(dir, 'nope'), triggers: ALL, interval: 5 }, () => {}).errno, 2),
    );
    check(() => assert.equal(addon.watchAdd({ path: dir, triggers: ALL, interval: 5 }, () => {}).errno, 21));
    // A FIFO is refused at once (opening it for reading would block, reading it too).
    const fifo = path.join(dir, 'fifo');
    require('node:child_process').execFileSync('mkfifo', [fifo]);
    check(() =>
      assert.deepEqual(
        { ...addon.watchAdd({ path: fifo, triggers: ALL, interval: 5 }, () => {}) },
        { errno: 0, syscall: 'open', path: fifo, reason: 'type', content: 'fifo' },
      ),
    );
    check(() =>
      assert.throws(() => addon.watchAdd({ path: `${file}\0x`, triggers: ALL, interval: 5 }, () => {}), TypeError),
    );
    check(() =>
      assert.throws(() => addon.watchAdd({ path: file, triggers: ALL, interval: 5, mask: -1 }, () => {}), TypeError),
    );
    check(() =>
      assert.deepEqual(addon.parseText('0'.repeat(40)), {
        errno: 0,
        syscall: 'read',
        path: '',
        reason: 'long',
        content: '0'.repeat(32),
      }),
    );
    check(() => assert.equal(addon.watchStats().running, false));

    // Deliveries from every trigger.
    const got = [];
    const w = addon.watchAdd({ path: file, triggers: ALL, interval: 20, counterPaths: [warn] }, (t, v, _reported, c) =>
      got.push([t, v, c?.kmsg?.line ?? null]),
    );
    check(() => assert.equal(w.value, 0));
    addon.watchRef();
    put(file, 512);
    await until(() => got.length === 1, 'inotify delivery');
    // Under valgrind the poll timer can win the race with inotify.
    check(() => assert.ok(['inotify', 'poll'].includes(got[0][0]) && got[0][1] === 512));
    check(() => assert.equal(got[0][2], null));
    const poll = addon.watchAdd({ path: file, triggers: ['poll'], interval: 5 }, (t, v) => got.push([t, v]));
    const cnt = addon.watchAdd({ path: file, triggers: ['counter'], interval: 5, counterPaths: [warn] }, (t, v) =>
      got.push([t, v]),
    );
    put(file, 4608);
    put(warn, 1);
    await until(() => got.some(([t]) => t === 'counter'), 'counter delivery');
    checks++;
    if (isRoot && !kmsgWrites)
      console.log('watch exercise: kmsg deliveries skipped (set KT_KMSG_WRITE=1 to log test lines)');
    if (isRoot && kmsgWrites) {
      const u = addon.watchAdd({ path: file, triggers: ['uevent', 'kmsg'], interval: 0 }, (t, v, _reported, c) =>
        got.push([t, v, c?.kmsg?.line ?? null]),
      );
      put(file, 1);
      fs.writeFileSync('/sys/class/mem/null/uevent', 'change');
      await until(() => got.some(([t, v]) => t === 'uevent' && v === 1), 'uevent delivery');
      put(file, 3);
      const line = 'kernel-taint exercise (not a real event): taints kernel';
      fs.writeFileSync('/dev/kmsg', `${line}\n`);
      await until(() => got.some(([t, v]) => t === 'kmsg' && v === 3), 'kmsg delivery');
      check(() => assert.equal(got.find(([t, v]) => t === 'kmsg' && v === 3)[2], line));
      addon.watchRemove(u.id);
      // The line goes with a change another trigger notices; cut at 512 bytes.
      const kgot = [];
      const k = addon.watchAdd({ path: file, triggers: ['kmsg', 'inotify'], interval: 0 }, (t, v, _reported, c) =>
        kgot.push([t, v, c?.kmsg?.line ?? null]),
      );
      const long = `<4>kernel-taint exercise (not a real event): WARNING: CPU: 0 PID: 1 at x.c:1 ${'y'.repeat(700)}`;
      for (const [value, text] of [
        [5, long],
        [6, null],
      ]) {
        const before = addon.watchStats().kmsgMatches;
        if (text) fs.writeFileSync('/dev/kmsg', `${text}\n`);
        await until(() => !text || addon.watchStats().kmsgMatches > before, 'kmsg drained');
        put(file, value);
        await until(() => kgot.some(([, v]) => v === value), 'inotify delivery with the kmsg line');
      }
      check(() => assert.deepEqual(kgot[0], ['inotify', 5, long.slice(3, 3 + 512)]));
      check(() => assert.deepEqual(kgot[1], ['inotify', 6, null]));
      addon.watchRemove(k.id);
      checks += 2;
    }
    // Errors: vanished file, then a directory in its place, then recovery.
    fs.unlinkSync(file);
    await until(() => got.some(([, v]) => typeof v === 'object' && v.errno === 2), 'ENOENT');
    fs.mkdirSync(file);
    await until(() => got.some(([, v]) => typeof v === 'object' && v.errno === 21), 'EISDIR');
    fs.rmdirSync(file);
    put(file, 7);
    await until(() => got.some(([, v]) => v === 7), 'recovery');
    fs.writeFileSync(file, 'garbage');
    await until(() => got.some(([, v]) => typeof v === 'object' && v.reason === 'invalid'), 'invalid content');
    // Replaced by a FIFO: reported, the thread is not stuck in open()/read().
    fs.unlinkSync(file);
    require('node:child_process').execFileSync('mkfifo', [file]);
    await until(() => got.some(([, v]) => typeof v === 'object' && v.reason === 'type'), 'fifo in place of the file');
    fs.unlinkSync(file);
    put(file, 0);
    await until(() => got.some(([, v]) => v === 0), 'recovery from the fifo');
    checks += 4;
    // Remove from inside a delivery: itself and the others, the last one joins the thread.
    const ids = [w.id, poll.id, cnt.id];
    let inside = 0;
    const x = addon.watchAdd({ path: file, triggers: ['inotify'], interval: 0 }, () => {
      inside++;
      for (const id of [...ids, x.id]) addon.watchRemove(id);
    });
    put(file, 9);
    await until(() => inside === 1, 'remove inside a delivery');
    addon.watchUnref();
    check(() => assert.equal(addon.watchStats().running, false));
    // Cycles: cold (thread start/join each time) and warm.
    for (let i = 0; i < 500; i++) {
      const r = addon.watchAdd({ path: file, triggers: ALL, interval: 1 }, () => {});
      addon.watchRemove(r.id);
    }
    const keep = addon.watchAdd({ path: file, triggers: ['poll'], interval: 1 }, () => {});
    for (let i = 0; i < 2000; i++) {
      const r = addon.watchAdd({ path: file, triggers: ALL, interval: 1, counterPaths: [warn] }, () => {});
      addon.watchRemove(r.id);
    }
    addon.watchRemove(keep.id);
    checks += 2;
    // Workers: exit with a watch open, and terminate while changes stream.
    for (let round = 0; round < 6; round++) {
      const wk = new Worker(__filename, { workerData: { bin, file, exit: round % 2 === 1 } });
      let n = 0;
      let started = false;
      wk.on('message', (m) => {
        if (typeof m === 'number') n++;
        else started = true;
      });
      let v = 0;
      const writer = setInterval(() => put(file, ++v % 256), 1);
      // Starting a Worker under valgrind on a loaded machine takes a long
      // time; bound the start and the deliveries separately.
      await until(() => started || round % 2 === 1, 'worker start', 180_000);
      await until(() => n >= 3 || round % 2 === 1, 'worker changes', 30_000);
      if (round % 2 === 0) await wk.terminate();
      else await new Promise((r) => wk.once('exit', r));
      clearInterval(writer);
    }
    checks++;
    // An environment torn down with a watch open and deliveries pending: this
    // process exits with one (the cleanup hook joins the thread).
    const last = addon.watchAdd({ path: file, triggers: ALL, interval: 1 }, () => {});
    check(() => assert.ok(last.id > 0));
    const s = addon.watchStats();
    check(() => assert.ok(s.threadsStarted > 500 && s.reads > 0 && s.deliveries > 0));
    console.log(`watch exercise: ${checks} checks passed`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function worker() {
  // Watch, stream changes to the parent, let it terminate us (or exit with the watch open).
  const addon = require(workerData.bin);
  const r = addon.watchAdd({ path: workerData.file, triggers: ALL, interval: 1 }, (_t, v) => {
    parentPort.postMessage(typeof v === 'number' ? v : -1);
    if (workerData.exit) process.exit(0);
  });
  addon.watchRef();
  parentPort.postMessage(r.id > 0 ? 'ready' : 'failed');
}

if (isMainThread) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  worker();
}

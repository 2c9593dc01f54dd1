// Drives the raw addon through its success and error paths so that the
// sanitizer and valgrind runs (scripts/test-native.sh) see every branch.
// Usage: node test/native/exercise.cjs path/to/kernel_taint.node
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const addon = require(path.resolve(process.argv[2]));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kt-native-'));
const file = path.join(dir, 'tainted');
let checks = 0;
const check = (fn) => {
  fn();
  checks++;
};

try {
  fs.writeFileSync(file, '12289\n');
  const h = addon.openReader(file);
  check(() => assert.equal(typeof h, 'number'));
  check(() => assert.equal(addon.readValue(h), 12289));
  for (const [text, want] of [
    ['0', 0],
    ['4294967295\n', 4294967295],
    ['', 'empty'],
    ['\n', 'empty'],
    ['12a', 'invalid'],
    ['-1', 'invalid'],
    ['4294967296', 'range'],
    ['9'.repeat(64), 'range'],
    ['0'.repeat(64), 'long'],
    [`${'0'.repeat(31)}1`, 1],
    [`${'0'.repeat(32)}1`, 'long'],
  ]) {
    fs.writeFileSync(file, text);
    const got = addon.readValue(h);
    check(() => (typeof want === 'number' ? assert.equal(got, want) : assert.equal(got.reason, want)));
    const parsed = addon.parseText(text);
    check(() => (typeof want === 'number' ? assert.equal(parsed, want) : assert.equal(parsed.reason, want)));
  }
  const missing = addon.openReader(path.join(dir, 'nope'));
  check(() => assert.deepEqual([missing.errno, missing.syscall], [2, 'open']));
  // A directory, a FIFO, a NUL in the path: refused at open, never read.
  check(() => assert.deepEqual({ ...addon.openReader(dir) }, { errno: 21, syscall: 'read', path: dir }));
  const fifo = path.join(dir, 'fifo');
  require('node:child_process').execFileSync('mkfifo', [fifo]);
  check(() =>
    assert.deepEqual(
      { ...addon.openReader(fifo) },
      { errno: 0, syscall: 'open', path: fifo, reason: 'type', content: 'fifo' },
    ),
  );
  check(() => assert.throws(() => addon.openReader(`${file}\0x`), TypeError));
  // A file replaced behind a kept handle: the handle reads the new file.
  fs.writeFileSync(file, '5');
  const kept = addon.openReader(file);
  fs.writeFileSync(`${file}.new`, '6');
  fs.renameSync(`${file}.new`, file);
  check(() => assert.equal(addon.readValue(kept), 6));
  fs.unlinkSync(file);
  check(() => assert.deepEqual([addon.readValue(kept).errno, addon.readValue(kept).syscall], [2, 'open']));
  fs.writeFileSync(file, '7');
  check(() => assert.equal(addon.readValue(kept), 7));
  addon.closeReader(kept);
  addon.closeReader(kept);
  addon.closeReader(12345);
  check(() => assert.throws(() => addon.readValue(12345), TypeError));
  check(() => assert.throws(() => addon.readValue('x'), TypeError));
  check(() => assert.throws(() => addon.openReader(5), TypeError));
  check(() => assert.throws(() => addon.parseText(), TypeError));
  // Many open/close cycles reuse slots and leak nothing.
  fs.writeFileSync(file, '1');
  for (let i = 0; i < 2000; i++) {
    const x = addon.openReader(file);
    assert.equal(addon.readValue(x), 1);
    addon.closeReader(x);
  }
  checks++;
  if (fs.existsSync('/proc/sys/kernel/tainted')) {
    const k = addon.openReader('/proc/sys/kernel/tainted');
    for (let i = 0; i < 10000; i++) assert.equal(typeof addon.readValue(k), 'number');
    checks++;
  }
  console.log(`native exercise: ${checks} checks passed`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

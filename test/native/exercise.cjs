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
  ]) {
    fs.writeFileSync(file, text);
    const got = addon.readValue(h);
    check(() => (typeof want === 'number' ? assert.equal(got, want) : assert.equal(got.reason, want)));
    const parsed = addon.parseText(text);
    check(() => (typeof want === 'number' ? assert.equal(parsed, want) : assert.equal(parsed.reason, want)));
  }
  const missing = addon.openReader(path.join(dir, 'nope'));
  check(() => assert.deepEqual([missing.errno, missing.syscall], [2, 'open']));
  const d = addon.openReader(dir);
  check(() => assert.equal(addon.readValue(d).errno, 21));
  addon.closeReader(d);
  addon.closeReader(d);
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

import { parseTaint, readTaint, watchTaint } from 'kernel-taint';

const t = readTaint(); // one pread on a descriptor kept open
console.log(`${t}`); // => Tainted: [P]=PROPRIETARY_MODULE, [O]=OOT_MODULE
console.log(t.has('OOT_MODULE'), t.has('O'), t.has(12)); // => true true true

const text = 'CPU: 3 PID: 510 Comm: vold Tainted: P        W  O    4.4.138 #3';
console.log(parseTaint(text)?.letters); // => PWO

const w = watchTaint(); // a native thread, no busy polling
w.on('change', (c) => console.log('added', c.added.map((f) => f.letter).join(''), 'via', c.trigger));
// => added PO via initial
// and when a WARN taints the kernel: added W via kmsg (or inotify, uevent, counter, poll)

import { watchTaint } from 'kernel-taint';

const w = watchTaint({ interval: 5000, filter: ['W', 'D', 'MACHINE_CHECK'] });
w.on('ready', (triggers) => console.log('watching via', triggers.join(', ')));
w.on('error', (err) => console.error(err.code, err.message)); // the watcher recovers by itself
for await (const change of w) {
  console.log(change.seq, change.trigger, change.added.map((f) => f.name).join(' '), change.current.letters);
  if (change.current.has('DIE')) await w.close(); // ends the loop
}

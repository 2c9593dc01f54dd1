import { watchTaint } from 'kernel-taint';

const w = watchTaint(); // attribution: 'auto'
w.on('ready', (triggers, info) => console.log(triggers, info.attribution));
// [ 'inotify', 'uevent', 'kmsg', 'counter', 'poll' ]
// [ { source: 'watchpoint', armed: false, reason: 'watchpoint: needs CAP_SYS_ADMIN' }, … ]
w.on('change', (c) =>
  console.log(
    c.added.map((f) => f.letter),
    c.actor,
    c.attribution[0]?.site,
  ),
);
// actor: { kind: 'process', pid: 4242, tid: 4242, comm: 'sh', exe: '/bin/busybox', uid: 0, via: 'watchpoint' }
// site: 'proc_taint+0x14e' (a sysctl write), 'kt_warn_init+0x11 [kt_warn]' (a WARN in a module)

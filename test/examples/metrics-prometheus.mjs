import { watchTaint } from 'kernel-taint';
import { collectTaintMetrics } from 'kernel-taint/metrics';
import client from 'prom-client';

const watcher = watchTaint();
const metrics = collectTaintMetrics(client.register, { source: watcher, client });
// Serve `await client.register.metrics()` on /metrics; here, print the taint series once.
const lines = (await client.register.metrics()).split('\n');
console.log(lines.filter((l) => /^node_kernel_taint.*(flag="[OW]"|value)/.test(l)).join('\n'));
metrics.close(); // unregisters
await watcher.close();

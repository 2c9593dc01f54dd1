import http from 'node:http';
import { watchTaint } from 'kernel-taint';
import { createHealthCheck, healthHandler } from 'kernel-taint/health';

const check = createHealthCheck({ source: watchTaint() }); // create once: it keeps the 'start' baseline
const health = healthHandler(check);
const server = http.createServer((req, res) => {
  if (new URL(req.url, 'http://localhost').pathname === '/health') health(req, res);
  else res.writeHead(404).end(); // every other path gets an answer too
});
server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  console.log(`health on http://127.0.0.1:${server.address().port}/health`);
});

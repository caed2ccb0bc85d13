// A bounded HTTP load generator (keep-alive, fixed concurrency) used for both servers, so the two
// throughput figures come from the same client. Usage:
//   node load.mjs '<json spec>'   spec: {url, method, headers, bodies:[...], concurrency, requests, seconds}
// Each request takes the next body from `bodies` (round robin). Stops at `requests` or after
// `seconds`, whichever comes first. Prints one JSON line: {completed, errors, statuses, elapsed_s}.
import http from 'node:http';

const spec = JSON.parse(process.argv[2]);
const url = new URL(spec.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
const bodies = spec.bodies && spec.bodies.length ? spec.bodies : [''];
const limit = spec.requests || Infinity;
const deadline = Date.now() + (spec.seconds || 3600) * 1000;
const statuses = {};
let started = 0, completed = 0, errors = 0;
const samples = [];

function one() {
  return new Promise((resolve) => {
    const body = bodies[started % bodies.length];
    started += 1;
    const t0 = process.hrtime.bigint();
    const req = http.request({
      agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: spec.method || 'GET',
      headers: { ...(spec.headers || {}), 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => {
        statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
        if (res.statusCode >= 400) errors += 1;
        completed += 1;
        samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
        resolve();
      });
    });
    req.on('error', () => { errors += 1; completed += 1; resolve(); });
    req.end(body);
  });
}

async function worker() {
  while (started < limit && Date.now() < deadline) { await one(); }
}

const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: spec.concurrency }, worker));
const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
samples.sort((a, b) => a - b);
const pct = (p) => (samples.length ? samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] : null);
console.log(JSON.stringify({ completed, errors, statuses, elapsed_s: elapsed, p50_ms: pct(0.5), p99_ms: pct(0.99) }));
agent.destroy();

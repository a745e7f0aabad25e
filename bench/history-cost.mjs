// `node bench/history-cost.mjs` (after `npm run build`): Redis time (INFO commandstats, µs per
// EVALSHA) of writing one run to a job's history (record-run-3.lua: LPUSH, LTRIM and the totals)
// beside a plain tick claim (claim-2.lua), for a history of 100 and of 10000 entries; and of
// describe() reading 100 entries. One client, sequential calls: Redis time, not latency.
import { Redis } from 'ioredis';
import { RedisJobClaimStore } from '../dist/storage/redis/redis-job-claim.store.js';
import { commandStats, startRedis } from './lib/redis.mjs';

const N = Number(process.env.N ?? 5000);
const server = await startRedis();
const client = new Redis(server.port, '127.0.0.1');
const store = new RedisJobClaimStore(client);

async function perCall(label, calls, fn) {
  for (let i = 0; i < 200; i++) await fn(i); // warm: scripts loaded, keys exist
  await client.config('RESETSTAT');
  for (let i = 0; i < calls; i++) await fn(i);
  const { evalsha } = await commandStats(client);
  const usec = evalsha.usec / evalsha.calls;
  console.log(
    `${label.padEnd(44)} ${usec.toFixed(1).padStart(6)} µs per call (${evalsha.calls} calls)`,
  );
  return usec;
}

const base = Math.floor(Date.now() / 1000) * 1000;
let request = 0;
const claim = await perCall('claim (claim-2.lua), a new tick each', N, (i) =>
  store.claim({
    jobKey: 'bench:job:{pool:claim}',
    tick: base + i * 1000,
    nodeId: 'a',
    signature: '',
    requestId: `r${(request += 1)}`,
    notAfter: base + i * 1000 + 10_000_000,
    retention: 20_000,
    overlap: 'allow',
    runLease: 15_000,
  }),
);
const record = (limit) => (i) =>
  store.recordRun({
    jobKey: `bench:job:{pool:history-${limit}}`,
    limit,
    pauseAfterFailures: 0,
    final: true,
    entry: {
      tick: base + i,
      node: 'node-1',
      token: base + i,
      start: base + i,
      outcome: 'ok',
      attempt: 1,
      kind: 'schedule',
    },
  });
const small = await perCall('history write (record-run-3.lua), limit 100', N, record(100));
const large = await perCall('history write, limit 10000', N, record(10_000));
await perCall('describe (describe-3.lua), 100 runs', 1000, () =>
  store.describe('bench:job:{pool:history-100}', 100, false),
);
console.log(
  `history write / claim: ${(small / claim).toFixed(2)} (limit 100), ${(large / claim).toFixed(2)} (limit 10000)`,
);
client.disconnect();
await server.stop();

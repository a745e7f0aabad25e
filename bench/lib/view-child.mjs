// One measurement of bench/view.mjs in a fresh process (node --expose-gc), printed as one JSON line:
// - mode 'view': start a client-mode DiscoveryModule app over namespace `prefix` (its startup
//   snapshot), then heap and RSS growth after a full GC;
// - mode 'map': read the same records from Redis once and keep them parsed in a plain Map cache
//   (service name -> array of records), then the same measures.
// The growth is measured from right before the app (or the read) to after it, all imports done.
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { MapCache } from '../baselines/map-cache.mjs';
import { createStore, snapshotRecords } from './library.mjs';
import { startApp } from './nodes.mjs';

const { redisUrl, prefix, mode, expect } = JSON.parse(process.argv[2]);

async function settledMemory() {
  for (let i = 0; i < 4; i++) {
    global.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

const before = await settledMemory();
const startedAt = performance.now();
let keep;
let found;
if (mode === 'view') {
  keep = await startApp({
    redis: redisUrl,
    clientMode: true,
    keyPrefix: prefix,
    heartbeatInterval: 60_000,
    heartbeatTTL: 180_000,
  });
  found = (await keep.discovery.findNodesByService('svc-0')).length;
} else {
  const client = new Redis(redisUrl);
  // The raw records are only referenced by this expression: garbage once the cache is built.
  keep = { client, cache: new MapCache(await snapshotRecords(createStore(client, prefix))) };
  found = (await keep.cache.findNodesByService('svc-0')).length;
}
const ms = performance.now() - startedAt;
const after = await settledMemory();
if (found !== expect) throw new Error(`${mode}: svc-0 has ${found} nodes, expected ${expect}`);
console.log(
  JSON.stringify({ ms, heap: after.heapUsed - before.heapUsed, rss: after.rss - before.rss }),
);
if (keep.close) await keep.close();
else keep.client.disconnect();
process.exit(0);

// findNodesByService at 1k, 10k and 100k registered nodes (100 per service) beside 1M unrelated
// keys: from the in-process view, straight from Redis (fresh), and the two seed baselines.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { decodeRecord, encodeRecord } from '../dist/discovery/node-record.codec.js';
import { registryKeys } from '../dist/storage/registry-keys.js';
import { RedisRegistryStore } from '../dist/storage/redis-registry.store.js';
import * as goDispatch from './baselines/go-dispatch.mjs';
import * as netron from './baselines/netron.mjs';
import { startApp } from './lib/nodes.mjs';
import { commandStats } from './lib/redis.mjs';
import { format } from './lib/report.mjs';
import { summarize, timeAsync } from './lib/stats.mjs';

const PER_SERVICE = 100;
const TTL = 3_600_000; // nothing expires during the benchmark
const PREFIX = 'lookup';

function makeNode(i) {
  const k = Math.floor(i / PER_SERVICE);
  const node = {
    nodeId: `node-${i}`,
    serviceName: `pool-${k}`,
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`,
    services: [{ name: `svc-${k}`, version: `1.${i % 2}.0` }],
    metadata: { zone: `z${i % 3}` },
  };
  return { nodeId: node.nodeId, service: `svc-${k}`, record: encodeRecord(node) };
}

/** Runs `work` and returns [its result, Redis µs per EVALSHA meanwhile (INFO commandstats)]. */
async function withRedisTime(client, work) {
  await client.config('RESETSTAT');
  const result = await work();
  const { evalsha } = await commandStats(client);
  return [result, evalsha ? evalsha.usec / evalsha.calls : NaN];
}

async function junk(client, count) {
  try {
    await client.call('DEBUG', 'POPULATE', count, 'junk');
    return 'DEBUG POPULATE';
  } catch {
    for (let i = 0; i < count; i += 10_000) {
      const pipeline = client.pipeline();
      for (let j = i; j < Math.min(count, i + 10_000); j++) pipeline.set(`junk:${j}`, `value:${j}`);
      await pipeline.exec();
    }
    return 'pipelined SET';
  }
}

export async function run({ redisUrl, quick, log }) {
  const client = new Redis(redisUrl);
  const store = new RedisRegistryStore({
    client,
    ownsClient: false,
    keys: registryKeys(PREFIX, `${PREFIX}:events`),
    pubSubEnabled: false,
  });
  const sizes = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
  const junkKeys = 1_000_000;
  const how = await junk(client, junkKeys);
  log(`loaded ${junkKeys} unrelated keys (${how})`);

  const rows = [];
  const chart = {};
  let loaded = 0;
  for (const size of sizes) {
    const nodes = Array.from({ length: size - loaded }, (_, j) => makeNode(loaded + j));
    const instance = randomUUID();
    for (let i = 0; i < nodes.length; i += 2000) {
      await Promise.all(
        nodes
          .slice(i, i + 2000)
          .map((n) => store.beat(n.nodeId, instance, n.record, [n.service], TTL)),
      );
    }
    await goDispatch.load(client, 'gd', nodes, TTL);
    await netron.load(client, 'netron:discovery', nodes, TTL);
    loaded = size;
    const services = size / PER_SERVICE;
    const svc = (i) => `svc-${(i * 7919) % services}`; // spread lookups over every service
    log(`${size} nodes registered (dbsize ${await client.dbsize()})`);

    const { discovery, close } = await startApp({
      redis: redisUrl,
      clientMode: true,
      keyPrefix: PREFIX,
    });
    const check = async (label, lookup, expected = PER_SERVICE) => {
      const got = (await lookup()).length;
      if (got !== expected)
        throw new Error(`${label} found ${got} nodes of svc-0, expected ${expected}`);
    };
    await check('view', () => discovery.findNodesByService('svc-0'));
    await check('fresh', () => discovery.findNodesByService('svc-0', undefined, { fresh: true }));
    await check('go-dispatch', () => goDispatch.findNodesByService(client, 'gd', 'svc-0'));
    await check('netron', () => netron.findNodesByService(client, 'netron:discovery', 'svc-0'));
    await check('view, range', () => discovery.findNodesByService('svc-0', '^1.1.0'), 50);

    const view = discovery['view']; // the RegistryView behind the service (private in TS)
    const [fresh, redisUs] = await withRedisTime(client, () =>
      timeAsync((i) => discovery.findNodesByService(svc(i), undefined, { fresh: true }), {
        warmup: 300,
        iterations: quick ? 1000 : 5000,
      }),
    );
    const fast = { warmup: quick ? 2000 : 10_000, iterations: quick ? 20_000 : 100_000 };
    const cases = {
      'view: findNodesByService(name)': await timeAsync(
        (i) => discovery.findNodesByService(svc(i)),
        fast,
      ),
      "view: findNodesByService(name, '1.1.0')": await timeAsync(
        (i) => discovery.findNodesByService(svc(i), '1.1.0'),
        fast,
      ),
      "view: findNodesByService(name, '^1.1.0')": await timeAsync(
        (i) => discovery.findNodesByService(svc(i), '^1.1.0'),
        { warmup: 300, iterations: quick ? 1000 : 3000 },
      ),
      'view: RegistryView.offering(name) alone': await timeAsync(
        async (i) => view.offering(svc(i)),
        fast,
      ),
      'redis: findNodesByService(name, fresh)': fresh,
      'redis: store.fetchService(name) alone (no decoding)': await timeAsync(
        (i) => store.fetchService(svc(i)),
        { warmup: 300, iterations: quick ? 1000 : 5000 },
      ),
      'baseline go-dispatch (SCAN + GET)': await timeAsync(
        (i) => goDispatch.findNodesByService(client, 'gd', svc(i)),
        { warmup: 1, iterations: 30, min: quick ? 3 : 10, budgetMs: quick ? 1500 : 8000 },
      ),
      'baseline Netron (SET + HGETALL all)': await timeAsync(
        (i) => netron.findNodesByService(client, 'netron:discovery', svc(i)),
        { warmup: 1, iterations: 30, min: quick ? 3 : 10, budgetMs: quick ? 1500 : 8000 },
      ),
    };
    await close();

    const stats = Object.fromEntries(Object.entries(cases).map(([k, v]) => [k, summarize(v)]));
    chart[size] = stats;
    const at = size >= 1000 ? `${size / 1000}k` : String(size);
    for (const [name, s] of Object.entries(stats)) {
      let target;
      let met;
      if (name === 'view: findNodesByService(name)') [target, met] = ['p99 < 10 µs', s.p99 < 0.01];
      if (name === 'redis: findNodesByService(name, fresh)' && size === 100_000)
        [target, met] = ['p99 < 1 ms', s.p99 < 1];
      rows.push({
        case: `${name} @${at}`,
        unit: 'ms',
        median: s.median,
        p99: s.p99,
        n: s.n,
        target,
        met,
        note:
          (name.includes('fresh') ? `Redis runs the script in ${redisUs.toFixed(0)} µs; ` : '') +
          (s.n >= 1000
            ? `${s.gcHits} samples overlapped a GC pause, p99 without them ${format(s.p99WithoutGc, 'ms')}`
            : ''),
      });
    }
    const view1 = stats['view: findNodesByService(name)'];
    const freshStats = stats['redis: findNodesByService(name, fresh)'];
    for (const base of [
      'baseline go-dispatch (SCAN + GET)',
      'baseline Netron (SET + HGETALL all)',
    ]) {
      const b = stats[base];
      const short = base.split(' ')[1];
      rows.push({
        case: `ratio ${short} / view @${at}`,
        unit: 'x',
        median: b.median / view1.median,
        p99: b.p99 / view1.p99,
      });
      rows.push({
        case: `ratio ${short} / fresh @${at}`,
        unit: 'x',
        median: b.median / freshStats.median,
        p99: b.p99 / freshStats.p99,
      });
    }
    log(
      `@${at}: view p99 ${(view1.p99 * 1000).toFixed(1)} µs, fresh p99 ${freshStats.p99.toFixed(3)} ms, ` +
        `go-dispatch median ${stats['baseline go-dispatch (SCAN + GET)'].median.toFixed(1)} ms, ` +
        `netron median ${stats['baseline Netron (SET + HGETALL all)'].median.toFixed(1)} ms`,
    );
  }
  // Where a fresh lookup goes besides Redis: parsing and checking the 100 records it read.
  const { records } = await store.fetchService('svc-0');
  const decode = summarize(
    await timeAsync(async () => records.map((raw) => decodeRecord(raw)), {
      warmup: 200,
      iterations: 2000,
    }),
  );
  rows.push({
    case: 'diagnostic: decodeRecord() of the 100 records a fresh lookup reads',
    unit: 'ms',
    ...decode,
  });
  client.disconnect();
  return { rows, chart };
}

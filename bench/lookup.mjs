// findNodesByService with 100 nodes per service, lookups rotating over every service, at 10k and
// 100k registered nodes (and 1k in the full run):
// - in process: the library's view against a plain Map cache with the same call shape
//   (bench/baselines/map-cache.mjs); no ratio of an in-process read to a Redis round trip;
// - straight from Redis: the library's fresh lookup against the baselines, on the same nodes: the
//   hand-written design (bench/baselines/hand-written.mjs), go-dispatch in its own database and
//   go-dispatch in a database shared with 1M unrelated keys (bench/baselines/go-dispatch.mjs; that
//   one at the largest size only, its cost is the 1M keys), and Netron (bench/baselines/netron.mjs).
//   Latency, and Redis CPU per lookup (INFO cpu) with the commands run (INFO commandstats).
// Databases: 0 holds the library, the hand-written design and Netron; 1 only go-dispatch's keys;
// 2 go-dispatch's keys beside 1M unrelated keys (DEBUG POPULATE).
import { Redis } from 'ioredis';
import * as goDispatch from './baselines/go-dispatch.mjs';
import * as handWritten from './baselines/hand-written.mjs';
import { MapCache } from './baselines/map-cache.mjs';
import * as netron from './baselines/netron.mjs';
import { PER_SERVICE, makeNodes, registerInLibrary, rotatingService } from './lib/dataset.mjs';
import { createStore, decode, fetchServiceRecords, viewOf, viewOffering } from './lib/library.mjs';
import { startApp } from './lib/nodes.mjs';
import { commandStats, serverCpu } from './lib/redis.mjs';
import { format } from './lib/report.mjs';
import { summarize, timeAsync } from './lib/stats.mjs';

const TTL = 3_600_000; // nothing expires during the benchmark
const PREFIX = 'lookup';
const NETRON = 'netron:discovery';
const JUNK = 1_000_000;
const DB_OWN = 1;
const DB_SHARED = 2;

const NAME = {
  view: 'view: findNodesByService(name)',
  map: 'plain Map cache: findNodesByService(name), same call shape',
  exact: "view: findNodesByService(name, '1.1.0')",
  range: "view: findNodesByService(name, '^1.1.0')",
  offering: 'view: RegistryView.offering(name) alone',
  fresh: 'fresh: findNodesByService(name, undefined, { fresh: true })',
  storeCall: 'fresh, the store call alone (no parsing)',
  hand: 'hand-written: ZRANGEBYSCORE + HMGET + JSON.parse',
  own: 'go-dispatch, own database: SCAN MATCH (no COUNT) + GET',
  shared: 'go-dispatch, shared keyspace with 1M unrelated keys: SCAN MATCH (no COUNT) + GET',
  netron: 'Netron: SMEMBERS + HGETALL/EXISTS of every node',
};
/** The chart's rows (bench/lib/report.mjs draws the largest size), with short labels. */
const CHART = {
  [NAME.view]: 'view',
  [NAME.map]: 'plain Map cache',
  [NAME.fresh]: 'fresh (library)',
  [NAME.hand]: 'hand-written',
  [NAME.own]: 'go-dispatch, own db',
  [NAME.shared]: 'go-dispatch, 1M other keys',
  [NAME.netron]: 'Netron',
};
const VIA_REDIS = new Set([
  NAME.fresh,
  NAME.storeCall,
  NAME.hand,
  NAME.own,
  NAME.shared,
  NAME.netron,
]);

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

/**
 * Times each `[key, fn(i)]` of `entries` (one set of options), interleaved: `rounds` rounds, each
 * running every entry in turn on the same lookups, so a noisy moment on the machine hits them all.
 * Per entry: latency percentiles, and Redis meanwhile: CPU (INFO cpu) and commandstats per call.
 * Only this benchmark talks to Redis meanwhile (the view's app holds an idle subscription).
 */
async function measureGroup(admin, entries, { warmup, iterations, rounds = 1, ...options }) {
  for (const [, fn] of entries) for (let i = 0; i < warmup; i++) await fn(i);
  const acc = entries.map(() => ({ samples: [], withoutGc: [], cpu: 0, commands: {} }));
  const per = Math.ceil(iterations / rounds);
  for (let r = 0; r < rounds; r++) {
    const offset = warmup + r * per;
    for (const [e, [, fn]] of entries.entries()) {
      await admin.config('RESETSTAT');
      const cpuBefore = await serverCpu(admin);
      const samples = await timeAsync((i) => fn(offset + i), { iterations: per, ...options });
      acc[e].cpu += (await serverCpu(admin)) - cpuBefore;
      for (const [name, stat] of Object.entries(await commandStats(admin))) {
        if (name === 'info' || name.startsWith('config')) continue;
        const total = (acc[e].commands[name] ??= { calls: 0, usec: 0 });
        total.calls += stat.calls;
        total.usec += stat.usec;
      }
      for (const ms of samples) acc[e].samples.push(ms);
      for (const ms of samples.withoutGc) acc[e].withoutGc.push(ms);
    }
  }
  return entries.map(([key], e) => {
    const { samples, withoutGc, cpu, commands } = acc[e];
    samples.withoutGc = withoutGc;
    const n = samples.length;
    const perCall = Object.entries(commands).map(([name, c]) => [
      name,
      { calls: c.calls / n, usec: c.usec / n },
    ]);
    return [
      key,
      {
        ...summarize(samples),
        redis: { cpuUs: (cpu * 1e6) / n, commands: Object.fromEntries(perCall) },
      },
    ];
  });
}

/** "evalsha 1.00 (290.0 µs), smembers 1.00 (20.0 µs), ..." per lookup, from commandstats. */
function commandNote(redis) {
  return Object.entries(redis.commands)
    .sort((a, b) => b[1].usec - a[1].usec)
    .map(([name, c]) => {
      const calls =
        c.calls >= 100 ? Math.round(c.calls).toLocaleString('en-US') : c.calls.toFixed(2);
      return `${name} ${calls} (${c.usec.toFixed(1)} µs)`;
    })
    .join(', ');
}

export async function run({ redisUrl, quick, log }) {
  const client = new Redis(redisUrl);
  const ownDb = new Redis(redisUrl, { db: DB_OWN });
  const sharedDb = new Redis(redisUrl, { db: DB_SHARED });
  const store = createStore(client, PREFIX);
  const how = await junk(sharedDb, JUNK);
  log(`loaded ${JUNK} unrelated keys in db ${DB_SHARED} (${how})`);

  const sizes = quick ? [10_000, 100_000] : [1_000, 10_000, 100_000];
  const largest = sizes.at(-1);
  const rows = [];
  const chart = {};
  let loaded = 0;
  const cache = new MapCache();
  for (const size of sizes) {
    const nodes = makeNodes(loaded, size);
    await registerInLibrary(store, nodes, TTL);
    await handWritten.load(client, nodes, TTL);
    await netron.load(client, NETRON, nodes, TTL);
    await goDispatch.load(ownDb, nodes, TTL);
    await goDispatch.load(sharedDb, nodes, TTL);
    for (const n of nodes) cache.add(JSON.parse(n.record));
    loaded = size;
    const services = size / PER_SERVICE;
    const svc = (i) => rotatingService(i, services);
    log(
      `${size} nodes registered (keys: db 0 ${await client.dbsize()}, db ${DB_OWN} ` +
        `${await ownDb.dbsize()}, db ${DB_SHARED} ${await sharedDb.dbsize()})`,
    );

    const { discovery, close } = await startApp({
      redis: redisUrl,
      clientMode: true,
      keyPrefix: PREFIX,
      heartbeatInterval: 60_000, // a client sweeps once an interval: none while measuring
      heartbeatTTL: 180_000,
    });
    const view = viewOf(discovery);
    // Groups measured interleaved (see measureGroup); a lookup of a second or more alone, a few
    // samples within a time budget.
    const fast = { warmup: quick ? 2000 : 10_000, iterations: quick ? 20_000 : 100_000, rounds: 5 };
    const range = { warmup: 300, iterations: quick ? 1000 : 3000 };
    const viaRedis = { warmup: 300, iterations: quick ? 1000 : 5000, rounds: 5 };
    const slow = (seconds) => ({
      warmup: 0,
      iterations: 200,
      min: quick ? 2 : 5,
      budgetMs: quick ? 1000 : seconds * 1000,
    });
    const plan = [
      [NAME.view, (i) => discovery.findNodesByService(svc(i)), fast],
      [NAME.map, (i) => cache.findNodesByService(svc(i)), fast],
      [NAME.exact, (i) => discovery.findNodesByService(svc(i), '1.1.0'), fast],
      [NAME.offering, async (i) => viewOffering(view, svc(i)), fast],
      [NAME.range, (i) => discovery.findNodesByService(svc(i), '^1.1.0'), range],
      [
        NAME.fresh,
        (i) => discovery.findNodesByService(svc(i), undefined, { fresh: true }),
        viaRedis,
      ],
      [NAME.storeCall, (i) => fetchServiceRecords(store, svc(i)), viaRedis],
      [NAME.hand, (i) => handWritten.findNodesByService(client, svc(i)), viaRedis],
      [NAME.own, (i) => goDispatch.findNodesByService(ownDb, svc(i)), slow(10)],
      // The 1M unrelated keys set this one's cost whatever the registry's size: largest size only.
      [NAME.shared, (i) => goDispatch.findNodesByService(sharedDb, svc(i)), slow(30), largest],
      [NAME.netron, (i) => netron.findNodesByService(client, NETRON, svc(i)), slow(10)],
    ].filter(([, , , only]) => only === undefined || only === size);

    for (const [key, lookup] of plan) {
      // svc-0: nodes 0..99, half of them at version 1.1.0
      const found = (await lookup(0)).map((n) => (typeof n === 'string' ? JSON.parse(n) : n));
      const expected = key === NAME.exact || key === NAME.range ? PER_SERVICE / 2 : PER_SERVICE;
      const ids = new Set(found.map((n) => n.nodeId));
      if (found.length !== expected || ids.size !== expected || !ids.has('node-1'))
        throw new Error(`${key} found ${found.length} nodes of svc-0, expected ${expected}`);
    }
    const groups = new Map();
    for (const [key, lookup, options] of plan) {
      if (!groups.has(options)) groups.set(options, []);
      groups.get(options).push([key, lookup]);
    }
    const measured = new Map();
    for (const [options, entries] of groups)
      for (const [key, s] of await measureGroup(client, entries, options)) measured.set(key, s);
    await close();
    // In the plan's order.
    const stats = Object.fromEntries(plan.map(([key]) => [key, measured.get(key)]));
    chart[size] = Object.fromEntries(
      Object.entries(CHART).flatMap(([key, label]) => (stats[key] ? [[label, stats[key]]] : [])),
    );

    const at = `${size / 1000}k`;
    for (const [key, s] of Object.entries(stats)) {
      let target;
      let met;
      if (key === NAME.view) [target, met] = ['p99 < 10 µs', s.p99 < 0.01];
      if (key === NAME.fresh && size === largest) [target, met] = ['p99 < 1 ms', s.p99 < 1];
      const notes = [];
      if (VIA_REDIS.has(key))
        notes.push(
          `Redis CPU ${s.redis.cpuUs.toFixed(1)} µs per lookup; per lookup: ${commandNote(s.redis)}`,
        );
      if (s.n >= 1000)
        notes.push(
          `${s.gcHits} samples overlapped a GC pause, p99 without them ${format(s.p99WithoutGc, 'ms')}`,
        );
      rows.push({
        case: `${key} @${at}`,
        unit: 'ms',
        median: s.median,
        p99: s.p99,
        n: s.n,
        target,
        met,
        note: notes.join('; '),
      });
    }
    const ratio = (a, b, label, extra = {}) =>
      stats[a] && {
        case: `ratio ${label} @${at}`,
        unit: 'x',
        median: stats[a].median / stats[b].median,
        p99: stats[a].p99 / stats[b].p99,
        ...extra,
      };
    const freshVsHand = stats[NAME.fresh].median / stats[NAME.hand].median;
    rows.push(
      ...[
        ratio(NAME.view, NAME.map, 'view / plain Map cache (in process, same call shape)'),
        ratio(NAME.fresh, NAME.hand, 'fresh / hand-written', {
          target: size === largest ? 'median <= 1.2x' : undefined,
          met: size === largest ? freshVsHand <= 1.2 : undefined,
        }),
        ratio(NAME.own, NAME.fresh, 'go-dispatch own database / fresh'),
        ratio(
          NAME.shared,
          NAME.fresh,
          'go-dispatch shared keyspace with 1M unrelated keys / fresh',
        ),
        ratio(NAME.netron, NAME.fresh, 'Netron / fresh'),
      ].filter(Boolean),
    );
    if (size === largest) {
      for (const [label, key] of [
        ['library fresh lookup', NAME.fresh],
        ['hand-written', NAME.hand],
        ['go-dispatch, own database', NAME.own],
        ['go-dispatch, shared keyspace with 1M unrelated keys', NAME.shared],
        ['Netron', NAME.netron],
      ]) {
        rows.push({
          case: `Redis CPU per lookup @${at}: ${label}`,
          unit: 'us',
          median: stats[key].redis.cpuUs,
          n: stats[key].n,
          note: 'INFO cpu (used_cpu_sys + used_cpu_user) over the timed lookups / lookups',
        });
      }
      rows.push({
        case: `ratio Redis CPU per lookup, fresh / hand-written @${at}`,
        unit: 'x',
        median: stats[NAME.fresh].redis.cpuUs / stats[NAME.hand].redis.cpuUs,
      });
    }
    const ms = (key) => (stats[key] ? format(stats[key].median, 'ms') : '-');
    const cpu = (key) => `Redis ${stats[key].redis.cpuUs.toFixed(0)} µs`;
    log(
      `@${at}: view ${ms(NAME.view)} vs Map ${ms(NAME.map)}; fresh ${ms(NAME.fresh)} (${cpu(NAME.fresh)}) ` +
        `vs hand-written ${ms(NAME.hand)} (${cpu(NAME.hand)}); go-dispatch own db ${ms(NAME.own)}, ` +
        `shared ${ms(NAME.shared)}; Netron ${ms(NAME.netron)}`,
    );
  }
  // Where a fresh lookup goes besides Redis: parsing and checking the 100 records it read.
  const records = await fetchServiceRecords(store, 'svc-0');
  const parse = (fn) =>
    timeAsync(async () => records.map((raw) => fn(raw)), { warmup: 200, iterations: 2000 });
  rows.push(
    {
      case: 'diagnostic: decodeRecord() of the 100 records a fresh lookup reads',
      unit: 'ms',
      ...summarize(await parse(decode)),
    },
    {
      case: 'diagnostic: JSON.parse() of the same 100 records (what the baselines do)',
      unit: 'ms',
      ...summarize(await parse(JSON.parse)),
    },
  );
  client.disconnect();
  ownDb.disconnect();
  sharedDb.disconnect();
  return { rows, chart };
}

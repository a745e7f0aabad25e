// Heartbeat cost at 10k nodes: round trips and Redis commands per beat (INFO commandstats) and
// Redis CPU (INFO cpu), with 10k distinct node ids beating once a second through the store's
// beat() from a few connections. Also what a real node process sends per heartbeat interval.
import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { encodeRecord } from '../dist/discovery/node-record.codec.js';
import { registryKeys } from '../dist/storage/registry-keys.js';
import { RedisRegistryStore } from '../dist/storage/redis-registry.store.js';
import { commandStats, serverCpu } from './lib/redis.mjs';
import { startNodeProcess } from './lib/nodes.mjs';
import { sleep, summarize } from './lib/stats.mjs';

const NODES = 10_000;
const CONNECTIONS = 4;
const TTL = 3000;
const SLOT_MS = 10; // beats go out every 10 ms, 1/100 of the nodes each time

function record(i) {
  return encodeRecord({
    nodeId: `hb-${i}`,
    serviceName: 'pool',
    address: `10.0.${i >> 8}.${i & 255}:8080`,
    services: [{ name: `svc-${i % 100}`, version: '1.0.0' }],
    metadata: {},
  });
}

/** `seconds` of 10k beats per second, evenly paced, with `reapsPerBeat` reap() calls per beat. */
async function paced(admin, stores, nodes, seconds, reapsPerBeat) {
  await admin.config('RESETSTAT');
  const cpuBefore = await serverCpu(admin);
  const startedAt = performance.now();
  const latencies = [];
  const pending = [];
  let reaps = 0;
  let changed = 0; // beats that did more than renew a lease (should be none)
  const perSlot = NODES / (1000 / SLOT_MS);
  const slots = seconds * (1000 / SLOT_MS);
  for (let slot = 0; slot < slots; slot++) {
    const wait = startedAt + slot * SLOT_MS - performance.now();
    if (wait > 1) await sleep(wait);
    for (let j = 0; j < perSlot; j++) {
      const i = (slot * perSlot + j) % NODES;
      const store = stores[i % stores.length];
      const n = nodes[i];
      const sent = performance.now();
      pending.push(
        store.beat(n.nodeId, n.instance, n.record, n.services, TTL).then((r) => {
          if (r.outcome !== 'unchanged') changed++;
          latencies.push(performance.now() - sent);
        }),
      );
      for (reaps += reapsPerBeat; reaps >= 1; reaps--) pending.push(store.reap());
    }
  }
  await Promise.all(pending);
  const wall = (performance.now() - startedAt) / 1000;
  const cpu = (await serverCpu(admin)) - cpuBefore;
  const calls = Object.fromEntries(
    Object.entries(await commandStats(admin)).map(([name, stat]) => [name, stat.calls]),
  );
  const beats = slots * perSlot;
  const clientCommands = (calls.evalsha ?? 0) + (calls.eval ?? 0);
  const total = Object.entries(calls).reduce(
    (sum, [name, n]) => (name === 'info' ? sum : sum + n),
    0,
  );
  return { beats, wall, cpu, calls, clientCommands, total, latencies, changed };
}

/** Scripts a real node process sends per heartbeat interval, counted with MONITOR. */
async function cadence(redisUrl, admin, quick) {
  // Read the scripts when the nodes start, so the digests match what they send.
  const scripts = await import(`../dist/storage/redis-scripts.js?at=${Date.now()}`);
  const names = new Map(
    Object.entries(scripts)
      .filter(([name, value]) => name.endsWith('_SCRIPT') && typeof value === 'string')
      .map(([name, source]) => [createHash('sha1').update(source).digest('hex'), name]),
  );
  const interval = 500;
  const count = 3;
  const nodes = [];
  for (let i = 0; i < count; i++) {
    nodes.push(
      await startNodeProcess({
        discovery: {
          redis: redisUrl,
          nodeId: `cad-${i}`,
          keyPrefix: 'cadence',
          heartbeatInterval: interval,
          heartbeatTTL: 3 * interval,
        },
      }),
    );
  }
  await sleep(2 * interval);
  const monitor = await admin.monitor();
  const seen = {};
  monitor.on('monitor', (time, args, source) => {
    if (source === 'lua') return; // commands run inside a script cost no round trip
    const command = String(args[0]).toLowerCase();
    const name = command === 'evalsha' ? (names.get(args[1]) ?? args[1]) : command;
    if (name !== 'info') seen[name] = (seen[name] ?? 0) + 1;
  });
  const seconds = quick ? 3 : 6;
  await sleep(seconds * 1000);
  monitor.disconnect();
  await Promise.all(nodes.map((n) => n.kill()));
  const intervals = (count * seconds * 1000) / interval;
  return {
    interval,
    perInterval: Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v / intervals])),
  };
}

export async function run({ redisUrl, quick, log }) {
  const admin = new Redis(redisUrl);
  // First what a real node sends per heartbeat interval; the simulation below sends the same.
  const real = await cadence(redisUrl, admin, quick);
  const perInterval = Object.values(real.perInterval).reduce((a, b) => a + b, 0);
  const beatsPerInterval = real.perInterval.BEAT_SCRIPT ?? 0;
  const reapsPerBeat = (real.perInterval.REAP_SCRIPT ?? 0) / beatsPerInterval;
  log(`a real node per ${real.interval} ms interval: ${JSON.stringify(real.perInterval)}`);

  const clients = Array.from({ length: CONNECTIONS }, () => new Redis(redisUrl));
  const stores = clients.map(
    (client) =>
      new RedisRegistryStore({
        client,
        ownsClient: false,
        keys: registryKeys('hb', 'hb:events'),
        pubSubEnabled: true,
      }),
  );
  const nodes = Array.from({ length: NODES }, (_, i) => ({
    nodeId: `hb-${i}`,
    instance: randomUUID(),
    record: record(i),
    services: [`svc-${i % 100}`],
  }));
  for (let i = 0; i < NODES; i += 1000) {
    await Promise.all(
      nodes
        .slice(i, i + 1000)
        .map((n, j) =>
          stores[(i + j) % CONNECTIONS].beat(n.nodeId, n.instance, n.record, n.services, TTL),
        ),
    );
  }
  // Back-to-back runs (a pause over the TTL would expire the simulated nodes), repeated:
  // Redis CPU on a small machine shared with the load generator is noisy.
  const seconds = quick ? 2 : 3;
  const repeats = quick ? 2 : 5;
  const asNodes = reapsPerBeat >= 0.05; // do nodes send reaps besides their beats?
  await paced(admin, stores, nodes, 1, 0); // warm-up
  const beatRuns = [];
  const nodeRuns = [];
  for (let r = 0; r < repeats; r++) {
    beatRuns.push(await paced(admin, stores, nodes, seconds, 0));
    if (asNodes) nodeRuns.push(await paced(admin, stores, nodes, seconds, reapsPerBeat));
  }
  const share = (runs) => summarize(runs.map((run) => (100 * run.cpu) / run.wall));
  const beatCpu = share(beatRuns);
  const nodeCpu = asNodes ? share(nodeRuns) : beatCpu;
  const perBeatCpu = summarize(beatRuns.map((run) => (run.cpu / run.beats) * 1e6));
  const latency = summarize(beatRuns.flatMap((run) => run.latencies));
  const changed = [...beatRuns, ...nodeRuns].reduce((sum, run) => sum + run.changed, 0);
  log(
    `Redis CPU, beats only: ${beatCpu.median.toFixed(1)}% (max ${beatCpu.max.toFixed(1)}%); ` +
      `as nodes do: ${nodeCpu.median.toFixed(1)}% (max ${nodeCpu.max.toFixed(1)}%)`,
  );

  const beat = beatRuns[0];
  const perBeat = beat.clientCommands / beat.beats;
  const worst = `${repeats} runs of ${seconds} s; p99 column = worst run`;
  const rows = [
    {
      case: `real node process: round trips per heartbeat interval (${real.interval} ms)`,
      unit: 'count',
      median: perInterval / beatsPerInterval,
      target: '1 round trip per beat',
      met: perInterval / beatsPerInterval < 1.05,
      note:
        'per beat, from MONITOR on 3 nodes: ' +
        Object.entries(real.perInterval)
          .map(
            ([name, n]) =>
              `${name.replace('_SCRIPT', '').toLowerCase()} ${(n / beatsPerInterval).toFixed(2)}`,
          )
          .join(', '),
    },
    {
      case: 'store beat(): client round trips (EVALSHA) per call',
      unit: 'count',
      median: perBeat,
      n: beat.beats,
      target: '1 round trip per beat',
      met: Math.abs(perBeat - 1) < 0.001,
    },
    {
      case: 'Redis commands per beat (incl. inside the script)',
      unit: 'count',
      median: beat.total / beat.beats,
      n: beat.beats,
      note: Object.entries(beat.calls)
        .filter(([name]) => name !== 'info' && name !== 'config|resetstat')
        .map(([name, calls]) => `${name} ${(calls / beat.beats).toFixed(2)}`)
        .join(', '),
    },
    {
      case: 'Redis CPU per beat',
      unit: 'us',
      median: perBeatCpu.median,
      p99: perBeatCpu.max,
      n: repeats,
      note: worst,
    },
    {
      case: '10k nodes @1 s, beats only: Redis CPU',
      unit: '%core',
      median: beatCpu.median,
      p99: beatCpu.max,
      n: repeats,
      target: asNodes ? undefined : '< 25% of one core',
      met: asNodes ? undefined : beatCpu.median < 25,
      note: `${worst}; ${changed} beats did more than renew (expected 0)`,
    },
  ];
  if (asNodes) {
    rows.push({
      case: `10k nodes @1 s, what a node sends (${reapsPerBeat.toFixed(2)} reap per beat): Redis CPU`,
      unit: '%core',
      median: nodeCpu.median,
      p99: nodeCpu.max,
      n: repeats,
      target: '< 25% of one core',
      met: nodeCpu.median < 25,
      note: worst,
    });
  }
  rows.push({
    case: 'beat latency at 10k beats/s (100 beats sent every 10 ms)',
    unit: 'ms',
    median: latency.median,
    p99: latency.p99,
    n: latency.n,
  });
  admin.disconnect();
  for (const client of clients) client.disconnect();
  return { rows };
}

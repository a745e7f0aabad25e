// Event latency: an update on node A (updateMetadata) to the event arriving on node B, two Nest
// app contexts in this process, one update every 10 ms (100 events/s).
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { beat, createStore } from './lib/library.mjs';
import { startApp } from './lib/nodes.mjs';
import { commandStats } from './lib/redis.mjs';
import { sleep, splitGc, summarize } from './lib/stats.mjs';

const RATE = 100;

export async function run({ redisUrl, quick, log }) {
  const common = {
    redis: redisUrl,
    keyPrefix: 'events',
    heartbeatInterval: 1000,
    heartbeatTTL: 3000,
  };
  const a = await startApp({ ...common, nodeId: 'node-a' });
  const b = await startApp({ ...common, nodeId: 'node-b' });
  const sentAt = new Map();
  const written = new Map();
  const received = new Map();
  await b.discovery.subscribeToEvents((event) => {
    if (event.nodeId !== 'node-a' || event.type !== 'NODE_UPDATED') return;
    received.set(Number(event.metadata.seq), performance.now());
  });
  const admin = new Redis(redisUrl);
  await admin.config('RESETSTAT');
  const warmup = 100;
  const total = warmup + (quick ? 300 : 1500);
  const startedAt = performance.now();
  for (let seq = 0; seq < total; seq++) {
    const wait = startedAt + (seq * 1000) / RATE - performance.now();
    if (wait > 1) await sleep(wait);
    sentAt.set(seq, performance.now());
    a.discovery
      .updateMetadata({ seq: String(seq) })
      .then(() => written.set(seq, performance.now()))
      .catch((error) => log(`update failed: ${error}`));
  }
  await sleep(200);
  const { evalsha, publish } = await commandStats(admin);
  admin.disconnect();
  const seqs = [...sentAt.keys()].filter((seq) => seq >= warmup);
  const lost = seqs.filter((seq) => !received.has(seq)).length;
  const kept = seqs.filter((seq) => received.has(seq));
  const samples = await splitGc(
    kept.map((seq) => received.get(seq) - sentAt.get(seq)),
    kept.map((seq) => sentAt.get(seq)),
  );
  await a.close();
  await b.close();
  const write = summarize(kept.map((seq) => written.get(seq) - sentAt.get(seq)));
  const raw = await floors(redisUrl, Math.min(kept.length, 500));
  const floor = summarize(raw.published);
  const ping = summarize(raw.pings);
  const beat = summarize(raw.beats);
  const s = summarize(samples);
  log(`p50 ${s.median.toFixed(3)} ms, p99 ${s.p99.toFixed(3)} ms, lost ${lost}`);
  return {
    rows: [
      {
        case: `update on A to event on B, ${RATE} events/s`,
        unit: 'ms',
        median: s.median,
        p99: s.p99,
        n: s.n,
        target: 'p50 < 0.5 ms, p99 < 2 ms',
        met: s.median < 0.5 && s.p99 < 2 && lost === 0,
        note:
          `${lost} events lost; Redis time per EVALSHA ${(evalsha.usec / evalsha.calls).toFixed(0)} µs ` +
          `(${evalsha.calls} calls, ${publish?.calls ?? 0} PUBLISH inside them); ` +
          `${s.gcHits} samples overlapped a GC pause`,
      },
      {
        case: 'same updates: updateMetadata() on A resolves (the write round trip)',
        unit: 'ms',
        median: write.median,
        p99: write.p99,
        n: write.n,
      },
      {
        case: 'floor: raw PUBLISH to a subscriber, one every 10 ms (ioredis, no library)',
        unit: 'ms',
        median: floor.median,
        p99: floor.p99,
        n: floor.n,
      },
      {
        case: 'floor: PING round trip, one every 10 ms',
        unit: 'ms',
        median: ping.median,
        p99: ping.p99,
        n: ping.n,
      },
      {
        case: 'floor: the store beat() with a changed record, one every 10 ms (no service around it)',
        unit: 'ms',
        median: beat.median,
        p99: beat.p99,
        n: beat.n,
      },
    ],
    chart: { events: s },
  };
}

/**
 * The transport's own latency at the same spacing (10 ms of idle before each operation): PUBLISH
 * to a SUBSCRIBEd connection, PING, and the store's beat() with a changed record (the script an
 * update runs, without the discovery service around it).
 */
async function floors(redisUrl, count) {
  const publisher = new Redis(redisUrl);
  const subscriber = new Redis(redisUrl);
  const store = createStore(publisher, 'floor', { pubSub: true });
  const published = [];
  const pings = [];
  const beats = [];
  subscriber.on('message', (channel, message) =>
    published.push(performance.now() - Number(message)),
  );
  await subscriber.subscribe('floor');
  const timed = async (samples, work) => {
    await sleep(1000 / RATE);
    const sent = performance.now();
    await work();
    samples.push(performance.now() - sent);
  };
  for (let i = 0; i < count; i++) {
    await sleep(1000 / RATE);
    await publisher.publish('floor', String(performance.now()));
    await timed(pings, () => publisher.ping());
    const node = { nodeId: 'x', instance: 'instance', services: ['x'] };
    node.record = JSON.stringify({ nodeId: 'x', seq: i });
    await timed(beats, () => beat(store, node, 3000));
  }
  await sleep(50);
  publisher.disconnect();
  subscriber.disconnect();
  return { published, pings, beats };
}

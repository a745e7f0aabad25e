// Crash detection: SIGKILL a node process, time until a peer's view drops it (the
// NODE_DEREGISTERED event on a client-mode ServiceDiscovery in this process).
import { performance } from 'node:perf_hooks';
import { startApp, startNodeProcess } from './lib/nodes.mjs';
import { sleep, summarize, waitFor } from './lib/stats.mjs';

const INTERVAL = 250;
const TTL = 1000;

export async function run({ redisUrl, quick, log }) {
  const discovery = {
    redis: redisUrl,
    keyPrefix: 'crash',
    heartbeatInterval: INTERVAL,
    heartbeatTTL: TTL,
  };
  const start = (nodeId) => startNodeProcess({ discovery: { ...discovery, nodeId } });
  const peer = await startApp({ ...discovery, clientMode: true });
  const dropped = new Map();
  await peer.discovery.subscribeToEvents((event) => {
    if (event.type === 'NODE_DEREGISTERED')
      dropped.set(event.nodeId, { at: performance.now(), reason: event.reason });
  });
  const standing = await start('standing'); // a live peer that beats and reaps too
  const kills = quick ? 6 : 24;
  const samples = [];
  const reasons = {};
  let victim = await start('victim-0');
  for (let k = 0; k < kills; k++) {
    // The next victim starts before this one dies, so startup does not compete with detection.
    const next = k + 1 < kills ? await start(`victim-${k + 1}`) : undefined;
    await waitFor(() => peer.discovery.isNodeActive(victim.nodeId), {
      what: `${victim.nodeId} in the view`,
    });
    await sleep(Math.random() * INTERVAL); // any phase of the heartbeat cycle
    const killedAt = performance.now();
    victim.child.kill('SIGKILL');
    const seen = await waitFor(() => dropped.get(victim.nodeId), {
      timeout: 10 * TTL,
      interval: 2,
      what: `${victim.nodeId} dropped`,
    });
    samples.push(seen.at - killedAt);
    reasons[seen.reason] = (reasons[seen.reason] ?? 0) + 1;
    await victim.exited;
    victim = next;
  }
  await standing.kill();
  await peer.close();
  const s = summarize(samples);
  log(
    `median ${s.median.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms, max ${s.max.toFixed(0)} ms over ${s.n} kills`,
  );
  return {
    rows: [
      {
        case: `SIGKILL to peer's view dropping the node (interval ${INTERVAL} ms, TTL ${TTL} ms)`,
        unit: 'ms',
        median: s.median,
        p99: s.p99,
        n: s.n,
        target: `p99 < TTL + 250 ms = ${TTL + 250} ms`,
        met: s.p99 < TTL + 250,
        note: `min ${s.min.toFixed(0)} ms, max ${s.max.toFixed(0)} ms; reasons ${JSON.stringify(reasons)}`,
      },
    ],
    chart: { crash: { samples, ttl: TTL, interval: INTERVAL } },
  };
}

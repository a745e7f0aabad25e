// Redis CPU per claimed tick: the library's claim scripts against the least a user would write by
// hand (`SET <job>:<tick> <node> NX PX <ms>`, then `INCR` of a token by the node that got it),
// driven the same way: `nodes` simulated nodes, one connection each, every node claiming every
// job's tick as its timers fire (all jobs of a round at once), the owner first, then the others
// (whose claims the owner's already holds). The owner confirms its grant with peers, as the
// library's nodes do (`confirm-2.lua`).
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { createClaimStore, jobKeyOf, nonOwnerClaim } from './library.mjs';
import { commandStats, serverCpu } from './redis.mjs';
import { sleep } from './stats.mjs';

/** Ticks are this far apart (ms), faster than real time, with retention scaled to match. */
const TICK_MS = 100;
/** A 1 s cron's record retention (500 ms deadline + 10 s margin), in ticks of 1 s. */
const RETENTION_TICKS = 10.5;

/** A request as TickClaimer sends it for a 1 s cron tick (defaults: no key, no catch-up). */
function request(job, tick, nodeId, n, confirm) {
  return {
    jobKey: job,
    tick,
    nodeId,
    signature: '',
    requestId: `${nodeId}.${n}`,
    notAfter: tick + 500,
    notBefore: tick - 500,
    cooldown: 0,
    retention: RETENTION_TICKS * TICK_MS,
    overlap: 'allow',
    runLease: 15_000,
    tokenFloor: 0,
    confirm,
    takeoverAfter: 62,
  };
}

const designs = {
  /**
   * The owner's claim, confirmed when it has peers; the others read the record first (and find
   * the tick held, after the owner's confirm).
   */
  async library({ stores, nodeIds, jobs, tick, n, sent, confirm = stores.length > 1 }) {
    sent.n += jobs.length * (confirm ? 2 : 1);
    const owner = await Promise.all(
      jobs.map((job) => stores[0].claim(request(job, tick, nodeIds[0], n, confirm))),
    );
    const confirmations = [];
    owner.forEach((result, j) => {
      if (result.status !== 'claimed') throw new Error(`library claim: ${result.status}`);
      if (confirm) {
        const grants = [{ tick: result.tick, token: result.token }];
        confirmations.push(stores[0].confirm({ jobKey: jobs[j], nodeId: nodeIds[0], grants }));
      }
    });
    // The others claim a grace after the owner (125 ms for a 1 s cron), by when it confirmed.
    await Promise.all(confirmations);
    await Promise.all(
      stores
        .slice(1)
        .flatMap((store, i) =>
          jobs.map((job) =>
            nonOwnerClaim(store, request(job, tick, nodeIds[i + 1], n, confirm), sent),
          ),
        ),
    );
    return jobs.length;
  },
  /** As `library`, with the owner's grant final at once (no confirm): what the confirm costs. */
  async unconfirmed(context) {
    return designs.library({ ...context, confirm: false });
  },
  /** SET NX PX by every node; INCR of the job's token by the one that got it. */
  async minimal({ clients, nodeIds, jobs, tick, sent }) {
    sent.n += jobs.length * (clients.length + 1);
    const px = Math.round(RETENTION_TICKS * TICK_MS);
    const set = (client, job, node) => client.set(`${job}:${tick}`, node, 'PX', px, 'NX');
    const owner = await Promise.all(jobs.map((job) => set(clients[0], job, nodeIds[0])));
    await Promise.all(
      owner.map((ok, j) => {
        if (ok !== 'OK') throw new Error('minimal claim refused');
        return clients[0].incr(`${jobs[j]}:token`);
      }),
    );
    await Promise.all(
      clients.slice(1).flatMap((client, i) => jobs.map((job) => set(client, job, nodeIds[i + 1]))),
    );
    return jobs.length;
  },
};

/**
 * Runs `design` with `nodes` nodes and `jobCount` jobs for `seconds`; returns Redis CPU (µs, from
 * INFO cpu: everything Redis did, connections included) and command time (µs, commandstats) per
 * claimed tick.
 */
export async function claimLoad({ redisUrl, admin, design, nodes, jobCount, seconds, prefix }) {
  const clients = Array.from({ length: nodes }, () => new Redis(redisUrl));
  await Promise.all(clients.map((c) => c.ping()));
  const stores = clients.map((client) => createClaimStore(client));
  const nodeIds = clients.map((_, i) => `sim-${i}`);
  const jobs = Array.from({ length: jobCount }, (_, j) =>
    design === 'minimal' ? `${prefix}:job-${j}` : jobKeyOf(prefix, 'pool', `job-${j}`),
  );
  let n = 0;
  const sent = { n: 0 };
  const round = async (tick) =>
    designs[design]({ stores, clients, nodeIds, jobs, tick, n: ++n, sent });
  // Warm-up: records up to the retention, so that each claim trims one, as in the steady state.
  const start = Math.floor(Date.now() / TICK_MS) * TICK_MS;
  let tick = start;
  const warmUntil = performance.now() + RETENTION_TICKS * TICK_MS + 200;
  while (performance.now() < warmUntil) {
    await round((tick += TICK_MS));
    await sleep(Math.max(0, tick + TICK_MS - Date.now()));
  }
  await admin.config('RESETSTAT');
  const cpuBefore = await serverCpu(admin);
  let claimed = 0;
  sent.n = 0;
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    claimed += await round((tick += TICK_MS));
    await sleep(Math.max(0, tick + TICK_MS - Date.now()));
  }
  const cpu = (await serverCpu(admin)) - cpuBefore;
  const stats = Object.entries(await commandStats(admin)).filter(
    ([name]) => name !== 'info' && !name.startsWith('config'),
  );
  const usec = stats.reduce((sum, [, s]) => sum + s.usec, 0);
  const roundTrips = sent.n / claimed;
  clients.forEach((c) => c.disconnect());
  return {
    claimed,
    cpuPerClaim: (cpu * 1e6) / claimed,
    commandPerClaim: usec / claimed,
    roundTrips,
    perCommand: Object.fromEntries(
      stats.map(([name, s]) => [name, { calls: s.calls / claimed, usec: s.usec / claimed }]),
    ),
  };
}

/**
 * What the confirm adds to the start path: one job, claims one after another on one connection
 * (nothing else queued), the time from sending the claim to holding a grant that may run, without
 * and with the confirm (ms, every claim a new tick).
 */
export async function confirmLatency({ redisUrl, prefix, count }) {
  const client = new Redis(redisUrl);
  const store = createClaimStore(client);
  const job = jobKeyOf(prefix, 'pool', 'latency');
  const samples = { claim: [], confirmed: [] };
  let tick = Math.floor(Date.now()) - 2 * count;
  for (let i = 0; i < 2 * count; i++) {
    const confirm = i % 2 === 1;
    const start = performance.now();
    const result = await store.claim(request(job, (tick += 1), 'sim-0', i, confirm));
    if (confirm) {
      const grants = [{ tick: result.tick, token: result.token }];
      await store.confirm({ jobKey: job, nodeId: 'sim-0', grants });
    }
    if (i >= 20) samples[confirm ? 'confirmed' : 'claim'].push(performance.now() - start);
  }
  client.disconnect();
  return samples;
}

#!/usr/bin/env node
// `npm run demo`: three sample nodes share three jobs on Redis. Watch which node runs each tick,
// SIGKILL one of them, watch the others take its ticks over, then stop the rest and count:
// every tick must have run exactly once. Exit code 0 only if none was doubled or missed.
//
// Env: REDIS_URL (else a throw-away redis-server is started), DEMO_PHASE_MS (default 10000:
// how long to run before and after the kill), HEARTBEAT_INTERVAL / HEARTBEAT_TTL (500 / 2000).
// The parts live in scripts/demo/; this file only runs the phases.
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusterPagesLine } from './demo/cluster-page.mjs';
import {
  HEARTBEAT_INTERVAL,
  HEARTBEAT_TTL,
  MAIN,
  MARGIN_MS,
  NODE_IDS,
  PHASE_MS,
} from './demo/config.mjs';
import { TTY, c, seconds } from './demo/format.mjs';
import { summarize } from './demo/ledger.mjs';
import { render } from './demo/live-table.mjs';
import { killNode, startNode, stopNodes, waitUntilUp } from './demo/nodes.mjs';
import { startRedis } from './demo/redis.mjs';
import { pollRing } from './demo/ring.mjs';
import { event, state } from './demo/state.mjs';
import { printSummary } from './demo/summary.mjs';
import { scrapeMetrics } from './demo/metrics.mjs';

async function main() {
  if (!existsSync(MAIN)) {
    throw new Error(`${MAIN} is missing: run \`npm run demo\`, which builds the sample first`);
  }
  const redis = await startRedis();
  let ticker;
  const cleanup = async () => {
    clearInterval(ticker);
    for (const node of state.nodes.values()) node.child.kill('SIGKILL');
    await redis.stop();
  };
  process.once('SIGINT', () => {
    process.stdout.write('\ninterrupted\n');
    cleanup().finally(() => process.exit(130));
  });

  try {
    if (!TTY) {
      process.stdout.write(
        `nestjs-redis-discovery demo: 3 nodes share 3 jobs on ${state.redisLabel}\n` +
          `heartbeat ${HEARTBEAT_INTERVAL} ms, lease ${HEARTBEAT_TTL} ms; SIGKILL one node after ${seconds(PHASE_MS)}, stop after ${seconds(2 * PHASE_MS)}\n`,
      );
    }
    const keyPrefix = `demo-${Date.now()}`;
    const nodes = await Promise.all(NODE_IDS.map((id) => startNode(id, redis.url, keyPrefix)));
    let polling = false;
    ticker = setInterval(() => {
      if (!polling) {
        polling = true;
        pollRing().finally(() => (polling = false));
      }
      if (TTY) render();
    }, 250);

    const firstUp = await waitUntilUp(nodes);
    if (!TTY) event(clusterPagesLine()); // on a terminal, the live table shows it
    state.countFrom = firstUp + MARGIN_MS;
    state.phase = `3 nodes for ${seconds(PHASE_MS)}`;
    await sleep(PHASE_MS);

    // SIGKILL the node that owns the every-second job: its ticks must move to the others.
    const victim = state.nodes.get(state.owners.report) ?? nodes[1];
    state.victim = victim.id;
    state.ownedByVictim = Object.entries(state.owners)
      .filter(([, owner]) => owner === victim.id)
      .map(([job]) => job);
    state.killedAt = Date.now();
    killNode(victim);
    event(
      c.red(`SIGKILL ${victim.id}`) +
        ` (owner of ${state.ownedByVictim.join(', ') || 'no job'}); its lease runs out within ${HEARTBEAT_TTL} ms`,
    );
    state.phase = `failover, 2 nodes for ${seconds(PHASE_MS)}`;
    await sleep(PHASE_MS);

    // Read the survivors' OpenTelemetry metrics (GET /metrics) while they are still up.
    const survivors = nodes.filter((n) => n.status === 'up');
    const scrapes = await scrapeMetrics(survivors);

    // SIGTERM the rest: they drain running jobs and deregister.
    const stopAt = Date.now();
    state.phase = 'stopping (SIGTERM)';
    event(`SIGTERM ${survivors.map((n) => n.id).join(', ')}`);
    const exits = await stopNodes(survivors);
    exits.push([victim.id, `killed (${await victim.exited})`]);
    state.phase = 'done';
    clearInterval(ticker);
    if (TTY) render();
    await redis.stop();

    const from = firstUp + MARGIN_MS;
    const to = stopAt - MARGIN_MS;
    const ok = printSummary(summarize(from, to), from, to, exits, scrapes);
    const clean = exits.every(([, how]) => !how.includes('exited with'));
    process.exitCode = ok && clean ? 0 : 1;
  } catch (error) {
    await cleanup();
    throw error;
  }
}

main().catch((error) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : error}\n`);
  process.exitCode = 1;
});

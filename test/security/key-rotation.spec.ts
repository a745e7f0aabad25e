import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  killAllNodes,
  NodeProcess,
  type JobSpec,
  type NodeReport,
} from '../support/node-process.js';
import { startRedis, type RedisHandle } from '../support/redis-harness.js';
import { checkTicks, innerWindow } from '../support/tick-checker.js';

const PERIOD = 1000;
const OLD = 'the-old-key-of-the-cluster';
const NEW = 'the-new-key-of-the-cluster';
/** The README's procedure: three rolling deploys, each replacing every replica in turn. */
const STEPS: Array<string | string[]> = [
  [OLD, NEW], // 1. add the new key: every replica accepts it, none signs with it yet
  [NEW, OLD], // 2. sign with the new key: the others still accept it (step 1), old records too
  NEW, // 3. remove the old key: nothing signed with it is left
];
/** How long a view may take to show a node that just got ready (its registration event). */
const SEEN_WITHIN_MS = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A rolling rotation of `signingKey` over 3 node processes, as a deploy does it: for each replica,
 * start its replacement with the new setting, then stop it. Throughout, every tick runs once and
 * every node sees every other: no record or claim of either key is refused or overridden.
 */
describe('rotating signingKey by rolling deploys', () => {
  let redis: RedisHandle;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await killAllNodes();
    await redis.stop();
  });

  it('3 replicas, 3 steps, 9 replacements: 0 doubled ticks, every node sees every other throughout', async () => {
    const jobs: JobSpec[] = [
      { name: 'rotating', cron: '* * * * * *', durationMs: 20 },
      { name: 'exclusive', cron: '* * * * * *', durationMs: 300, overlap: 'skip' },
    ];
    const start = (nodeId: string, signingKey: string | string[]) =>
      NodeProcess.start({
        discovery: {
          redis: redis.url,
          keyPrefix: 'rotation',
          nodeId,
          heartbeatInterval: 200,
          heartbeatTTL: 1000,
          signingKey,
        },
        jobs,
        reportViewMs: 100,
      });
    const all: NodeProcess[] = [];
    let replicas = await Promise.all(['a', 'b', 'c'].map((r) => start(`${r}0`, OLD)));
    all.push(...replicas);
    const startedAt = Date.now();
    await sleep(2000);
    for (const [step, key] of STEPS.entries()) {
      for (const [i, old] of replicas.entries()) {
        const replacement = await start(`${'abc'[i]}${step + 1}`, key);
        all.push(replacement);
        await sleep(700); // both run side by side, on different settings
        expect(await old.terminate()).toBe(0);
        replicas = replicas.map((r) => (r === old ? replacement : r));
        await sleep(700);
      }
    }
    // Long enough in all for the ledger to cover at least 20 ticks, however fast nodes start.
    await sleep(Math.max(2000, 24_000 - (Date.now() - startedAt)));
    const stoppedAt = Date.now();
    for (const node of replicas) expect(await node.terminate()).toBe(0);

    const reports = all.flatMap((n) => n.reports);
    const [from, to] = innerWindow(startedAt, stoppedAt, PERIOD);
    for (const job of ['rotating', 'exclusive']) {
      const ledger = checkTicks(reports, job, PERIOD, from, to);
      expect(ledger.expected).toBeGreaterThanOrEqual(20);
      expect({ job, doubled: ledger.doubled }).toEqual({ job, doubled: [] });
      expect({ job, missed: ledger.missed }).toEqual({ job, missed: [] });
    }
    expect(missingFromViews(all, reports)).toEqual([]);
    const views = reports.filter((r) => r.event === 'view');
    expect(views.length).toBeGreaterThan(300);
    // Nothing failed verification, so nothing was skipped or overridden.
    expect(views.filter((r) => r.stats!.unverified > 0)).toEqual([]);
    const unsigned = reports.filter(
      (r) => r.event === 'log' && /not signed by a peer|failed signature/.test(r.message ?? ''),
    );
    expect(unsigned).toEqual([]);
    for (const node of all) expect(node.problems()).toEqual([]);
  }, 120_000);
});

/**
 * Every view report of every node, checked against the nodes that were up then: ready at least
 * SEEN_WITHIN_MS before it and not yet closing. Returns what a view missed.
 */
function missingFromViews(nodes: NodeProcess[], reports: NodeReport[]): string[] {
  const lifetimes = nodes.map((node) => ({
    id: node.nodeId,
    ready: node.reports.find((r) => r.event === 'ready')!.at,
    closing: node.reports.find((r) => r.event === 'closing')?.at ?? Infinity,
  }));
  const missing: string[] = [];
  const closingOf = new Map(lifetimes.map((l) => [l.id, l.closing]));
  for (const view of reports.filter((r) => r.event === 'view')) {
    if (view.at >= closingOf.get(view.node)!) continue; // shutting down itself
    for (const peer of lifetimes) {
      const up = peer.ready + SEEN_WITHIN_MS <= view.at && view.at < peer.closing;
      if (up && !view.nodes!.includes(peer.id)) {
        missing.push(`${view.node} did not see ${peer.id} at ${view.at}`);
      }
    }
  }
  return missing;
}

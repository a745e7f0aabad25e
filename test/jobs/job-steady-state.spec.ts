import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { killAllNodes, NodeProcess } from '../support/node-process.js';
import { startRedis, type RedisHandle } from '../support/redis-harness.js';
import { checkTicks, innerWindow } from '../support/tick-checker.js';

const PERIOD = 1000;

describe('distributed jobs in steady state', () => {
  let redis: RedisHandle;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await killAllNodes();
    await redis.stop();
  });

  it('3 processes x 30 one-second jobs x 60 ticks: every tick runs exactly once, spread over the nodes', async () => {
    const jobs = Array.from({ length: 30 }, (_, i) => ({ name: `job-${i}`, cron: '* * * * * *' }));
    const nodes = await Promise.all(
      ['n1', 'n2', 'n3'].map((nodeId) =>
        NodeProcess.start({
          discovery: {
            redis: redis.url,
            keyPrefix: 'steady',
            nodeId,
            heartbeatInterval: 500,
            heartbeatTTL: 2000,
          },
          jobs,
        }),
      ),
    );
    const startedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 64_000));
    const stoppedAt = Date.now();
    await Promise.all(nodes.map((n) => n.terminate()));

    const reports = nodes.flatMap((n) => n.reports);
    const [from, to] = innerWindow(startedAt, stoppedAt, PERIOD);
    const ownersPerNode: Record<string, number> = {};
    for (const job of jobs) {
      const report = checkTicks(reports, job.name, PERIOD, from, to);
      expect({ job: job.name, doubled: report.doubled, missed: report.missed }).toEqual({
        job: job.name,
        doubled: [],
        missed: [],
      });
      expect(report.expected).toBeGreaterThanOrEqual(60);
      const [owner] = Object.entries(report.byNode).sort((a, b) => b[1] - a[1])[0];
      ownersPerNode[owner] = (ownersPerNode[owner] ?? 0) + 1;
    }
    // The ring spreads the jobs: every node owns a share.
    expect(Object.keys(ownersPerNode).sort()).toEqual(['n1', 'n2', 'n3']);
    for (const owned of Object.values(ownersPerNode)) expect(owned).toBeGreaterThanOrEqual(4);
    for (const node of nodes) expect(node.problems()).toEqual([]);
  }, 120_000);
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { DistributedJob } from 'nestjs-redis-discovery';
import { jobHistoryKeys, jobKey } from '../../lib/storage/registry-keys.js';
import { startNode, type TestNode } from '../support/nest-node.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { waitFor } from '../support/redis-harness.js';
import { closeClients, clusterClient } from './cluster-clients.js';

/**
 * Direct-call jobs whose keys land on different masters (checked below, not assumed); 200 ms windows
 * leave a 100 ms starting deadline, room for a confirmed claim of two apps in one busy process.
 */
@Injectable()
class ClusterJobs {
  runs: string[] = [];
  @DistributedJob({ name: 'alpha', period: 200 })
  alpha(): void {
    this.runs.push('alpha');
  }
  @DistributedJob({ name: 'delta', period: 200 })
  delta(): void {
    this.runs.push('delta');
  }
}

describe('operating jobs on Redis Cluster (3 masters)', () => {
  let cluster: RedisCluster;
  const nodes: TestNode[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await closeClients();
  });
  afterAll(async () => {
    await closeClients();
    await cluster?.stop();
  });

  const start = async (nodeId: string) => {
    const node = await startNode(
      {
        redis: clusterClient(cluster.startupNodes),
        keyPrefix: 'cluster-ops',
        nodeId,
        heartbeatInterval: 200,
        heartbeatTTL: 1000,
        poolSettleTime: 0,
      },
      { providers: [ClusterJobs] },
    );
    nodes.push(node);
    return node;
  };
  const nextWindow = () => new Promise((resolve) => setTimeout(resolve, 210));

  it("keeps a job's pause state, history and totals in the job's own slot", async () => {
    const slots = await Promise.all(
      ['alpha', 'delta'].map(async (name) => {
        const keys = jobHistoryKeys(jobKey('cluster-ops', 'default', name));
        return new Set(await Promise.all(keys.map((key) => cluster.keySlot(key))));
      }),
    );
    expect(slots.map((set) => set.size)).toEqual([1, 1]);
    const masters = await Promise.all(slots.map((set) => cluster.masterOf([...set][0])));
    expect(masters[0]).not.toBe(masters[1]);
  });

  it('pause from one node stops the job on another, on each master; the history and totals are read back', async () => {
    const a = await start('a');
    const b = await start('b');
    await waitFor(async () => (await a.discovery.getActiveNodes()).length === 2);
    const jobsOnB = b.app.get(ClusterJobs);
    for (const name of ['alpha', 'delta'] as const) {
      await jobsOnB[name]();
      await a.jobs.pause(name, { reason: `cluster ${name}` });
      await nextWindow();
      await jobsOnB[name]();
      expect(jobsOnB.runs.filter((run) => run === name)).toHaveLength(1);
      const paused = await b.jobs.describe(name);
      expect(paused).toMatchObject({ paused: true, pauseReason: `cluster ${name}`, pausedBy: 'a' });
      expect(paused.totals).toMatchObject({ runs: 1, ok: 1, skipped: { paused: 1 } });
      expect(paused.runs.map((r) => [r.node, r.outcome])).toEqual([['b', 'ok']]);
      await b.jobs.resume(name);
      await nextWindow();
      const triggered = await a.jobs.trigger(name);
      expect(triggered).toMatchObject({ status: 'ran', outcome: 'ok' });
      expect((await a.jobs.describe(name)).runs[0]).toMatchObject({ node: 'a', kind: 'trigger' });
    }
    expect(a.jobs.list().every((job) => job.skipped.redisError === 0)).toBe(true);
    expect(b.jobs.list().every((job) => job.skipped.redisError === 0)).toBe(true);
  });
});

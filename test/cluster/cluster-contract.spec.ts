import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ScheduleModule } from '@nestjs/schedule';
import { discoveryContract } from '../discovery/discovery.contract.js';
import { startNode, type TestNode } from '../support/nest-node.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { waitFor } from '../support/redis-harness.js';
import { CatchingUpTicker, checkTicksOnce } from './job-runs.js';
import { closeClients, clusterClient } from './cluster-clients.js';

describe('Redis Cluster (3 masters, 3 replicas) passed as an ioredis Cluster', () => {
  let cluster: RedisCluster;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  });
  afterAll(async () => {
    await closeClients();
    await cluster?.stop();
  });

  describe('discovery contract', () => {
    // One Cluster client per node, as separate apps would have: created by base() for each node.
    discoveryContract(() => ({ redis: clusterClient(cluster.startupNodes) }));
    // Declared after the contract's own afterEach, so it runs after the nodes closed.
    afterEach(async () => {
      await closeClients();
    });
  });

  describe('@DistributedJob() on the cluster', () => {
    const nodes: TestNode[] = [];
    afterEach(async () => {
      await Promise.all(nodes.splice(0).map((n) => n.close()));
      await closeClients();
    });

    it('two nodes, an @Interval(100) job: every tick runs once, ticks of a 350 ms stall as catch-ups, fencing tokens grow with the ticks', async () => {
      const options = (nodeId: string) => ({
        redis: clusterClient(cluster.startupNodes),
        keyPrefix: 'cluster-jobs',
        nodeId,
        heartbeatInterval: 200,
        heartbeatTTL: 1000,
        poolSettleTime: 0,
      });
      const extra = { imports: [ScheduleModule.forRoot()], providers: [CatchingUpTicker] };
      const a = await startNode(options('a'), extra);
      nodes.push(a);
      const b = await startNode(options('b'), extra);
      nodes.push(b);
      await waitFor(async () => (await a.discovery.getActiveNodes()).length === 2);
      await waitFor(async () => (await b.discovery.getActiveNodes()).length === 2);
      const startedAt = Date.now();
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      await sleep(1500);
      // Both nodes live in this process: stall it past a few windows and the deadline, as a long
      // GC or a loaded machine would. No timer fires for those ticks; the next claim catches up.
      for (const until = Date.now() + 350; Date.now() < until;);
      await sleep(1500);
      const stoppedAt = Date.now();

      const runs = { a: a.app.get(CatchingUpTicker).runs, b: b.app.get(CatchingUpTicker).runs };
      const report = checkTicksOnce(runs, 100, startedAt + 300, stoppedAt - 300);
      const skipped = [a, b].map((node) => node.jobs.list()[0].skipped);
      expect({ doubled: report.doubled, missed: report.missed }).toEqual({
        doubled: [],
        missed: [],
      });
      expect(
        Object.values(runs)
          .flat()
          .filter((run) => run.catchup).length,
      ).toBeGreaterThan(0);
      // No claim failed on the Cluster: scripts and slots work.
      expect(skipped.map((s) => s.redisError)).toEqual([0, 0]);
      expect(report.expected).toBeGreaterThanOrEqual(20);
      expect(report.tokenProblems).toEqual([]);
      // Both nodes agree on the job's owner.
      expect(a.jobs.list()[0].owner).toBe(b.jobs.list()[0].owner);
    });
  });

  /**
   * ioredis adds a client's `keyPrefix` to KEYS only; the scripts derive the service and pool set
   * keys from KEYS[1] (not from ARGV), so those sets carry the prefix too and stay in the slot.
   */
  describe('an ioredis keyPrefix on the Cluster client', () => {
    const nodes: TestNode[] = [];
    afterEach(async () => {
      await Promise.all(nodes.splice(0).map((n) => n.close()));
      await closeClients();
    });
    const start = async (keyPrefix: string, clientPrefix: string, nodeId: string) => {
      const node = await startNode({
        redis: clusterClient(cluster.startupNodes, { keyPrefix: clientPrefix }),
        keyPrefix,
        nodeId,
        services: [{ name: 'api' }],
        heartbeatInterval: 200,
        heartbeatTTL: 1000,
      });
      nodes.push(node);
      return node;
    };

    it("an ioredis keyPrefix 'app:' applies to the service sets too: fresh service lookups find the nodes", async () => {
      const a = await start('prefixed', 'app:', 'a');
      await start('prefixed', 'app:', 'b');
      await waitFor(async () => (await a.discovery.getActiveNodes()).length === 2);
      const fresh = await a.discovery.findNodesByService('api', undefined, { fresh: true });
      expect(fresh.map((n) => n.nodeId).sort()).toEqual(['a', 'b']);
    });

    it("an ioredis keyPrefix '{app}:' puts every key in one slot, service sets included: a node registers", async () => {
      // Slot of {app} is served by another master than the slot of {tagged}: checked, not assumed.
      expect(await cluster.masterOf(await cluster.keySlot('app'))).not.toBe(
        await cluster.masterOf(await cluster.keySlot('tagged')),
      );
      const a = await start('tagged', '{app}:', 'a');
      expect(await a.discovery.isNodeActive('a')).toBe(true);
    });
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ScheduleModule } from '@nestjs/schedule';
import type { DiscoveryModuleOptions } from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { startRedisSentinel, type RedisSentinel } from '../support/redis-sentinel.js';
import { waitFor } from '../support/redis-harness.js';
import { closeClients, clusterClient, sentinelClient } from './cluster-clients.js';
import { checkTicksOnce, Ticker } from './job-runs.js';

const KEY_PREFIX = 'failover';
const JOB_KEY = `${KEY_PREFIX}:job:{default:ticker}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Outcome {
  failoverMs: number;
  reRegistrations: number;
  doubled: number;
  runsAfter: number;
}

/**
 * Two nodes run discovery and an @Interval(100) job; the master under them is SIGKILLed. After the
 * failover a third node joins: all three must see each other, and the job's fencing tokens, read
 * in tick order over every run on every node, must only grow.
 */
async function survivesFailover(
  client: (nodeId: string) => DiscoveryModuleOptions['redis'],
  killMaster: () => Promise<unknown>,
  nodes: TestNode[],
): Promise<Outcome> {
  const start = async (nodeId: string) => {
    const node = await startNode(
      {
        redis: client(nodeId),
        keyPrefix: KEY_PREFIX,
        nodeId,
        heartbeatInterval: 200,
        heartbeatTTL: 2000,
        poolSettleTime: 0,
      },
      { imports: [ScheduleModule.forRoot()], providers: [Ticker] },
    );
    nodes.push(node);
    return node;
  };
  const sees = async (node: TestNode, ids: string[], fresh = false) =>
    (await node.discovery.getActiveNodes({ fresh }))
      .map((n) => n.nodeId)
      .sort()
      .join() === ids.join();

  const a = await start('a');
  const b = await start('b');
  await waitFor(async () => (await sees(a, ['a', 'b'])) && (await sees(b, ['a', 'b'])));
  const runs = () => ({ a: a.app.get(Ticker).runs, b: b.app.get(Ticker).runs });
  await waitFor(() => Object.values(runs()).flat().length >= 5, { timeout: 3000 });

  const killedAt = Date.now();
  await killMaster();
  const failoverMs = Date.now() - killedAt;

  // A node started after the failover is seen by both, and sees both.
  const c = await start('c');
  const all = ['a', 'b', 'c'];
  await waitFor(
    async () =>
      (await sees(a, all)) &&
      (await sees(b, all)) &&
      (await sees(c, all)) &&
      (await sees(c, all, true)),
    { timeout: 15_000, interval: 100, message: 'nodes did not find each other after the failover' },
  );
  for (const node of [a, b, c]) expect(node.discovery.leaseStatus().valid).toBe(true);
  // ...and lookups by service answer from the new master.
  expect((await c.discovery.findNodesByService('default', undefined, { fresh: true })).length).toBe(
    3,
  );

  // The job goes on after the failover.
  const resumedAt = Date.now();
  await waitFor(
    () =>
      [...Object.values(runs()), c.app.get(Ticker).runs].flat().filter((r) => r.at > resumedAt)
        .length >= 10,
    { timeout: 10_000, message: 'the job did not run after the failover' },
  );
  await sleep(300);

  const byNode = { ...runs(), c: c.app.get(Ticker).runs };
  const report = checkTicksOnce(byNode, 100, 0, -1);
  // Fencing tokens never go backwards (in the order claims were granted), across nodes and across
  // the failover, and no token is given twice.
  expect(report.tokenProblems).toEqual([]);
  // Away from the failover every tick runs once.
  const steady = checkTicksOnce(byNode, 100, resumedAt + 500, Date.now() - 500);
  expect({ doubled: steady.doubled, missed: steady.missed }).toEqual({ doubled: [], missed: [] });

  return {
    failoverMs,
    reRegistrations: a.discovery.stats.reRegistrations + b.discovery.stats.reRegistrations,
    doubled: report.doubled.length,
    runsAfter: Object.values(byNode)
      .flat()
      .filter((r) => r.at > resumedAt).length,
  };
}

describe('failover under running nodes', () => {
  const nodes: TestNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await closeClients();
  });

  describe('Redis Cluster', () => {
    let cluster: RedisCluster;
    beforeAll(async () => {
      cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    });
    afterAll(async () => {
      await cluster?.stop();
    });

    it('the master of the namespace slot (also the job key slot) is SIGKILLed: a replica takes over, nodes keep finding each other and a new node, tokens never go backwards', async () => {
      const registrySlot = await cluster.keySlot(`{${KEY_PREFIX}}:nodes`);
      const master = await cluster.masterOf(registrySlot);
      expect(await cluster.masterOf(await cluster.keySlot(JOB_KEY))).toBe(master);

      const outcome = await survivesFailover(
        () => clusterClient(cluster.startupNodes),
        async () => {
          const { killed, promoted } = await cluster.killMaster(registrySlot);
          expect(killed).toBe(master);
          expect(await cluster.masterOf(registrySlot)).toBe(promoted);
        },
        nodes,
      );
      if (process.env.DEBUG_FAILOVER) console.log('cluster failover', outcome);
    }, 60_000);
  });

  describe('Sentinel', () => {
    let sentinel: RedisSentinel;
    beforeAll(async () => {
      sentinel = await startRedisSentinel();
    });
    afterAll(async () => {
      await sentinel?.stop();
    });

    it('the master is SIGKILLed: the sentinels promote the replica, Sentinel-managed clients follow it, nodes keep finding each other and a new node, tokens never go backwards', async () => {
      const outcome = await survivesFailover(
        // a and b get a Sentinel-managed client each; c, started after the failover, passes
        // RedisOptions, so the module opens (and closes) its own Sentinel-managed client.
        (nodeId) =>
          nodeId === 'c'
            ? { sentinels: sentinel.sentinels, name: sentinel.name }
            : sentinelClient(sentinel.sentinels, sentinel.name),
        async () => {
          const { killed, promoted } = await sentinel.killMaster();
          expect(promoted).not.toBe(killed);
          expect(await sentinel.masterPort()).toBe(promoted);
        },
        nodes,
      );
      if (process.env.DEBUG_FAILOVER) console.log('sentinel failover', outcome);
    }, 60_000);
  });
});

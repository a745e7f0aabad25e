import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { NodePool } from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

describe('NodePool', () => {
  let redis: RedisHandle;
  let namespace = 0;
  const nodes: TestNode[] = [];
  const start = async (nodeId: string, extra: object = {}, keyPrefix = `pool-${namespace}`) => {
    const node = await startNode({
      redis: redis.url,
      keyPrefix,
      nodeId,
      heartbeatInterval: 200,
      heartbeatTTL: 1000,
      poolSettleTime: 300,
      ...extra,
    });
    nodes.push(node);
    return node;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    namespace += 1;
    await Promise.all(nodes.splice(0).map((n) => n.close()));
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('is safe to call before it has any node: false and empty, never a throw', async () => {
    const node = await start('a', { clientMode: true });
    const pool = node.app.get(NodePool);
    expect(pool.checkJobAvailable('job')).toBe(false);
    expect(pool.getHost('job')).toBeUndefined();
    expect(pool.getNodes()).toEqual([]);
    expect(pool.getNodeId()).toBe('a');
    expect(pool.getLastNodesUpdateTime()).toBeUndefined();
  });

  it('gives each job exactly one owner, the same on every node, once steady', async () => {
    const members = [await start('a'), await start('b'), await start('c')];
    await waitFor(() =>
      members.every((m) => m.pool.getNodes().length === 3 && m.pool.getState() === 'steady'),
    );
    const jobs = Array.from({ length: 30 }, (_, i) => `job-${i}`);
    for (const job of jobs) {
      const owners = members.filter((m) => m.pool.checkJobAvailable(job));
      expect(owners).toHaveLength(1);
      expect(members.map((m) => m.pool.getHost(job))).toEqual(
        Array(3).fill(owners[0].pool.getNodeId()),
      );
    }
    const perNode = members.map((m) => jobs.filter((job) => m.pool.checkJobAvailable(job)).length);
    expect(perNode.every((count) => count > 0)).toBe(true);
  });

  it('reports upgrading while membership changes, then steady, and takes no job while upgrading', async () => {
    const a = await start('a');
    await waitFor(() => a.pool.getState() === 'steady' && a.pool.getNodes().length === 1);
    const before = a.pool.getLastNodesUpdateTime()!;
    await start('b');
    await waitFor(() => a.pool.getNodes().length === 2);
    expect(a.pool.getState()).toBe('upgrading');
    expect(a.pool.checkJobAvailable('any-job')).toBe(false);
    expect(a.pool.getLastNodesUpdateTime()!.getTime()).toBeGreaterThanOrEqual(before.getTime());
    await waitFor(() => a.pool.getState() === 'steady');
  });

  it('pools only the nodes of its own serviceName', async () => {
    const a = await start('a', { serviceName: 'billing' });
    await start('b', { serviceName: 'billing' });
    await start('c', { serviceName: 'search' });
    await waitFor(() => a.discovery.isNodeActive('c'));
    expect(a.pool.getNodes()).toEqual(['a', 'b']);
  });

  it('keeps jobs per node within 1.25x of the mean in bounded mode', async () => {
    const members = [
      await start('a', { balance: 'bounded' }),
      await start('b', { balance: 'bounded' }),
      await start('c', { balance: 'bounded' }),
    ];
    const jobs = Array.from({ length: 40 }, (_, i) => `job-${i}`);
    for (const member of members) member.pool.setJobNames(jobs);
    await waitFor(() =>
      members.every((m) => m.pool.getNodes().length === 3 && m.pool.getState() === 'steady'),
    );
    const perNode = members.map((m) => jobs.filter((job) => m.pool.checkJobAvailable(job)).length);
    expect(perNode.reduce((a, b) => a + b)).toBe(40);
    expect(Math.max(...perNode)).toBeLessThanOrEqual(Math.ceil((1.25 * 40) / 3));
  });

  it('ranks nodes for failover: owner 0, the others after it', async () => {
    const members = [await start('a'), await start('b'), await start('c')];
    await waitFor(() => members.every((m) => m.pool.getNodes().length === 3));
    const ranks = members.map((m) => m.pool.rank('job-x')).sort();
    expect(ranks).toEqual([0, 1, 2]);
  });
});

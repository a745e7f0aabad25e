// A node's membership through what real deployments do to it, on a real Redis and node processes:
// a restart with the same id after a crash, a shutdown while Redis stands still, a start that
// gives up while its first beat is on its way, and a slow link.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RegistryUnavailableError, type DiscoveryEvent } from 'nestjs-redis-discovery';
import { RedisScript } from '../../lib/storage/redis/redis-script.js';
import { startNode, type TestNode } from '../support/nest-node.js';
import { killAllNodes, NodeProcess } from '../support/node-process.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { registrationsOf } from './registry-probe.js';

type Heard = DiscoveryEvent & { receivedAt: number };

describe('membership in real deployments', () => {
  let redis: RedisHandle;
  let admin: Redis;
  let keyPrefix: string;
  let namespace = 0;
  const nodes: TestNode[] = [];
  const proxies: TcpProxy[] = [];

  async function node(nodeId: string, extra: object = {}): Promise<TestNode> {
    const started = await startNode({ redis: redis.url, keyPrefix, nodeId, ...extra });
    nodes.push(started);
    return started;
  }

  async function observer(extra: object = {}): Promise<{ peer: TestNode; events: Heard[] }> {
    const peer = await node('observer', { serviceName: 'observers', ...extra });
    const events: Heard[] = [];
    await peer.discovery.subscribeToEvents((event) => {
      events.push({ ...event, receivedAt: Date.now() });
    });
    return { peer, events };
  }

  const about = (events: Heard[], nodeId: string) => events.filter((e) => e.nodeId === nodeId);

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  });
  beforeEach(() => {
    keyPrefix = `${redis.keyPrefix}membership-${namespace++}`;
  });
  afterEach(async () => {
    redis.resume();
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await killAllNodes();
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    await admin?.quit();
    await redis?.stop();
  });

  describe('a restart with the same nodeId', () => {
    const TIMING = { heartbeatInterval: 500, heartbeatTTL: 3000 } as const;

    it('after SIGKILL, within the TTL: waits for the dead holder’s deadline, then starts (and says why)', async () => {
      const config = () => ({
        discovery: { redis: redis.url, nodeId: 'stable-0', keyPrefix, ...TIMING },
      });
      const first = await NodeProcess.start(config());
      await first.kill();
      const killedAt = Date.now();
      const deadline = Number(await admin.zscore(`{${keyPrefix}}:deadlines`, 'stable-0'));
      const [seconds, micros] = await admin.time();
      const redisNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const remaining = deadline - redisNow;
      expect(remaining).toBeGreaterThan(1000); // restarted well within the TTL

      const second = await NodeProcess.start(config());
      const readyAt = second.reports.find((r) => r.event === 'ready')!.at;
      // Started once the dead holder's deadline passed: not at once, not much later.
      expect(readyAt - killedAt).toBeGreaterThanOrEqual(remaining - 100);
      expect(readyAt - killedAt).toBeLessThan(TIMING.heartbeatTTL + 2000);
      const warnings = second.reports.filter((r) => r.event === 'log').map((r) => r.message);
      expect(
        warnings.some((m) => /still held by another process .*crashed predecessor/.test(m!)),
      ).toBe(true);
      expect(second.problems()).toEqual([]);
      expect(await registrationsOf(admin, keyPrefix, 'stable-0')).not.toEqual([]);
    }, 30_000);

    it('while the holder is alive: fails after one wait, saying a live process holds the id', async () => {
      const config = {
        discovery: { redis: redis.url, nodeId: 'stable-1', keyPrefix, ...TIMING },
      };
      const holder = await NodeProcess.start(config);
      const begun = Date.now();
      const failure = await NodeProcess.start(config).then(
        () => undefined,
        (error: Error & { node?: NodeProcess }) => error,
      );
      expect(failure?.message).toMatch(/exited with .* before ready/);
      const said = failure!.node!.reports.map((r) => r.message ?? '');
      expect(said.some((m) => /still held by another process/.test(m))).toBe(true);
      expect(said.some((m) => /held by a live process: it renewed/.test(m))).toBe(true);
      // It waited once (at most the holder's remaining TTL), then gave up.
      expect(Date.now() - begun).toBeLessThan(TIMING.heartbeatTTL + 3000);
      expect(holder.problems()).toEqual([]);
    }, 30_000);
  });

  describe('a shutdown while Redis is paused for 3 x the TTL', () => {
    const TIMING = { heartbeatInterval: 200, heartbeatTTL: 1000 } as const;

    it('deregisters as soon as Redis is back: gone within one round trip, peers hear "shutdown"', async () => {
      const { events } = await observer(TIMING);
      const subject = await node('subject', TIMING);
      await waitFor(() => about(events, 'subject').length === 1);
      events.length = 0;

      redis.pause();
      // A beat of each node is now stalled in Redis.
      await new Promise((resolve) => setTimeout(resolve, 2 * TIMING.heartbeatInterval));
      const closing = subject.close();
      await new Promise((resolve) => setTimeout(resolve, 3 * TIMING.heartbeatTTL));
      redis.resume();
      const resumedAt = Date.now();

      await waitFor(async () => (await registrationsOf(admin, keyPrefix, 'subject')).length === 0, {
        timeout: 100,
        interval: 5,
        message: 'the node was still registered after Redis returned',
      });
      await closing;
      const [gone] = (await waitFor(
        () => {
          const found = about(events, 'subject').filter((e) => e.type === 'NODE_DEREGISTERED');
          return found.length > 0 ? found : undefined;
        },
        { timeout: 500, message: 'the observer never heard the node leave' },
      ))!;
      expect(gone.reason).toBe('shutdown');
      expect(gone.receivedAt - resumedAt).toBeLessThan(500);
      // No late beat brings it back, and nothing reads as an expiry.
      await new Promise((resolve) => setTimeout(resolve, TIMING.heartbeatTTL + 300));
      expect(await registrationsOf(admin, keyPrefix, 'subject')).toEqual([]);
      const leaves = about(events, 'subject').filter((e) => e.type === 'NODE_DEREGISTERED');
      expect(leaves.map((e) => e.reason)).toEqual(['shutdown']);
      expect(about(events, 'subject').filter((e) => e.type === 'NODE_REGISTERED')).toEqual([]);
    }, 20_000);
  });

  describe('a start that gives up while its first heartbeat is on its way', () => {
    it('leaves no record: the deregistration follows the beat, and its tombstone outlives it', async () => {
      const TIMING = { heartbeatInterval: 1000, heartbeatTTL: 5000, startupTimeout: 1000 };
      const { events } = await observer(TIMING);
      // Redis is slow to take the heartbeat script (and only it): 3 s on the way in.
      const beat = new RedisScript('beat-4');
      await admin.script('LOAD', beat.source);
      const proxy = await TcpProxy.start(redis.port, redis.host);
      proxies.push(proxy);
      proxy.holdRequest = (chunk) => (chunk.includes(beat.sha) ? 3000 : 0);

      const begun = Date.now();
      const failure = await startNode({
        redis: `redis://127.0.0.1:${proxy.port}`,
        keyPrefix,
        nodeId: 'hasty',
        ...TIMING,
      }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(RegistryUnavailableError);
      // The start waited for the deregistration it sent behind the beat.
      expect(Date.now() - begun).toBeGreaterThanOrEqual(3000);
      expect(await registrationsOf(admin, keyPrefix, 'hasty')).toEqual([]);
      // The beat registered it for a moment, and the deregistration removed it.
      await waitFor(() => about(events, 'hasty').length === 2, { timeout: 1000 });
      expect(about(events, 'hasty').map((e) => e.type)).toEqual([
        'NODE_REGISTERED',
        'NODE_DEREGISTERED',
      ]);
      expect(about(events, 'hasty')[1].reason).toBe('shutdown');
      // The tombstone lapses after the TTL, and the next heartbeat (the observer's) removes it.
      const { heartbeatTTL, heartbeatInterval } = TIMING;
      await new Promise((resolve) => setTimeout(resolve, heartbeatTTL + heartbeatInterval + 300));
      expect(await admin.hget(`{${keyPrefix}}:meta`, 'o:hasty')).toBeNull();
      expect(await registrationsOf(admin, keyPrefix, 'hasty')).toEqual([]);
    }, 30_000);
  });

  describe('a slow link', () => {
    it('300 ms each way: heartbeats on a fixed schedule keep the lease (round trip < TTL - interval)', async () => {
      // Round trip 600 ms > (TTL - interval) / 2 = 450 ms: a beat scheduled after the reply of
      // the one before would come too late; one scheduled from its send time does not.
      const TIMING = { heartbeatInterval: 700, heartbeatTTL: 1600 };
      const proxy = await TcpProxy.start(redis.port, redis.host);
      proxies.push(proxy);
      const slow = await startNode({
        redis: `redis://127.0.0.1:${proxy.port}`,
        keyPrefix,
        nodeId: 'far-away',
        ...TIMING,
      });
      nodes.push(slow);
      proxy.latencyMs = 300;
      // Settle on the slow link first (a beat sent before the latency began is answered late).
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const invalid: number[] = [];
      const until = Date.now() + 8000;
      while (Date.now() < until) {
        if (!slow.discovery.leaseStatus().valid) invalid.push(Date.now());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(invalid).toEqual([]);
      expect(slow.discovery.stats.reRegistrations).toBe(0);
      expect(slow.discovery.stats.heartbeatFailures).toBe(0);
    }, 30_000);
  });
});

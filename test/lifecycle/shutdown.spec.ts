import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import { DistributedJob, getJobContext, type DiscoveryEvent } from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { killAllNodes, NodeProcess } from '../support/node-process.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';
import { connectionsNamed, registrationsOf } from './registry-probe.js';

const FAST = { heartbeatInterval: 200, heartbeatTTL: 1000 } as const;
const JOB_MS = 500;

/** What the job below saw, for the test to check. */
interface RunTrace {
  startedAt?: number;
  finishedAt?: number;
  aborted?: boolean;
  /** The node's registrations as the run ended: the node must still be registered then. */
  registeredAtEnd?: string[];
}

/** An event as the observer got it, with when (local time). */
type Heard = DiscoveryEvent & { receivedAt: number };

let trace: RunTrace = {};
let probe: (() => Promise<string[]>) | undefined;

@Injectable()
class SlowJobs {
  /** Called directly by the test (no schedule): one guarded run that takes JOB_MS. */
  @DistributedJob({ name: 'slow', period: 60_000 })
  async slow(): Promise<string> {
    const context = getJobContext()!;
    trace.startedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, JOB_MS));
    trace.registeredAtEnd = await probe?.();
    trace.aborted = context.signal.aborted;
    trace.finishedAt = Date.now();
    return 'finished';
  }
}

describe('graceful shutdown', () => {
  let redis: RedisHandle;
  let admin: Redis;
  let keyPrefix: string;
  let namespace = 0;
  const nodes: TestNode[] = [];

  async function node(nodeId: string, extra: object = {}, providers: Array<typeof SlowJobs> = []) {
    const started = await startNode(
      { redis: redis.url, keyPrefix, nodeId, ...FAST, ...extra },
      { providers },
    );
    nodes.push(started);
    return started;
  }

  /** A peer in another pool (so it takes no job of the subject) that records every event. */
  async function observer(): Promise<{ events: Heard[] }> {
    const peer = await node('observer', { serviceName: 'observers' });
    const events: Heard[] = [];
    await peer.discovery.subscribeToEvents((event) => {
      events.push({ ...event, receivedAt: Date.now() });
    });
    return { events };
  }

  const deregistered = (events: Heard[], nodeId: string) =>
    events.filter((e) => e.type === 'NODE_DEREGISTERED' && e.nodeId === nodeId);

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  });
  beforeEach(() => {
    keyPrefix = `${redis.keyPrefix}lifecycle-${namespace++}`;
    trace = {};
    probe = undefined;
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await killAllNodes();
  });
  afterAll(async () => {
    await admin?.quit();
    await redis?.stop();
  });

  describe('app.close()', () => {
    it('drains a running job, then deregisters: peers hear "shutdown" within 100 ms', async () => {
      const { events } = await observer();
      const subject = await node('subject', {}, [SlowJobs]);
      await waitFor(async () => (await subject.discovery.getActiveNodes()).length === 2);
      expect(await registrationsOf(admin, keyPrefix, 'subject')).not.toEqual([]);
      // Module-owned connections (command and subscriber) carry the node's connection name.
      expect((await connectionsNamed(admin, 'discovery:subject')).length).toBeGreaterThanOrEqual(2);
      probe = () => registrationsOf(admin, keyPrefix, 'subject');

      const run = subject.app.get(SlowJobs).slow();
      await waitFor(() => trace.startedAt !== undefined, { message: 'the job never started' });
      await subject.close();
      const closedAt = Date.now();
      const [event] = (await waitFor(
        () =>
          deregistered(events, 'subject').length > 0 ? deregistered(events, 'subject') : undefined,
        { timeout: 100, message: 'no NODE_DEREGISTERED within 100 ms of close()' },
      ))!;

      // The job ran to its end, unaborted, while the node was still registered.
      expect(await run).toBe('finished');
      expect(trace.aborted).toBe(false);
      expect(trace.finishedAt).toBeLessThanOrEqual(closedAt);
      expect(trace.registeredAtEnd).not.toEqual([]);

      expect(event).toMatchObject({
        type: 'NODE_DEREGISTERED',
        nodeId: 'subject',
        reason: 'shutdown',
      });
      expect(event.receivedAt).toBeGreaterThanOrEqual(trace.finishedAt!);

      expect(await registrationsOf(admin, keyPrefix, 'subject')).toEqual([]);
      // Quit and disconnect are sent by close(); Redis drops the sockets as it reads them.
      await waitFor(async () => (await connectionsNamed(admin, 'discovery:subject')).length === 0, {
        timeout: 500,
        message: 'module-owned connections still open after close()',
      });
      // One event only, and never an expiry.
      await new Promise((resolve) => setTimeout(resolve, FAST.heartbeatTTL + 300));
      expect(deregistered(events, 'subject')).toHaveLength(1);
    });

    it('leaves a Redis client passed in by the app open, and closes what the module opened', async () => {
      const name = `app-client-${namespace}`;
      const client = new Redis(redis.url, { connectionName: name });
      try {
        const { events } = await observer();
        const subject = await node('borrower', { redis: client });
        await waitFor(async () => (await subject.discovery.getActiveNodes()).length === 2);
        // The app's connection, and the subscriber the module duplicated from it.
        expect(await connectionsNamed(admin, name)).toHaveLength(2);

        await subject.close();
        await waitFor(() => deregistered(events, 'borrower').length > 0, { timeout: 100 });
        expect(deregistered(events, 'borrower')[0].reason).toBe('shutdown');

        expect(client.status).toBe('ready');
        expect(await client.ping()).toBe('PONG');
        await client.set(`${keyPrefix}:after-close`, 'still usable');
        expect(await client.get(`${keyPrefix}:after-close`)).toBe('still usable');
        const [own] = (await waitFor(
          async () => {
            const open = await connectionsNamed(admin, name);
            return open.length === 1 ? open : undefined;
          },
          { timeout: 1000, message: 'the module left its subscriber connection open' },
        ))!;
        expect(own).not.toMatch(/ sub=[1-9]/);
        expect(await registrationsOf(admin, keyPrefix, 'borrower')).toEqual([]);
      } finally {
        await client.quit();
      }
    });
  });

  describe('SIGTERM to a node process', () => {
    it('drains the running job, deregisters ("shutdown", not "expired"), exits 0', async () => {
      const { events } = await observer();
      const subject = await NodeProcess.start({
        discovery: { redis: redis.url, nodeId: 'worker', keyPrefix, ...FAST },
        jobs: [{ name: 'long', cron: '* * * * * *', durationMs: 600 }],
      });
      await waitFor(
        () => deregistered(events, 'worker').length === 0 && subject.runs('long').length > 0,
        {
          timeout: 5000,
          message: 'the job never ran',
        },
      );
      // SIGTERM while a run is in flight: after its 'run' report, before its 'done'.
      const inFlight = (await waitFor(
        () => {
          const last = subject.runs('long').at(-1);
          const done = subject.reports.some((r) => r.event === 'done' && r.tick === last?.tick);
          return last && !done && Date.now() - last.at < 300 ? last : undefined;
        },
        { timeout: 5000, interval: 5, message: 'never caught the job running' },
      ))!;
      expect(await subject.terminate()).toBe(0);

      const reports = subject.reports;
      const done = reports.find((r) => r.event === 'done' && r.tick === inFlight.tick);
      expect(done).toBeDefined();
      expect(reports.filter((r) => r.event === 'aborted')).toEqual([]);
      expect(subject.problems()).toEqual([]);

      const [event] = (await waitFor(
        () =>
          deregistered(events, 'worker').length > 0 ? deregistered(events, 'worker') : undefined,
        { timeout: 1000, message: 'the observer never heard the node leave' },
      ))!;
      expect(event.reason).toBe('shutdown');
      expect(event.receivedAt).toBeGreaterThanOrEqual(done!.at);
      expect(await registrationsOf(admin, keyPrefix, 'worker')).toEqual([]);
      // Nothing later reads as an expiry.
      await new Promise((resolve) => setTimeout(resolve, FAST.heartbeatTTL + 300));
      expect(deregistered(events, 'worker').map((e) => e.reason)).toEqual(['shutdown']);
    });
  });
});

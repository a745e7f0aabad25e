import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { DistributedJob } from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { waitFor } from '../support/redis-harness.js';
import { closeClients, clusterClient, nodeClient } from './cluster-clients.js';

/** Jobs called directly once each, so that each leaves its claim key. */
@Injectable()
class ReportJobs {
  @DistributedJob({ period: 60_000 }) invoices(): void {}
  @DistributedJob({ period: 60_000 }) reminders(): void {}
  @DistributedJob({ period: 60_000 }) cleanup(): void {}
  @DistributedJob({ period: 60_000 }) exports(): void {}
  @DistributedJob({ period: 60_000 }) digest(): void {}
  @DistributedJob({ period: 60_000 }) rollup(): void {}
  @DistributedJob({ period: 60_000 }) sitemap(): void {}
  @DistributedJob({ period: 60_000 }) backup(): void {}
}
const JOB_METHODS = [
  'invoices',
  'reminders',
  'cleanup',
  'exports',
  'digest',
  'rollup',
  'sitemap',
  'backup',
] as const;

const NAMESPACES = ['orders', 'billing', 'search'];

interface KeyPlace {
  key: string;
  slot: number;
  master: number;
}

/**
 * Where the library's keys live on a 3-master cluster. Findings, in the test names below:
 * a namespace's registry is one slot (hence one master); claim keys are tagged `{pool:job}`, so
 * the jobs of a pool spread over the masters and do not depend on the keyPrefix; events are
 * classic PUBLISH from inside the scripts, which the cluster bus fans out to every node.
 */
describe('key layout on a Redis Cluster', () => {
  let cluster: RedisCluster;
  const nodes: TestNode[] = [];
  let places: KeyPlace[] = [];
  const masterIndex = new Map<number, number>();

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    for (const keyPrefix of NAMESPACES) {
      const node = await startNode(
        {
          redis: clusterClient(cluster.startupNodes),
          keyPrefix,
          nodeId: `${keyPrefix}-1`,
          services: [{ name: 'api', version: '1.0.0' }, { name: 'worker' }],
          heartbeatInterval: 200,
          heartbeatTTL: 1000,
          poolSettleTime: 0,
        },
        { providers: [ReportJobs] },
      );
      nodes.push(node);
      const jobs = node.app.get(ReportJobs);
      for (const method of JOB_METHODS) await jobs[method]();
    }
    // Every key in the cluster, with its slot and the master holding it.
    const masters = (await cluster.masters()).sort((a, b) => a.ranges[0][0] - b.ranges[0][0]);
    masters.forEach((m, i) => masterIndex.set(m.port, i));
    for (const master of masters) {
      const keys = await nodeClient(master.port).keys('*');
      for (const key of keys) {
        places.push({ key, slot: await cluster.keySlot(key), master: master.port });
      }
    }
    places = places.sort((a, b) => a.key.localeCompare(b.key));
    if (process.env.DEBUG_LAYOUT) {
      const rows = places.map(
        (p) => `${p.key.padEnd(40)} slot ${p.slot} master #${masterIndex.get(p.master)}`,
      );
      console.log(
        `slots: ${masters.map((m, i) => `#${i} ${JSON.stringify(m.ranges)}`).join(', ')}\n${rows.join('\n')}`,
      );
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await closeClients();
    await cluster?.stop();
  });

  const registryOf = (ns: string) => places.filter((p) => p.key.startsWith(`{${ns}}:`));
  const jobsOf = (ns: string) => places.filter((p) => p.key.startsWith(`${ns}:job:`));

  it('every registry key of a namespace (nodes, deadlines, meta, svc:*, pool:*) has the slot of the {keyPrefix} tag, so one master serves the whole namespace', async () => {
    for (const ns of NAMESPACES) {
      const keys = registryOf(ns);
      expect(keys.map((p) => p.key).sort()).toEqual(
        [
          `{${ns}}:deadlines`,
          `{${ns}}:meta`,
          `{${ns}}:nodes`,
          `{${ns}}:pool:default`,
          `{${ns}}:svc:api`,
          `{${ns}}:svc:worker`,
        ].sort(),
      );
      const tagSlot = await cluster.keySlot(ns);
      expect(new Set(keys.map((p) => p.slot))).toEqual(new Set([tagSlot]));
      expect(new Set(keys.map((p) => p.master)).size).toBe(1);
    }
  });

  it('different namespaces hash to different slots and may sit on different masters (here: all three)', () => {
    const slots = NAMESPACES.map((ns) => registryOf(ns)[0].slot);
    expect(new Set(slots).size).toBe(NAMESPACES.length);
    const masters = new Set(NAMESPACES.map((ns) => registryOf(ns)[0].master));
    expect(masters.size).toBe(3);
  });

  it('claim keys are tagged {pool:job}: the jobs of one pool spread over more than one master, not pinned to the registry shard', () => {
    for (const ns of NAMESPACES) {
      const jobs = jobsOf(ns);
      expect(jobs.map((p) => p.key).sort()).toEqual(
        JOB_METHODS.flatMap((m) => [
          `${ns}:job:{default:ReportJobs.${m}}`,
          `${ns}:job:{default:ReportJobs.${m}}:runs`,
          `${ns}:job:{default:ReportJobs.${m}}:ticks`,
        ]).sort(),
      );
      expect(new Set(jobs.map((p) => p.master)).size).toBeGreaterThan(1);
      // A job's keys (hash, ticks and run history) share the job's slot: one script touches all.
      expect(new Set(jobs.map((p) => p.slot)).size).toBe(JOB_METHODS.length);
      for (const p of jobs.filter((j) => j.key.endsWith(':ticks') || j.key.endsWith(':runs'))) {
        const hash = p.key.replace(/:(ticks|runs)$/, '');
        expect(jobs.find((j) => j.key === hash)!.slot).toBe(p.slot);
      }
    }
  });

  it('a claim key slot ignores the keyPrefix: the same pool and job name share one slot (distinct keys) across namespaces', () => {
    for (const method of JOB_METHODS) {
      const sameJob = NAMESPACES.map((ns) =>
        places.find((p) => p.key === `${ns}:job:{default:ReportJobs.${method}}`)!,
      );
      expect(new Set(sameJob.map((p) => p.slot)).size).toBe(1);
    }
  });

  it('nothing else is stored: only registry keys and claim keys, all of them in a known namespace', () => {
    const known = NAMESPACES.flatMap((ns) => [...registryOf(ns), ...jobsOf(ns)]);
    expect(known.length).toBe(places.length);
  });

  it('events are PUBLISHed from the scripts on the namespace master and reach subscribers on every node, masters and replicas', async () => {
    const ns = 'fanout';
    const received = new Map<number, string[]>();
    await Promise.all(
      cluster.nodes.map(async ({ port }) => {
        const subscriber = nodeClient(port);
        received.set(port, []);
        subscriber.on('message', (_channel: string, message: string) =>
          received.get(port)!.push(message),
        );
        await subscriber.subscribe(`${ns}:events`);
      }),
    );
    const node = await startNode({
      redis: clusterClient(cluster.startupNodes),
      keyPrefix: ns,
      nodeId: 'announcer',
      heartbeatInterval: 200,
      heartbeatTTL: 1000,
    });
    nodes.push(node);
    await waitFor(
      () =>
        [...received.values()].every((messages) =>
          messages.some((m) => JSON.parse(m).type === 'NODE_REGISTERED'),
        ),
      { timeout: 2000, message: 'not every node delivered the registration event' },
    );
    // One master ran the script; the other five nodes got the message over the cluster bus.
    expect([...received.keys()].length).toBe(6);
  });
});

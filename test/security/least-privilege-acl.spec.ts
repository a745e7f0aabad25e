import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  DistributedJob,
  type DiscoveryEvent,
  type DiscoveryModuleOptions,
} from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { killAllNodes, NodeProcess } from '../support/node-process.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

/**
 * The README's least-privilege user of one namespace (`<prefix>` = `tenant`), word for word: the
 * commands the library sends and its scripts call, nothing of @dangerous, nothing keyspace-wide.
 */
const RECIPE = `ACL SETUSER tenant on >tenant-pass resetkeys ~{tenant}:* ~tenant:job:{* resetchannels &tenant:events -@all +evalsha +eval +hget +hmget +hscan +smembers +subscribe +unsubscribe +quit +ping +client|setname +hset +hdel +hexists +hgetall +hincrby +sadd +srem +zadd +zrem +zrange +zrangebyscore +zrevrange +zrevrangebyscore +zscore +zmscore +publish +time`;

/** What the library sends itself: scripts, the reads outside them, the subscription, the handshake. */
const CLIENT_COMMANDS = [
  'evalsha',
  'eval',
  'hget',
  'hmget',
  'hscan',
  'smembers',
  'subscribe',
  'unsubscribe',
  'quit',
  'ping',
  'client|setname',
];

/** Every command a script of lib/storage/redis/lua calls. */
function scriptCommands(): string[] {
  const dir = fileURLToPath(new URL('../../lib/storage/redis/lua/', import.meta.url));
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.lua'),
  );
  const calls = files.flatMap((file) =>
    [...readFileSync(dir + file, 'utf8').matchAll(/redis\.call\('([A-Z]+)'/g)].map((m) =>
      m[1].toLowerCase(),
    ),
  );
  return [...new Set(calls)];
}

@Injectable()
class TenantJobs {
  readonly runs: string[] = [];
  @DistributedJob({ name: 'every', period: 100 })
  every(): void {
    this.runs.push('every');
  }
  @DistributedJob({ name: 'single', period: 100, overlap: 'skip' })
  single(): void {
    this.runs.push('single');
  }
  @DistributedJob({ name: 'queued', period: 100, overlap: 'bufferOne' })
  queued(): void {
    this.runs.push('queued');
  }
}

describe('a least-privilege ACL user per namespace', () => {
  let redis: RedisHandle;
  let admin: Redis;
  let tenant: Redis;
  const nodes: TestNode[] = [];
  /** The user's connection (ioredis's ready check runs INFO, which the user is refused). */
  const asTenant = (): RedisOptions => ({
    host: '127.0.0.1',
    port: redis.port,
    username: 'tenant',
    password: 'tenant-pass',
    enableReadyCheck: false,
  });
  const node = async (
    options: Partial<DiscoveryModuleOptions>,
    providers: Array<new (...args: never[]) => unknown> = [],
  ) => {
    const started = await startNode(
      {
        redis: asTenant(),
        keyPrefix: 'tenant',
        heartbeatInterval: 200,
        heartbeatTTL: 600,
        poolSettleTime: 0,
        signingKey: 'the-signing-key-of-the-tenant',
        ...options,
      },
      { providers: providers as never },
    );
    nodes.push(started);
    return started;
  };

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    const [, ...args] = RECIPE.split(' ');
    // Redis 7.2 added CLIENT SETINFO, which ioredis sends on connecting (the README says to add it).
    const version = /redis_version:(\d+)\.(\d+)/.exec(await admin.info('server'))!;
    if (Number(version[1]) * 100 + Number(version[2]) >= 702) args.push('+client|setinfo');
    await admin.call('ACL', ...args);
    await admin.call('ACL', 'LOG', 'RESET');
    tenant = new Redis(asTenant());
  });
  afterEach(async () => {
    await killAllNodes();
    await Promise.all(nodes.splice(0).map((n) => n.close()));
  });
  afterAll(async () => {
    tenant?.disconnect();
    admin.disconnect();
    await redis.stop();
  });

  it('grants exactly the commands the library sends and its scripts call', () => {
    const granted = RECIPE.split(' ')
      .filter((word) => word.startsWith('+'))
      .map((word) => word.slice(1));
    const needed = [...new Set([...CLIENT_COMMANDS, ...scriptCommands()])];
    expect({ missing: needed.filter((c) => !granted.includes(c)) }).toEqual({ missing: [] });
    expect({ unused: granted.filter((c) => !needed.includes(c)) }).toEqual({ unused: [] });
  });

  it('is all the library needs: register, lookups, events, jobs, expiry, shutdown; Redis refused it nothing', async () => {
    const a = await node({ nodeId: 'a', serviceName: 'api' }, [TenantJobs]);
    const seen: DiscoveryEvent[] = [];
    await a.discovery.subscribeToEvents((e) => void seen.push(e));
    const b = await node({ nodeId: 'b', serviceName: 'api', metadata: { zone: 'x' } });
    const lean = await node({ nodeId: 'lean', serviceName: 'web', viewScope: 'used' });
    const watcher = await node({ nodeId: 'watcher', clientMode: true });
    await waitFor(() => a.discovery.isNodeActive('b'));
    // Lookups, from the view and fresh from Redis, full and partial views, a client.
    expect((await a.discovery.getActiveNodes({ fresh: true })).map((n) => n.nodeId).sort()).toEqual(
      ['a', 'b', 'lean'],
    );
    expect((await lean.discovery.findNodesByService('api')).map((n) => n.nodeId).sort()).toEqual([
      'a',
      'b',
    ]);
    expect(await watcher.discovery.isNodeActive('b')).toBe(true);
    // An update reaches the others as an event (confirmed against the signed record in Redis).
    await b.discovery.updateMetadata({ zone: 'y' });
    await waitFor(() => seen.some((e) => e.nodeId === 'b' && e.metadata.zone === 'y'));
    // Jobs of every overlap family, and their records.
    const jobs = a.app.get(TenantJobs);
    await jobs.every();
    await jobs.single();
    await jobs.queued();
    expect(jobs.runs.sort()).toEqual(['every', 'queued', 'single']);
    expect((await a.jobs.recentRuns('single', 5)).length).toBe(1);
    // A node process killed without deregistering is reaped by the others' heartbeats.
    const crashing = await NodeProcess.start({
      discovery: {
        redis: asTenant() as never,
        keyPrefix: 'tenant',
        nodeId: 'crashing',
        heartbeatInterval: 200,
        heartbeatTTL: 600,
        signingKey: 'the-signing-key-of-the-tenant',
      },
    });
    await waitFor(() => a.discovery.isNodeActive('crashing'));
    await crashing.kill();
    await waitFor(() => seen.some((e) => e.nodeId === 'crashing' && e.reason === 'expired'));
    // Graceful shutdowns deregister.
    await b.close();
    await waitFor(async () =>
      (await a.discovery.getActiveNodes({ fresh: true })).every((n) => n.nodeId !== 'b'),
    );
    expect(seen.some((e) => e.nodeId === 'b' && e.type === 'NODE_DEREGISTERED')).toBe(true);
    // Nothing the library did was refused.
    expect(await admin.call('ACL', 'LOG')).toEqual([]);
  });

  it('cannot start a node of another namespace: refused at startup, with the reason', async () => {
    await expect(
      node({ keyPrefix: 'other', nodeId: 'c', heartbeatInterval: 100, heartbeatTTL: 300 }),
    ).rejects.toThrow(/NOPERM|can't access/);
  });

  it.each<[string, string[]]>([
    ['FLUSHALL', ['FLUSHALL']],
    ['FLUSHDB', ['FLUSHDB']],
    ['SWAPDB', ['SWAPDB', '0', '1']],
    ['KEYS', ['KEYS', '*']],
    ['SCAN', ['SCAN', '0']],
    ['RANDOMKEY', ['RANDOMKEY']],
    ['CLIENT KILL', ['CLIENT', 'KILL', 'TYPE', 'normal']],
    ['CLIENT PAUSE', ['CLIENT', 'PAUSE', '1000']],
    ['CLIENT LIST', ['CLIENT', 'LIST']],
    ['CONFIG SET', ['CONFIG', 'SET', 'maxmemory', '1']],
    ['SCRIPT FLUSH', ['SCRIPT', 'FLUSH']],
    ['FUNCTION FLUSH', ['FUNCTION', 'FLUSH']],
    ['SAVE', ['SAVE']],
    ['ACL SETUSER', ['ACL', 'SETUSER', 'tenant', '+@all']],
    ['SHUTDOWN', ['SHUTDOWN', 'NOSAVE']],
    ['MONITOR', ['MONITOR']],
    ['INFO', ['INFO']],
    ['DEL of its own key', ['DEL', '{tenant}:nodes']],
    ["another namespace's registry", ['HSET', '{other}:nodes', 'x', 'y']],
    ["another namespace's job", ['HSET', 'other:job:{default:x}', 'token', '1']],
    ['a lookalike namespace', ['HSET', '{tenant-2}:nodes', 'x', 'y']],
    ["another namespace's channel", ['PUBLISH', 'other:events', 'x']],
    ['a script that flushes', ['EVAL', "return redis.call('FLUSHALL')", '0']],
    [
      "a script that writes another namespace's key",
      ['EVAL', "return redis.call('HSET', '{other}:nodes', 'x', 'y')", '0'],
    ],
  ])('refuses %s', async (_label, command) => {
    await admin.hset('{other}:nodes', 'kept', 'by other');
    const [name, ...args] = command;
    await expect(tenant.call(name, ...args)).rejects.toThrow(
      /NOPERM|no permissions|can't run this command|can't access at least one of the keys/,
    );
    expect(await admin.hget('{other}:nodes', 'kept')).toBe('by other');
    expect(await admin.hlen('{other}:nodes')).toBe(1);
  });
});

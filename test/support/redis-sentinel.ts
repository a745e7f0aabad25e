// A throw-away Sentinel setup for tests: a master, a replica and three sentinels, all spawned.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HOST, startRedisServer, type RedisServer } from '../../scripts/redis-server.mjs';
import { command, fields, makeTempDir, removeTempDir, text } from './redis-cluster.js';
import { waitFor } from './redis-harness.js';

export interface RedisSentinel {
  sentinels: Array<{ host: string; port: number }>;
  name: string;
  /** Data nodes (master and replica) with their current role; `dead` once killed. */
  servers: Array<{ port: number; pid: number; role: 'master' | 'replica' | 'dead' }>;
  /** Port of the master every sentinel agrees on. */
  masterPort(): Promise<number>;
  /**
   * SIGKILLs the current master and waits until every sentinel reports the replica as the new
   * master and it says so itself. Resolves the old and new ports.
   */
  killMaster(): Promise<{ killed: number; promoted: number }>;
  stop(): Promise<void>;
}

export interface StartRedisSentinelOptions {
  name?: string;
  /** Bound on the whole start, ms. */
  timeout?: number;
}

export async function startRedisSentinel(
  options: StartRedisSentinelOptions = {},
): Promise<RedisSentinel> {
  const name = options.name ?? 'mymaster';
  const timeout = options.timeout ?? 20_000;
  const dir = makeTempDir('redis-sentinel-');
  const processes = new Map<number, RedisServer>();
  const servers: RedisSentinel['servers'] = [];
  const sentinelPorts: number[] = [];

  const stop = async () => {
    await Promise.all([...processes.values()].map((server) => server.stop()));
    removeTempDir(dir);
  };

  const dataNode = async (label: string, extra: string[]) => {
    const server = await startRedisServer({
      label,
      args: (port) => {
        const nodeDir = path.join(dir, `data-${port}`);
        mkdirSync(nodeDir, { recursive: true });
        return ['--dir', nodeDir, ...extra];
      },
    });
    processes.set(server.port, server);
    return server;
  };

  let masterPort: number;
  try {
    const master = await dataNode('sentinel master', []);
    masterPort = master.port;
    servers.push({ port: master.port, pid: master.pid()!, role: 'master' });

    const replica = await dataNode('sentinel replica', ['--replicaof', HOST, String(masterPort)]);
    servers.push({ port: replica.port, pid: replica.pid()!, role: 'replica' });
    // Sentinels learn the replica from the master's INFO: let it attach first.
    await waitFor(
      async () =>
        fields(await text(replica.port, ['INFO', 'replication'])).master_link_status === 'up',
      { timeout, interval: 50, message: 'replica did not sync with the master' },
    );

    for (let i = 0; i < 3; i++) {
      const sentinel = await startRedisServer({
        label: 'sentinel',
        // Sentinel rewrites its config file: it must be a writable file of its own.
        configFile: (port) => {
          const sentinelDir = path.join(dir, `sentinel-${port}`);
          mkdirSync(sentinelDir, { recursive: true });
          const conf = path.join(sentinelDir, 'sentinel.conf');
          writeFileSync(
            conf,
            [
              `dir ${sentinelDir}`,
              `sentinel monitor ${name} ${HOST} ${masterPort} 2`,
              `sentinel down-after-milliseconds ${name} 1000`,
              `sentinel failover-timeout ${name} 3000`,
              '',
            ].join('\n'),
          );
          return conf;
        },
        args: ['--sentinel'],
      });
      processes.set(sentinel.port, sentinel);
      sentinelPorts.push(sentinel.port);
    }

    await waitFor(() => agreed(masterPort, 1), {
      timeout,
      interval: 100,
      message: 'sentinels did not agree on the master',
    });
  } catch (error) {
    await stop();
    throw error;
  }

  /**
   * Every sentinel names `port` as the master, knows `replicas` replica(s) and the other sentinels
   * (needed for a failover vote).
   */
  async function agreed(port: number, replicas: number): Promise<boolean> {
    for (const sentinel of sentinelPorts) {
      const addr = (await command(sentinel, ['SENTINEL', 'get-master-addr-by-name', name])) as
        string[] | null;
      if (!addr || Number(addr[1]) !== port) return false;
      const master = pairs(
        (await command(sentinel, ['SENTINEL', 'master', name])) as string[] | null,
      );
      if (master.flags !== 'master') return false;
      if (Number(master['num-other-sentinels']) !== sentinelPorts.length - 1) return false;
      if (Number(master['num-slaves']) < replicas) return false;
    }
    return true;
  }

  const currentMaster = async () => {
    const addr = (await command(sentinelPorts[0], [
      'SENTINEL',
      'get-master-addr-by-name',
      name,
    ])) as string[];
    return Number(addr[1]);
  };

  return {
    sentinels: sentinelPorts.map((port) => ({ host: HOST, port })),
    name,
    servers,
    masterPort: currentMaster,
    async killMaster() {
      const killed = await currentMaster();
      await processes.get(killed)!.kill();
      servers.find((s) => s.port === killed)!.role = 'dead';
      const candidates = servers.filter((s) => processes.get(s.port)!.running());
      // down-after 1 s, then the sentinels vote and promote: a few seconds.
      const promoted = await waitFor<number | false>(
        async () => {
          const port = await currentMaster();
          if (port === killed || !candidates.some((s) => s.port === port)) return false;
          const role = fields(await text(port, ['INFO', 'replication'])).role;
          if (role !== 'master') return false;
          for (const sentinel of sentinelPorts) {
            const addr = (await command(sentinel, [
              'SENTINEL',
              'get-master-addr-by-name',
              name,
            ])) as string[];
            if (Number(addr[1]) !== port) return false;
          }
          return port;
        },
        { timeout: 20_000, interval: 100, message: 'sentinels did not promote a new master' },
      );
      for (const server of servers) {
        if (server.role !== 'dead') server.role = server.port === promoted ? 'master' : 'replica';
      }
      return { killed, promoted: promoted as number };
    },
    stop,
  };
}

/** A flat [k1, v1, k2, v2...] reply as an object. */
function pairs(reply: string[] | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; reply && i + 1 < reply.length; i += 2) out[reply[i]] = reply[i + 1];
  return out;
}

// ioredis clients for the cluster tests. The module never closes a client passed in, so every
// client made here is tracked and closed by `closeClients()`.
import { Cluster, Redis, type ClusterOptions } from 'ioredis';

const clients = new Set<Redis | Cluster>();

function track<T extends Redis | Cluster>(client: T): T {
  clients.add(client);
  // Reconnect noise during failovers; the library reports what matters through commands.
  client.on('error', () => undefined);
  return client;
}

/** A Cluster client as an app would configure one: quick retries while a failover runs. */
export function clusterClient(
  startupNodes: Array<{ host: string; port: number }>,
  options: ClusterOptions = {},
): Cluster {
  return track(
    new Cluster(startupNodes, {
      // CLUSTERDOWN / TRYAGAIN / a dead node: retry quickly, the failover takes a few seconds.
      retryDelayOnClusterDown: 100,
      retryDelayOnFailover: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: 1000,
      clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
      ...options,
      redisOptions: { maxRetriesPerRequest: 2, ...options.redisOptions },
    }),
  );
}

/** A Sentinel-managed client as an app would configure one. */
export function sentinelClient(
  sentinels: Array<{ host: string; port: number }>,
  name: string,
): Redis {
  return track(
    new Redis({
      sentinels,
      name,
      maxRetriesPerRequest: 2,
      // Reconnect quickly while the sentinels still name the dead master.
      retryStrategy: (times) => Math.min(50 * times, 500),
      sentinelRetryStrategy: (times) => Math.min(50 * times, 500),
    }),
  );
}

/** A plain client on one node (admin reads, per-shard subscribers). */
export function nodeClient(port: number, host = '127.0.0.1'): Redis {
  return track(new Redis({ host, port, maxRetriesPerRequest: 0, retryStrategy: () => null }));
}

export async function closeClients(): Promise<void> {
  const all = [...clients];
  clients.clear();
  // ioredis 6: disconnect() on an already-ended client arms a never-cleared 2 s timer.
  for (const client of all) if (client.status !== 'end') client.disconnect();
}

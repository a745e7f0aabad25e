// Small facts about an ioredis client the store needs: where it connects (for messages) and how to
// drop it without leaving a timer behind.
import type { Cluster, Redis } from 'ioredis';

export type RedisClient = Redis | Cluster;

/**
 * ioredis arms a 2 s timer in `disconnect()` that only the socket's close clears: on a client whose
 * socket is already closed it would hold the process open for nothing.
 */
export function disconnect(client: RedisClient): void {
  if (client.status !== 'end') client.disconnect();
}

/** Where a client connects, for messages: host:port, its sentinels, or its cluster nodes. */
export function describeClient(client: RedisClient): string {
  const address = (host = '127.0.0.1', port = 6379) => `${host}:${port}`;
  if (client.isCluster) {
    const nodes =
      (client as unknown as { startupNodes?: Array<{ host?: string; port?: number } | string> })
        .startupNodes ?? [];
    return `Redis Cluster ${nodes.map((n) => (typeof n === 'string' ? n : address(n.host, n.port))).join(', ')}`;
  }
  const { host, port, path, sentinels, name } = (client as Redis).options;
  if (sentinels?.length) {
    return `sentinels ${sentinels.map((s) => address(s.host, s.port ?? 26379)).join(', ')} (master "${name}")`;
  }
  return path ?? address(host, port);
}

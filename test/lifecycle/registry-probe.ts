import type { Redis } from 'ioredis';

/**
 * Every place a node id is registered in a namespace: a key named after it, a field of a hash, a
 * member of a set or sorted set. Job claim hashes, which only hold the id as a value, are history
 * rather than registration and do not count; nor does a deregistration's tombstone (the `gone`
 * sorted set, and `o:<id>` = 'gone <instance>' in meta), which refuses the node's late beats for
 * one TTL and is then removed.
 */
export async function registrationsOf(
  admin: Redis,
  keyPrefix: string,
  nodeId: string,
): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `*${keyPrefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      if (key.endsWith(':gone')) continue;
      if (key.includes(nodeId)) {
        found.push(key);
        continue;
      }
      const type = await admin.type(key);
      const holds =
        type === 'hash'
          ? (await admin.hexists(key, nodeId)) === 1
          : type === 'zset'
            ? (await admin.zscore(key, nodeId)) !== null
            : type === 'set'
              ? (await admin.sismember(key, nodeId)) === 1
              : false;
      if (holds) found.push(`${key} (${type})`);
    }
  } while (cursor !== '0');
  return found.sort();
}

/** Connections Redis has open under `name` (CLIENT SETNAME / ioredis `connectionName`). */
export async function connectionsNamed(admin: Redis, name: string): Promise<string[]> {
  const list = (await admin.client('LIST')) as string;
  return list.split('\n').filter((line) => line.split(' ').includes(`name=${name}`));
}

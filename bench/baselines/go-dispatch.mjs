// Baseline: the go-dispatch seed's access pattern (starton-io/go-dispatch, driver/redisdriver.go
// and driver/util.go), on a client whose database the caller chooses.
//
// - Keys carry the service: `<prefix>:<service>:<id>` (GetNodeId = globalKeyPrefix + serviceName +
//   ':' + uuid, default prefix 'distributed-cron:'), a string key with a TTL (SETEX), renewed by
//   each heartbeat.
// - A lookup (GetNodes) scans only that service's pattern: rd.Client.Scan(ctx, 0,
//   '<prefix>:<service>:*', -1).Iterator(). go-redis adds COUNT only when count > 0, so with -1 it
//   sends `SCAN <cursor> MATCH <pattern>` with no COUNT and Redis uses its default of 10: each round
//   trip walks about 10 buckets of the whole database, whatever else the database holds. The
//   iterator fetches the pages one after the other.
// - go-dispatch stores the key name as the value and returns key names only. So that every design
//   returns the same thing (the service's records, parsed), this version stores the record JSON as
//   the value and, after the scan, GETs the keys it found (one pipeline) and parses them: the scan
//   is go-dispatch's, the GETs and JSON.parse are extra work it does not do.

export const PREFIX = 'distributed-cron';

/** go-redis `Scan(ctx, cursor, match, count)`: COUNT only when count > 0 (go-dispatch passes -1). */
export const SCAN_COUNT = -1;

const key = (prefix, service, id) => `${prefix}:${service}:${id}`;

/** Registers `nodes` ({ nodeId, service, record }) as SET key record PX ttl, pipelined. */
export async function load(client, nodes, ttlMs, prefix = PREFIX) {
  for (let i = 0; i < nodes.length; i += 5000) {
    const pipeline = client.pipeline();
    for (const node of nodes.slice(i, i + 5000)) {
      pipeline.set(key(prefix, node.service, node.nodeId), node.record, 'PX', ttlMs);
    }
    await pipeline.exec();
  }
}

/** GetNodes: every key of the service's pattern, one SCAN page per round trip. */
export async function scanService(client, serviceName, prefix = PREFIX) {
  const match = `${prefix}:${serviceName}:*`;
  const keys = [];
  let cursor = '0';
  do {
    const [next, page] =
      SCAN_COUNT > 0
        ? await client.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT)
        : await client.scan(cursor, 'MATCH', match);
    cursor = next;
    for (const found of page) keys.push(found);
  } while (cursor !== '0');
  return keys;
}

/** The nodes of `serviceName`: the scan above, then GET of every key found and JSON.parse. */
export async function findNodesByService(client, serviceName, prefix = PREFIX) {
  const keys = await scanService(client, serviceName, prefix);
  if (keys.length === 0) return [];
  const pipeline = client.pipeline();
  for (const found of keys) pipeline.get(found);
  const nodes = [];
  for (const [, raw] of await pipeline.exec()) {
    if (raw !== null) nodes.push(JSON.parse(raw)); // null: expired between SCAN and GET
  }
  return nodes;
}

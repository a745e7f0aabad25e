// Baseline: what you would write by hand with plain Redis commands, no scripts.
//
//   <prefix>:nodes          HASH  nodeId -> record JSON
//   <prefix>:svc:<service>  ZSET  nodeId, scored by the node's deadline (ms, the client's clock)
//
// - registration: HSET of the record + one ZADD per service the node offers (one round trip).
// - heartbeat: one ZADD per service the node offers, score = now + ttl computed by the client;
//   for the benchmark nodes (one service each) that is a single ZADD.
// - lookup: ZRANGEBYSCORE svc:<name> <now> +inf (the live ids), then HMGET of those ids, then
//   JSON.parse of each record: two round trips, and the caller gets objects.
// - reap (optional, anyone, now and then): ZREMRANGEBYSCORE svc:<name> -inf (<now per service.
//   Lookups already skip expired nodes by score, so reaping only trims the sets; a dead node's
//   record stays in the hash until it registers again or a cleanup drops it.
// What it gives up compared with the library: deadlines come from client clocks (they must agree
// within a fraction of the TTL), nothing announces changes (no events, no view), and no check
// stops two processes from claiming the same node id.

const NODES = (prefix) => `${prefix}:nodes`;
const SERVICE = (prefix, service) => `${prefix}:svc:${service}`;

export const PREFIX = 'hw';

/** Registers `nodes` ({ nodeId, record, services: string[] }): HSET + ZADD each, pipelined. */
export async function load(client, nodes, ttlMs, prefix = PREFIX) {
  for (let i = 0; i < nodes.length; i += 5000) {
    const pipeline = client.pipeline();
    const deadline = Date.now() + ttlMs;
    for (const node of nodes.slice(i, i + 5000)) {
      pipeline.hset(NODES(prefix), node.nodeId, node.record);
      for (const service of node.services)
        pipeline.zadd(SERVICE(prefix, service), deadline, node.nodeId);
    }
    await pipeline.exec();
  }
}

/** One heartbeat: one ZADD per service of the node (here one), one round trip. */
export function beat(client, node, ttlMs, prefix = PREFIX) {
  const deadline = Date.now() + ttlMs;
  if (node.services.length === 1)
    return client.zadd(SERVICE(prefix, node.services[0]), deadline, node.nodeId);
  const pipeline = client.pipeline();
  for (const service of node.services)
    pipeline.zadd(SERVICE(prefix, service), deadline, node.nodeId);
  return pipeline.exec();
}

/** The live nodes of `serviceName`: ZRANGEBYSCORE, then HMGET, then JSON.parse. */
export async function findNodesByService(client, serviceName, prefix = PREFIX) {
  const ids = await client.zrangebyscore(SERVICE(prefix, serviceName), Date.now(), '+inf');
  if (ids.length === 0) return [];
  const records = await client.hmget(NODES(prefix), ...ids);
  const nodes = [];
  for (const raw of records) if (raw !== null) nodes.push(JSON.parse(raw));
  return nodes;
}

/** Drops the expired members of one service's set. */
export function reap(client, serviceName, prefix = PREFIX) {
  return client.zremrangebyscore(SERVICE(prefix, serviceName), '-inf', `(${Date.now()}`);
}

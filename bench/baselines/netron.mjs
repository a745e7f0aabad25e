// Baseline 2, the Netron seed's access pattern: a global SET of every node id, a HASH per node
// (address, services JSON, timestamp) and a heartbeat key with a TTL. A lookup reads the whole SET,
// then HGETALL + EXISTS for every node in one pipeline, and filters by service in the client.

const INDEX = (prefix) => `${prefix}:index:nodes`;

export async function load(client, prefix, nodes, ttlMs) {
  for (let i = 0; i < nodes.length; i += 5000) {
    const pipeline = client.pipeline();
    for (const node of nodes.slice(i, i + 5000)) {
      const { address, services } = JSON.parse(node.record);
      pipeline.hset(`${prefix}:nodes:${node.nodeId}`, {
        address,
        services: JSON.stringify(services),
        timestamp: String(Date.now()),
      });
      pipeline.set(`${prefix}:heartbeat:${node.nodeId}`, '1', 'PX', ttlMs);
      pipeline.sadd(INDEX(prefix), node.nodeId);
    }
    await pipeline.exec();
  }
}

export async function findNodesByService(client, prefix, serviceName) {
  const ids = await client.smembers(INDEX(prefix));
  if (ids.length === 0) return [];
  const pipeline = client.pipeline();
  for (const id of ids) {
    pipeline.hgetall(`${prefix}:nodes:${id}`);
    pipeline.exists(`${prefix}:heartbeat:${id}`);
  }
  const replies = await pipeline.exec();
  const found = [];
  for (let i = 0; i < ids.length; i++) {
    const data = replies[2 * i][1];
    if (!replies[2 * i + 1][1] || !data.address || !data.services) continue;
    const node = { nodeId: ids[i], address: data.address, services: JSON.parse(data.services) };
    if (node.services.some((s) => s.name === serviceName)) found.push(node);
  }
  return found;
}

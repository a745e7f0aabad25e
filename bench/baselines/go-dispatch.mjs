// Baseline 1, the go-dispatch seed's access pattern: one string key per node
// (`<prefix>:node:<id>` = record JSON, with a TTL), and a lookup that walks the whole keyspace with
// SCAN MATCH <prefix>:node:* and GETs every key it finds, filtering by service in the client.
// Kinder than the seed: COUNT 1000 per SCAN and the GETs of each SCAN page pipelined.

export async function load(client, prefix, nodes, ttlMs) {
  for (let i = 0; i < nodes.length; i += 5000) {
    const pipeline = client.pipeline();
    for (const node of nodes.slice(i, i + 5000)) {
      pipeline.set(`${prefix}:node:${node.nodeId}`, node.record, 'PX', ttlMs);
    }
    await pipeline.exec();
  }
}

export async function findNodesByService(client, prefix, serviceName) {
  const found = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:node:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const pipeline = client.pipeline();
    for (const key of keys) pipeline.get(key);
    for (const [, raw] of await pipeline.exec()) {
      if (raw === null) continue; // expired between SCAN and GET
      const node = JSON.parse(raw);
      if (node.services.some((s) => s.name === serviceName)) found.push(node);
    }
  } while (cursor !== '0');
  return found;
}

// The registry the lookup and view benchmarks use: node i offers service svc-<i / 100> (100 nodes
// per service), and the same node in every design (library, baselines, plain Map).
import { randomUUID } from 'node:crypto';
import { beat, recordOf } from './library.mjs';

export const PER_SERVICE = 100;

/** Node i: { nodeId, service, instance, record (JSON, the library's encoding), services }. */
export function makeNode(i) {
  const k = Math.floor(i / PER_SERVICE);
  const node = {
    nodeId: `node-${i}`,
    serviceName: `pool-${k}`,
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`,
    services: [{ name: `svc-${k}`, version: `1.${i % 2}.0` }],
    metadata: { zone: `z${i % 3}` },
  };
  return {
    nodeId: node.nodeId,
    service: `svc-${k}`,
    instance: randomUUID(),
    record: recordOf(node),
    services: [`svc-${k}`],
  };
}

/** Nodes `from` .. `to - 1`. */
export function makeNodes(from, to) {
  return Array.from({ length: to - from }, (_, j) => makeNode(from + j));
}

/** Registers `nodes` in the library's registry through `store` (one beat each, 2000 in flight). */
export async function registerInLibrary(store, nodes, ttl) {
  for (let i = 0; i < nodes.length; i += 2000) {
    const results = await Promise.all(nodes.slice(i, i + 2000).map((n) => beat(store, n, ttl)));
    if (results.some((r) => r.renewedOnly)) throw new Error('a new node was already registered');
  }
}

/** Service name of lookup i out of `services`: consecutive lookups spread over every service. */
export function rotatingService(i, services) {
  return `svc-${(i * 7919) % services}`;
}

// The services of a node as a view indexes them: each name once (a node may offer one service at
// two versions, which is what a migration looks like), and a service's nodes by version.
import type { NodeInfo } from '../node-info.interface.js';

/** The names of the services a node offers, each once (a node may offer one at two versions). */
export function serviceNames(node: NodeInfo): Iterable<string> {
  const { services } = node;
  if (services.length === 1) return [services[0].name];
  return new Set(services.map((service) => service.name));
}

export function versionsOf(
  serviceName: string,
  nodes: NodeInfo[],
): Map<string | undefined, NodeInfo[]> {
  const versions = new Map<string | undefined, NodeInfo[]>();
  for (const node of nodes) {
    for (const service of node.services) {
      if (service.name !== serviceName) continue;
      const bucket = versions.get(service.version);
      if (bucket) bucket.push(node);
      else versions.set(service.version, [node]);
    }
  }
  return versions;
}

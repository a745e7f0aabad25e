// Groups the live nodes under the services they offer, as the cluster page lists them: sorted by
// service, then node id, with the node serving the page marked.
import type { NodeInfo } from '../discovery/node-info.interface.js';
import type { ServiceView } from './cluster-state.js';

/** Nodes under each service they offer (a node offering two services is listed twice). */
export function byService(nodes: readonly NodeInfo[], selfId: string): ServiceView[] {
  const services = new Map<string, ServiceView>();
  for (const node of nodes) {
    for (const service of node.services) {
      let view = services.get(service.name);
      if (!view) services.set(service.name, (view = { name: service.name, nodes: [] }));
      view.nodes.push({
        nodeId: node.nodeId,
        version: service.version,
        address: node.address,
        pool: node.serviceName,
        metadata: { ...node.metadata },
        self: node.nodeId === selfId,
      });
    }
  }
  const sorted = [...services.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const service of sorted) service.nodes.sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
  return sorted;
}

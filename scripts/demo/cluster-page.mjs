// Where to watch the cluster in a browser: the live page (DiscoveryDashboardModule) every sample
// node serves at /cluster on its PORT, preferring a node the demo will not kill; and its metrics.
import { CLUSTER_PAGE_PATH } from './config.mjs';
import { c, nodeColor } from './format.mjs';
import { live } from './nodes.mjs';
import { state } from './state.mjs';

export const clusterPage = (node) => `http://127.0.0.1:${node.port}${CLUSTER_PAGE_PATH}`;
export const metricsPage = (node) => `http://127.0.0.1:${node.port}/metrics`;

/**
 * The page of a live node, for the live table: not the owner of `report` (the node the demo
 * SIGKILLs) while another is up, so the page stays up through the failover.
 */
export function clusterPageLine() {
  const up = live();
  const node = up.find((n) => n.id !== state.owners.report) ?? up[0];
  if (!node) {
    const wasUp = [...state.nodes.values()].some((n) => n.listeningAt !== undefined);
    return c.dim(`Live cluster page: (${wasUp ? 'no node is up any more' : 'once a node is up'})`);
  }
  return (
    `Live cluster page: ${c.bold(clusterPage(node))} ${c.dim(`(${node.id}; every node serves one)`)}` +
    `  metrics: ${metricsPage(node)}`
  );
}

/** Every node's page, for the log printed without a TTY (which node gets killed is not known yet). */
export function clusterPagesLine() {
  const pages = [...state.nodes.values()].map(
    (node) => `${clusterPage(node)} (${nodeColor(node.id)(node.id)})`,
  );
  return `Live cluster page: ${pages.join(', ')}; metrics (Prometheus text) at /metrics of each`;
}

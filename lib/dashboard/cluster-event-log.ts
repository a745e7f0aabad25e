// The recent events the page lists, newest first: nodes joining, leaving and changing (from
// discovery events), and jobs changing owner on the ring (seen by comparing owners over time).
import type { DiscoveryEvent, NodeInfo } from '../discovery/node-info.interface.js';
import type { ClusterEvent } from './cluster-state.js';
import type { StandIn } from './takeover-tracker.js';

/** The node that ran a job's ticks instead of `owner`, if one did (see TakeoverTracker). */
export type StandInOf = (job: string, owner: string) => StandIn | undefined;

export class ClusterEventLog {
  private readonly events: ClusterEvent[] = [];
  /** Last known record of each node, to say what an update changed. */
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly owners = new Map<string, string | undefined>();

  constructor(private readonly max: number) {}

  /** Newest first. */
  list(): ClusterEvent[] {
    return [...this.events];
  }

  /** The nodes known before the first event. */
  seed(nodes: readonly NodeInfo[]): void {
    for (const node of nodes) if (!this.nodes.has(node.nodeId)) this.nodes.set(node.nodeId, node);
  }

  record(event: DiscoveryEvent): void {
    const { nodeId, serviceName: pool, timestamp: at } = event;
    const resynced = event.resynced === true;
    switch (event.type) {
      case 'NODE_REGISTERED':
        this.nodes.set(nodeId, event);
        return this.add({ kind: 'joined', at, nodeId, pool, resynced });
      case 'NODE_DEREGISTERED':
        this.nodes.delete(nodeId);
        return this.add({
          kind: 'left',
          at,
          nodeId,
          pool,
          reason: event.reason ?? 'expired',
          resynced,
        });
      case 'NODE_UPDATED': {
        const changes = describeChanges(this.nodes.get(nodeId), event);
        this.nodes.set(nodeId, event);
        return this.add({ kind: 'updated', at, nodeId, pool, changes });
      }
    }
  }

  /**
   * Records each job whose owner changed since the last call: a failover when the old owner is no
   * longer in the pool, dated when another node first ran its ticks if that was seen (a crashed
   * owner is removed a TTL later). A job's first owner, and a pool without nodes, are not events.
   */
  checkOwners(
    owners: ReadonlyArray<{ name: string; owner: string | undefined }>,
    poolNodes: readonly string[],
    at: number,
    standInOf: StandInOf = () => undefined,
  ): void {
    for (const { name, owner } of owners) {
      const before = this.owners.get(name);
      this.owners.set(name, owner);
      if (before === undefined || owner === undefined || before === owner) continue;
      const failover = !poolNodes.includes(before);
      const standIn = failover ? standInOf(name, before) : undefined;
      this.add({
        kind: 'owner',
        at: standIn && standIn.startedAt < at ? standIn.startedAt : at,
        job: name,
        from: before,
        to: owner,
        failover,
        ...(standIn && { takenOver: { by: standIn.nodeId, tick: standIn.tick } }),
      });
    }
  }

  /** In time order, newest first: an event dated earlier than the last goes below it. */
  private add(event: ClusterEvent): void {
    const index = this.events.findIndex((e) => e.at <= event.at);
    this.events.splice(index === -1 ? this.events.length : index, 0, event);
    if (this.events.length > this.max) this.events.length = this.max;
  }
}

function describeChanges(before: NodeInfo | undefined, after: NodeInfo): string[] {
  if (!before) return [];
  const changes: string[] = [];
  if (before.address !== after.address)
    changes.push(`address ${before.address} → ${after.address}`);
  const services = (node: NodeInfo) =>
    node.services.map((s) => (s.version ? `${s.name}@${s.version}` : s.name)).join(', ');
  if (services(before) !== services(after))
    changes.push(`services ${services(before)} → ${services(after)}`);
  const keys = new Set([...Object.keys(before.metadata), ...Object.keys(after.metadata)]);
  const changed = [...keys].filter((key) => before.metadata[key] !== after.metadata[key]);
  if (changed.length > 0) changes.push(`metadata ${changed.join(', ')}`);
  return changes;
}

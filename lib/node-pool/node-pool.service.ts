// `NodePool`: which node of this pool owns which job, from a hash ring rebuilt when the pool's
// membership changes, and whether the pool is `steady` or still `upgrading` after a change.
import { Inject, Injectable } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { RegistrySync } from '../discovery/view/registry-sync.service.js';
import { DISCOVERY_OPTIONS } from '../discovery.constants.js';
import type { ResolvedDiscoveryOptions } from '../options/discovery-options.interface.js';
import { HashRing } from './hash-ring.js';

export type PoolState = 'steady' | 'upgrading';

/**
 * A consistent-hash ring over the live nodes of this node's pool (`serviceName`), rebuilt from
 * the discovery view whenever its membership changes. After a change the pool is `upgrading` for
 * `poolSettleTime`, while views across the cluster converge; then `steady`.
 */
@Injectable()
export class NodePool {
  private ring = new HashRing([], 1);
  private members = '';
  private seenGeneration = -1;
  private changedAt = -Infinity;
  private lastUpdate: Date | undefined;
  /** Owner per job name, valid for the current ring: the common call costs a map lookup. */
  private readonly owners = new Map<string, string | undefined>();
  private boundedJobs: readonly string[] = [];

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    private readonly sync: RegistrySync,
  ) {}

  /** True only on the job's owner while the pool is steady (the seed's `CheckJobAvailable`). */
  checkJobAvailable(jobName: string): boolean {
    this.refresh();
    return (
      this.members !== '' &&
      this.state() === 'steady' &&
      this.ownerOf(jobName) === this.options.nodeId
    );
  }

  /** Id of the node that owns `jobName`, or undefined while the pool is empty. */
  getHost(jobName: string): string | undefined {
    this.refresh();
    return this.ownerOf(jobName);
  }

  /** Sorted ids of the pool's live nodes. */
  getNodes(): string[] {
    this.refresh();
    return this.ring.nodes();
  }

  getNodeId(): string {
    return this.options.nodeId;
  }

  getState(): PoolState {
    this.refresh();
    return this.state();
  }

  /** When the membership last changed (undefined before the first). */
  getLastNodesUpdateTime(): Date | undefined {
    this.refresh();
    return this.lastUpdate;
  }

  /**
   * Position of `nodeId` among the nodes that should take `jobName`: 0 for the owner, 1 for the
   * node after it on the ring, and so on; the pool size when the node is not in the pool.
   */
  rank(jobName: string, nodeId = this.options.nodeId): number {
    this.refresh();
    if (this.ownerOf(jobName) === nodeId) return 0;
    const order = this.ring.preference(jobName, this.ring.size);
    const index = order.indexOf(nodeId);
    return index === -1 ? this.ring.size : index === 0 ? 1 : index;
  }

  /**
   * Job names placed with bounded loads (option `balance: 'bounded'`); set by the job explorer.
   * @internal
   */
  setJobNames(names: readonly string[]): void {
    this.boundedJobs = [...names];
    this.refresh(true);
  }

  private state(): PoolState {
    return performance.now() - this.changedAt >= this.options.poolSettleTime
      ? 'steady'
      : 'upgrading';
  }

  private ownerOf(jobName: string): string | undefined {
    if (this.owners.has(jobName)) return this.owners.get(jobName);
    const owner = this.ring.owner(jobName);
    this.owners.set(jobName, owner);
    return owner;
  }

  private refresh(force = false): void {
    const generation = this.sync.view.generation;
    if (!force && generation === this.seenGeneration) return;
    this.seenGeneration = generation;
    const ids = this.sync.view
      .pool(this.options.serviceName)
      .map((node) => node.nodeId)
      .sort();
    const members = ids.join('\n');
    if (!force && members === this.members) return;
    if (members !== this.members) {
      this.changedAt = performance.now();
      this.lastUpdate = new Date();
      this.members = members;
    }
    this.ring = new HashRing(ids, this.options.hashReplicas);
    this.owners.clear();
    if (this.options.balance === 'bounded') {
      for (const [job, owner] of this.ring.assignBounded(this.boundedJobs))
        this.owners.set(job, owner);
    }
  }
}

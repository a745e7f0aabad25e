// What the logs say about the cluster, one line per change and nothing in the steady state: this
// node registered (id, pool, where), a peer of its pool joined, left or expired, this node took a
// job over or handed it on (ring changes), and ran a tick in place of an owner that did not claim.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DISCOVERY_OPTIONS, REGISTRY_STORE } from './discovery.constants.js';
import type { DiscoveryEvent } from './discovery/node-info.interface.js';
import { ServiceDiscovery } from './discovery/service-discovery.service.js';
import { DistributedJobs } from './jobs/distributed-jobs.service.js';
import type { ResolvedDiscoveryOptions } from './options/discovery-options.interface.js';
import type { RegistryStore } from './storage/registry-store.interface.js';

@Injectable()
export class ClusterLog {
  private readonly logger = new Logger('ServiceDiscovery');
  private readonly jobLogger = new Logger('DistributedJobs');
  /** Owner of each job at the last check (undefined before the first). */
  private owners: Map<string, string | undefined> | undefined;
  /** Jobs this node took over, and from whom: handing one back to that node says "back". */
  private readonly takenFrom = new Map<string, string>();
  /** Failover runs counted at the last check; jobs in a failover episode, with their owner then. */
  private readonly failovers = new Map<string, number>();
  private readonly failingOver = new Map<string, string | undefined>();
  private unsubscribe: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly discovery: ServiceDiscovery,
    private readonly jobs: DistributedJobs,
  ) {}

  /** After registration: says where this node is, then follows its pool. */
  async start(): Promise<void> {
    const { nodeId, serviceName, keyPrefix, clientMode } = this.options;
    const where =
      this.store.kind === 'memory'
        ? 'the in-memory registry (this process only)'
        : `Redis ${this.store.address}`;
    if (clientMode) {
      this.logger.log(`Client mode: looking up nodes on ${where}, keyPrefix ${keyPrefix}`);
      return;
    }
    const pool = this.discovery.poolNodes().map((node) => node.nodeId);
    this.logger.log(
      `Registered node ${nodeId} in pool ${serviceName} on ${where}, keyPrefix ${keyPrefix}; ` +
        `pool: ${pool.length} node${pool.length === 1 ? '' : 's'} (${pool.slice(0, 10).join(', ')}${pool.length > 10 ? ', ...' : ''})`,
    );
    this.checkJobs();
    this.unsubscribe = await this.discovery.subscribeToEvents((event) => this.onEvent(event));
    this.timer = setInterval(() => this.checkJobs(), this.options.heartbeatInterval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private onEvent(event: DiscoveryEvent): void {
    if (event.nodeId === this.options.nodeId || event.serviceName !== this.options.serviceName) {
      return;
    }
    const noticed = event.resynced ? ' (noticed on resync)' : '';
    const peer = `Peer ${event.nodeId}`;
    const pool = `pool ${event.serviceName}`;
    if (event.type === 'NODE_REGISTERED') {
      this.logger.log(`${peer} joined ${pool} at ${event.address || 'no address yet'}${noticed}`);
    } else if (event.type === 'NODE_DEREGISTERED') {
      this.logger.log(
        event.reason === 'expired'
          ? `${peer} expired from ${pool}: no heartbeat for ${this.options.heartbeatTTL} ms${noticed}`
          : `${peer} left ${pool} (shut down)${noticed}`,
      );
    } else {
      return; // an update: the steady state
    }
    this.checkJobs();
  }

  /** Ownership changes and failover runs since the last check, one line each. */
  private checkJobs(): void {
    const jobs = this.jobs.ownership();
    const previous = this.owners;
    this.owners = new Map(jobs.map((job) => [job.name, job.owner]));
    for (const job of jobs) {
      if (previous) this.ownership(job.name, previous.get(job.name), job.owner);
      this.failover(job);
    }
  }

  private ownership(job: string, before: string | undefined, now: string | undefined): void {
    const self = this.options.nodeId;
    if (before === now) return;
    if (now === self) {
      if (before !== undefined) this.takenFrom.set(job, before);
      this.jobLogger.log(
        `Took over job ${job}${before === undefined ? '' : ` from ${before}`} (the pool changed)`,
      );
    } else if (before === self) {
      const back = now !== undefined && this.takenFrom.get(job) === now ? ' back' : '';
      this.takenFrom.delete(job);
      this.jobLogger.log(`Handed job ${job}${back} to ${now ?? 'nobody'} (the pool changed)`);
    }
  }

  /** Once per episode: until the ring gives the job to another owner (or to this node). */
  private failover(job: { name: string; owner: string | undefined; failovers: number }): void {
    const before = this.failovers.get(job.name) ?? job.failovers;
    this.failovers.set(job.name, job.failovers);
    if (job.owner === this.options.nodeId) {
      this.failingOver.delete(job.name); // taken over: the episode (if any) has ended
      return;
    }
    if (job.failovers === before) return;
    if (this.failingOver.has(job.name) && this.failingOver.get(job.name) === job.owner) return;
    this.failingOver.set(job.name, job.owner);
    this.jobLogger.log(
      `Job ${job.name}: ran a tick by failover (its owner on the ring did not claim it in time)`,
    );
  }
}

// The injectable face of discovery: lookups and events (from RegistrySync) and this node's record
// and lease (from NodeMembership), with the argument checks of the public API.
import { Inject, Injectable } from '@nestjs/common';
import { InvalidArgumentError } from '../common/errors.js';
import {
  addressRule,
  metadataRule,
  nameRule,
  servicesRule,
  type Rule,
} from '../common/field-rules.js';
import type { DiscoveryStats } from '../common/telemetry/discovery-stats.interface.js';
import type { Telemetry } from '../common/telemetry/telemetry.js';
import { DISCOVERY_OPTIONS, TELEMETRY } from '../discovery.constants.js';
import type {
  ResolvedDiscoveryOptions,
  ServiceDescriptor,
} from '../options/discovery-options.interface.js';
import type { DiscoveryEventHandler, NodeInfo } from './node-info.interface.js';
import { NodeMembership, type LeaseStatus } from './membership/node-membership.service.js';
import { RegistrySync } from './view/registry-sync.service.js';
import { versionMatcher } from './view/version-match.js';

export type { LeaseStatus } from './membership/node-membership.service.js';

/** How a lookup reads. */
export interface LookupOptions {
  /** Read Redis (one round trip) instead of the in-process view. Default `false`. */
  fresh?: boolean;
  /**
   * `findNodesByService`: compare `version` as an exact string, for labels that are not semver
   * (`edge`, `2024-06-build-7`). Default `false`: `version` must be a semver version or range.
   */
  exactVersion?: boolean;
}

/**
 * This node's membership in the registry (register, heartbeat, deregister) and everyone's view of
 * the registry (lookups and change events).
 */
@Injectable()
export class ServiceDiscovery {
  readonly nodeId: string;

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    @Inject(TELEMETRY) private readonly telemetry: Telemetry,
    private readonly membership: NodeMembership,
    private readonly sync: RegistrySync,
  ) {
    this.nodeId = options.nodeId;
  }

  /** What this service counted (heartbeats, resyncs, skipped bad input...); live, only growing. */
  get stats(): DiscoveryStats {
    return this.telemetry.stats;
  }

  get address(): string {
    return this.membership.self.address;
  }

  get services(): ServiceDescriptor[] {
    return this.membership.self.services;
  }

  get metadata(): Record<string, string> {
    return this.membership.self.metadata;
  }

  /** This node as peers see it. */
  get self(): NodeInfo {
    return this.membership.self;
  }

  /** Every live node. A partial view (`viewScope: 'used'`) does not hold them all: it reads Redis. */
  async getActiveNodes(options: LookupOptions = {}): Promise<NodeInfo[]> {
    if (options.fresh || !this.sync.view.scope.all) return this.sync.fresh.nodes();
    await this.sync.start();
    return this.sync.view.all();
  }

  /**
   * The heartbeat deadline of each node offering `serviceName`, by node id: when it expires unless
   * it beats again (Redis time, ms), read from Redis now (cost: that service's nodes). A node beat
   * last at its deadline minus its `heartbeatTTL`; a past deadline: expired, not removed yet.
   */
  async heartbeatDeadlines(serviceName: string): Promise<Map<string, number>> {
    argument('serviceName', serviceName, nameRule);
    return this.sync.fresh.deadlines(serviceName);
  }

  /**
   * Nodes offering `serviceName`, optionally at a semver `version` (`1.2.3`) or inside a semver
   * range (`^1.2.0`, `>=2 <3`). A `version` that is neither throws `InvalidArgumentError` naming
   * it, unless `options.exactVersion` asks for an exact string match (labels such as `edge`).
   */
  async findNodesByService(
    serviceName: string,
    version?: string,
    options: LookupOptions = {},
  ): Promise<NodeInfo[]> {
    argument('serviceName', serviceName, nameRule);
    if (
      version !== undefined &&
      (typeof version !== 'string' || version.length === 0 || version.length > 256)
    ) {
      throw new InvalidArgumentError(
        'version must be a non-empty string of at most 256 characters',
      );
    }
    const matches = versionMatcher(version, options.exactVersion === true);
    if (!options.fresh) {
      await this.sync.cover(serviceName);
      return version === undefined
        ? this.sync.view.offering(serviceName)
        : this.sync.view.offeringMatching(serviceName, matches);
    }
    const candidates = await this.sync.fresh.service(serviceName);
    if (version === undefined) return candidates;
    return candidates.filter((node) =>
      node.services.some((s) => s.name === serviceName && matches(s.version)),
    );
  }

  async isNodeActive(nodeId: string): Promise<boolean> {
    argument('nodeId', nodeId, nameRule);
    await this.sync.start();
    if (this.sync.view.get(nodeId) !== undefined) return true;
    return !this.sync.view.scope.all && (await this.sync.fresh.node(nodeId)) !== undefined;
  }

  /**
   * The live nodes of a pool, from the view (no round trip); used by the node pool.
   * @internal
   */
  poolNodes(serviceName = this.options.serviceName): NodeInfo[] {
    return this.sync.view.pool(serviceName);
  }

  updateServices(services: ServiceDescriptor[]): Promise<void> {
    argument('services', services, servicesRule);
    return this.membership.update({ services });
  }

  updateAddress(address: string): Promise<void> {
    argument('address', address, addressRule);
    return this.membership.update({ address });
  }

  updateMetadata(metadata: Record<string, string>): Promise<void> {
    argument('metadata', metadata, metadataRule);
    return this.membership.update({ metadata });
  }

  /** Calls `handler` for every change; resolves with a function that stops it. */
  async subscribeToEvents(handler: DiscoveryEventHandler): Promise<() => Promise<void>> {
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function');
    this.sync.addHandler(handler);
    await this.sync.start();
    return async () => this.sync.removeHandler(handler);
  }

  /** Runs `listener` when this node loses its lease (expired, or re-registered after data loss). */
  onLeaseLost(listener: (reason: string) => void): () => void {
    return this.membership.lease.onLost(listener);
  }

  /**
   * Estimated Redis server time (ms): what ticks and deadlines are measured in.
   * @internal
   */
  serverNow(): number {
    return this.membership.serverNow();
  }

  /** This node's lease and heartbeat health, as the health indicator reports them. */
  leaseStatus(): LeaseStatus {
    return this.membership.leaseStatus();
  }
}

function argument(name: string, value: unknown, rule: Rule): void {
  const problem = rule(value);
  if (problem) throw new InvalidArgumentError(`${name} ${problem}`);
}

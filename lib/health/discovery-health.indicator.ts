// The `@nestjs/terminus` readiness check of this node: up, degraded or down from its lease and
// heartbeats, read from local state; terminus stays an optional peer dependency.
import { Inject, Injectable } from '@nestjs/common';
import type { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { DISCOVERY_OPTIONS } from '../discovery.constants.js';
import { NodeMembership } from '../discovery/membership/node-membership.service.js';
import { NodePool } from '../node-pool/node-pool.service.js';
import type { ResolvedDiscoveryOptions } from '../options/discovery-options.interface.js';

/**
 * Readiness of this node for `@nestjs/terminus` (12's `HealthIndicatorService` API):
 * - `up`: registered and the last heartbeat succeeded;
 * - `degraded`: heartbeats are failing but the lease (Redis server time) is still valid;
 * - `down`: the lease is lost, Redis has failed for longer than `heartbeatTTL`, or shutting down.
 * It reads local state only: no Redis round trip and no new connection per probe. Terminus is an
 * optional peer dependency, loaded on the first probe, so the library runs without it.
 */
@Injectable()
export class DiscoveryHealthIndicator {
  private indicators: HealthIndicatorService | undefined;

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    private readonly membership: NodeMembership,
    private readonly pool: NodePool,
  ) {}

  async isHealthy<const Key extends string = 'discovery'>(
    key: Key = 'discovery' as Key,
  ): Promise<HealthIndicatorResult<Key>> {
    const indicator = (await this.indicatorService()).check(key);
    const lease = this.membership.leaseStatus();
    const details = {
      nodeId: this.membership.nodeId,
      serviceName: this.options.serviceName,
      pool: this.pool.getState(),
      nodes: this.pool.getNodes().length,
      lastHeartbeatAge: lease.lastHeartbeatAge ?? null,
      /** ms this node's wall clock is ahead of Redis time (negative: behind). */
      clockOffset: this.membership.clockOffset() ?? null,
    };
    if (this.membership.isShuttingDown)
      return indicator.down({ ...details, message: 'shutting down' });
    if (this.options.clientMode) return indicator.up({ ...details, clientMode: true });
    if (!lease.valid)
      return indicator.down({ ...details, message: 'lease lost: not registered in Redis' });
    if (lease.failingFor > this.options.heartbeatTTL) {
      return indicator.down({
        ...details,
        message: `Redis unreachable for ${lease.failingFor} ms`,
      });
    }
    if (lease.consecutiveFailures > 0 || lease.stalled) {
      const message = lease.stalled
        ? `heartbeat overdue by ${lease.failingFor} ms (Redis not answering); lease still valid`
        : `${lease.consecutiveFailures} heartbeat(s) failed; lease still valid`;
      // Terminus 11 has no `degraded` status: report up there, with the message.
      return typeof indicator.degraded === 'function'
        ? indicator.degraded({ ...details, message })
        : indicator.up({ ...details, degraded: true, message });
    }
    return indicator.up(details);
  }

  private async indicatorService(): Promise<HealthIndicatorService> {
    if (!this.indicators) {
      const specifier = '@nestjs/terminus';
      const terminus = (await import(specifier)) as typeof import('@nestjs/terminus');
      this.indicators = new terminus.HealthIndicatorService();
    }
    return this.indicators;
  }
}

// `DiscoveryModule`, the entry point: the providers it builds (validated options, registry store,
// clock, stats, signer and the services) and the Nest hooks that start and stop them in order.
import {
  BeforeApplicationShutdown,
  Inject,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import { HttpAdapterHost, DiscoveryModule as NestDiscoveryModule } from '@nestjs/core';
import { hostname } from 'node:os';
import type { Subscription } from 'rxjs';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableModuleClass,
  OPTIONS_TYPE,
  RAW_DISCOVERY_OPTIONS,
} from './discovery.module-definition.js';
import { RecordSigner } from './common/record-signer.js';
import { ServerClock } from './common/server-clock.js';
import {
  DISCOVERY_OPTIONS,
  DISCOVERY_METRICS,
  DISCOVERY_STATS,
  RECORD_SIGNER,
  REGISTRY_STORE,
} from './discovery.constants.js';
import type { DiscoveryStats } from './discovery/node-info.interface.js';
import { NodeMembership } from './discovery/node-membership.service.js';
import { RegistrySync } from './discovery/registry-sync.service.js';
import { ServiceDiscovery } from './discovery/service-discovery.service.js';
import { DistributedJobs } from './jobs/distributed-jobs.service.js';
import { DistributedJobsExplorer } from './jobs/distributed-jobs.explorer.js';
import { DiscoveryHealthIndicator } from './health/discovery-health.indicator.js';
import { createMetrics } from './metrics/create-metrics.js';
import { MetricsObserver } from './metrics/metrics-observer.js';
import { NodePool } from './node-pool/node-pool.service.js';
import type { ResolvedDiscoveryOptions } from './options/discovery-options.interface.js';
import { validateOptions } from './options/validate-options.js';
import { createRegistryStore } from './storage/create-registry-store.js';
import type { RegistryStore } from './storage/registry-store.interface.js';

/**
 * Service discovery, node pool and distributed jobs on Redis. Lifecycle: jobs are bound at module
 * init, the node registers at bootstrap (so lookups work once `app.init()` resolves); on shutdown
 * jobs stop taking ticks and drain, the node deregisters, and only then are owned clients closed.
 */
@Module({
  imports: [NestDiscoveryModule],
  providers: [
    { provide: DISCOVERY_OPTIONS, useFactory: validateOptions, inject: [RAW_DISCOVERY_OPTIONS] },
    { provide: REGISTRY_STORE, useFactory: createRegistryStore, inject: [DISCOVERY_OPTIONS] },
    { provide: ServerClock, useFactory: () => new ServerClock() },
    { provide: DISCOVERY_STATS, useFactory: newStats },
    {
      provide: RECORD_SIGNER,
      useFactory: ({ signingKey }: ResolvedDiscoveryOptions) =>
        signingKey === undefined ? undefined : new RecordSigner(signingKey),
      inject: [DISCOVERY_OPTIONS],
    },
    {
      provide: DISCOVERY_METRICS,
      useFactory: ({ meterProvider }: ResolvedDiscoveryOptions) => createMetrics(meterProvider),
      inject: [DISCOVERY_OPTIONS],
    },
    RegistrySync,
    NodeMembership,
    ServiceDiscovery,
    NodePool,
    DistributedJobs,
    DistributedJobsExplorer,
    DiscoveryHealthIndicator,
    MetricsObserver,
  ],
  exports: [
    ServiceDiscovery,
    NodePool,
    DistributedJobs,
    DiscoveryHealthIndicator,
    DISCOVERY_OPTIONS,
  ],
})
export class DiscoveryModule
  extends ConfigurableModuleClass
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private listening: Subscription | undefined;

  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly discovery: ServiceDiscovery,
    private readonly jobs: DistributedJobs,
    private readonly explorer: DistributedJobsExplorer,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {
    super();
  }

  static override forRoot(options: typeof OPTIONS_TYPE = {}) {
    return super.forRoot(options);
  }

  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE) {
    return super.forRootAsync(options);
  }

  async onModuleInit(): Promise<void> {
    await this.releaseOnFailure(() => this.explorer.explore());
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.releaseOnFailure(() => this.discovery.startHeartbeat());
    if (this.options.address === undefined && this.adapterHost) {
      // The app's own address is known only once it listens: publish it then.
      this.listening = this.adapterHost.listen$.subscribe(() => {
        const port = listeningPort(this.adapterHost?.httpAdapter?.getHttpServer());
        if (port !== undefined) {
          this.discovery.updateAddress(`${hostname()}:${port}`).catch(() => undefined);
        }
      });
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.discovery.beginShutdown();
    this.listening?.unsubscribe();
    await this.jobs.drain();
    await this.discovery.shutdown();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }

  /**
   * A failed start (duplicate job or node id, Redis unreachable) must not leave timers and
   * connections behind: Nest runs no shutdown hooks for an app that never started.
   */
  private async releaseOnFailure(start: () => Promise<void>): Promise<void> {
    try {
      await start();
    } catch (error) {
      await this.discovery.shutdown();
      await this.store.close();
      throw error;
    }
  }
}

function newStats(): DiscoveryStats {
  return {
    heartbeats: 0,
    heartbeatFailures: 0,
    reRegistrations: 0,
    resyncs: 0,
    eventsReceived: 0,
    rollbacks: 0,
    divergences: 0,
    malformedEvents: 0,
    malformedRecords: 0,
    unverified: 0,
    handlerErrors: 0,
    clockOffset: undefined,
  };
}

function listeningPort(server: unknown): number | undefined {
  const address = (server as { address?: () => unknown } | undefined)?.address?.();
  return typeof address === 'object' && address !== null
    ? (address as { port?: number }).port
    : undefined;
}

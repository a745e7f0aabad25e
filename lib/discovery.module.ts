// `DiscoveryModule`, the entry point: the providers it builds (validated options, registry store,
// clock, telemetry, signer and the services) and the Nest hooks that start and stop them in order.
import {
  BeforeApplicationShutdown,
  type DynamicModule,
  Logger,
  Inject,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import {
  HttpAdapterHost,
  DiscoveryModule as NestDiscoveryModule,
  DiscoveryService as NestDiscoveryService,
} from '@nestjs/core';
import { hostname } from 'node:os';
import type { Subscription } from 'rxjs';
import {
  ConfigurableModuleClass,
  RAW_DISCOVERY_OPTIONS,
  type ASYNC_OPTIONS_TYPE,
  type DiscoveryAsyncOptions,
  type DiscoveryRootOptions,
} from './discovery.module-definition.js';
import { ClusterLog } from './cluster-log.js';
import { RecordSigner } from './common/record-signer.js';
import { ServerClock } from './common/server-clock.js';
import {
  DISCOVERY_OPTIONS,
  JOB_CLAIM_STORE,
  RECORD_SIGNER,
  REGISTRY_STORE,
  STORES,
  TELEMETRY,
} from './discovery.constants.js';
import { NodeMembership } from './discovery/membership/node-membership.service.js';
import { RegistrySync } from './discovery/view/registry-sync.service.js';
import { ServiceDiscovery } from './discovery/service-discovery.service.js';
import { DistributedJobs } from './jobs/distributed-jobs.service.js';
import { DistributedJobsExplorer } from './jobs/distributed-jobs.explorer.js';
import { hasSchedulerModule, jobSetupWarnings } from './jobs/job-setup-warnings.js';
import { DiscoveryHealthIndicator } from './health/discovery-health.indicator.js';
import type { Telemetry } from './common/telemetry/telemetry.js';
import { createTelemetry } from './common/telemetry/create-telemetry.js';
import { MetricsObserver } from './metrics-observer.js';
import { NodePool } from './node-pool/node-pool.service.js';
import type { ResolvedDiscoveryOptions } from './options/discovery-options.interface.js';
import { validateOptions } from './options/validate-options.js';
import { createStores, type Stores } from './storage/create-stores.js';
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
    { provide: STORES, useFactory: createStores, inject: [DISCOVERY_OPTIONS] },
    { provide: REGISTRY_STORE, useFactory: (s: Stores) => s.registry, inject: [STORES] },
    { provide: JOB_CLAIM_STORE, useFactory: (s: Stores) => s.jobClaims, inject: [STORES] },
    { provide: ServerClock, useFactory: serverClock, inject: [TELEMETRY] },
    {
      provide: RECORD_SIGNER,
      useFactory: ({ signingKey }: ResolvedDiscoveryOptions) =>
        signingKey === undefined ? undefined : new RecordSigner(signingKey),
      inject: [DISCOVERY_OPTIONS],
    },
    {
      provide: TELEMETRY,
      useFactory: ({ meterProvider }: ResolvedDiscoveryOptions) => createTelemetry(meterProvider),
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
    ClusterLog,
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

  /** @internal */
  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly membership: NodeMembership,
    private readonly discovery: ServiceDiscovery,
    private readonly jobs: DistributedJobs,
    private readonly explorer: DistributedJobsExplorer,
    private readonly clusterLog: ClusterLog,
    private readonly nest: NestDiscoveryService,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {
    super();
  }

  /**
   * Service discovery, the node pool and distributed jobs with these options (see
   * {@link DiscoveryRootOptions}; every option is validated at startup and a bad one fails the app
   * with an `InvalidOptionError` naming it). `redis` left out: the in-memory registry of this
   * process only.
   */
  static override forRoot(options: DiscoveryRootOptions = {}): DynamicModule {
    return super.forRoot(options);
  }

  /**
   * The same, with the options built by a factory, a class or an existing provider (see
   * {@link DiscoveryAsyncOptions}), e.g. from `ConfigService`.
   */
  static override forRootAsync(options: DiscoveryAsyncOptions): DynamicModule {
    return super.forRootAsync(options as typeof ASYNC_OPTIONS_TYPE);
  }

  async onModuleInit(): Promise<void> {
    await this.releaseOnFailure(() => this.explorer.explore());
    const logger = new Logger('DistributedJobs');
    const setup = {
      jobs: this.jobs.list(),
      hasScheduler: hasSchedulerModule(this.nest),
      inMemory: this.store.kind === 'memory',
    };
    for (const warning of jobSetupWarnings(setup)) logger.warn(warning);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.releaseOnFailure(async () => {
      await this.membership.start();
      await this.clusterLog.start();
    });
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
    await this.clusterLog.stop();
    this.membership.beginShutdown();
    this.listening?.unsubscribe();
    await this.jobs.drain();
    await this.membership.shutdown();
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
      await this.clusterLog.stop();
      await this.membership.shutdown();
      await this.store.close();
      throw error;
    }
  }
}

/** The Redis-time estimate, counting and logging each step of Redis TIME it follows. */
function serverClock(telemetry: Telemetry): ServerClock {
  const logger = new Logger('ServiceDiscovery');
  return new ServerClock((step) => {
    telemetry.count('clockSteps');
    logger.warn(
      `Redis server time stepped by ${Math.round(step)} ms (clock step, VM resume, failover to another clock, or this host suspended); following it`,
    );
  });
}

function listeningPort(server: unknown): number | undefined {
  const address = (server as { address?: () => unknown } | undefined)?.address?.();
  return typeof address === 'object' && address !== null
    ? (address as { port?: number }).port
    : undefined;
}

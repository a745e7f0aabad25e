import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { DiscoveryDashboardModule, DiscoveryModule } from 'nestjs-redis-discovery';
import { SAMPLE_CONFIG, type SampleConfig } from './config.js';
import { RunLog } from './run-log.js';
import { InvalidArgumentFilter, SampleController } from './sample.controller.js';
import { SampleJobs } from './sample.jobs.js';
import { MetricsController, SampleMetrics } from './sample.metrics.js';

@Module({})
export class AppModule {
  static register(config: SampleConfig, metrics = new SampleMetrics(config)): DynamicModule {
    return {
      module: AppModule,
      imports: [
        DiscoveryModule.forRoot({
          // No REDIS_URL: the in-memory registry (this process only), chosen explicitly.
          redis: config.redisUrl ?? 'memory',
          nodeId: config.nodeId,
          serviceName: config.serviceName,
          services: [{ name: config.serviceName, version: config.serviceVersion }],
          ...(config.keyPrefix ? { keyPrefix: config.keyPrefix } : {}),
          ...(config.heartbeatInterval ? { heartbeatInterval: config.heartbeatInterval } : {}),
          ...(config.heartbeatTTL ? { heartbeatTTL: config.heartbeatTTL } : {}),
          // Metrics go to this provider, served at GET /metrics (without it: the global one).
          meterProvider: metrics.meterProvider,
        }),
        // The live cluster page at /cluster (read-only; add `guard` to protect it).
        DiscoveryDashboardModule.forRoot({ path: 'cluster' }),
        ScheduleModule.forRoot(),
        // After DiscoveryModule: Nest runs shutdown hooks in reverse, so Terminus marks the app
        // shutting down (GET /health: 503) before the running jobs drain.
        TerminusModule.forRoot({ logger: false }),
      ],
      controllers: [SampleController, MetricsController],
      providers: [
        { provide: SAMPLE_CONFIG, useValue: config },
        { provide: SampleMetrics, useValue: metrics },
        { provide: APP_FILTER, useClass: InvalidArgumentFilter },
        RunLog,
        SampleJobs,
      ],
    };
  }
}

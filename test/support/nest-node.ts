import 'reflect-metadata';
import {
  Logger,
  Module,
  type DynamicModule,
  type INestApplicationContext,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  DiscoveryModule,
  DistributedJobs,
  NodePool,
  ServiceDiscovery,
  type DiscoveryModuleOptions,
} from 'nestjs-redis-discovery';

/** One node of a test cluster: a real Nest application context with the module imported. */
export interface TestNode {
  app: INestApplicationContext;
  discovery: ServiceDiscovery;
  pool: NodePool;
  jobs: DistributedJobs;
  close(): Promise<void>;
}

export interface TestNodeOptions {
  /** Extra modules and providers (job classes, ScheduleModule...). */
  imports?: Array<Type | DynamicModule>;
  providers?: Type[];
}

/** Quiet by default; set DEBUG_NEST=1 to see the library's log lines. */
export async function startNode(
  options: DiscoveryModuleOptions,
  extra: TestNodeOptions = {},
): Promise<TestNode> {
  @Module({
    imports: [DiscoveryModule.forRoot(options), ...(extra.imports ?? [])],
    providers: extra.providers ?? [],
  })
  class TestAppModule {}
  const app = await NestFactory.createApplicationContext(TestAppModule, {
    logger: process.env.DEBUG_NEST ? new Logger() : false,
    abortOnError: false,
  });
  try {
    await app.init();
  } catch (error) {
    await app.close();
    throw error;
  }
  let closed = false;
  return {
    app,
    discovery: app.get(ServiceDiscovery),
    pool: app.get(NodePool),
    jobs: app.get(DistributedJobs),
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
    },
  };
}

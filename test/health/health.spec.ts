import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Redis } from 'ioredis';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  DiscoveryHealthIndicator,
  DiscoveryModule,
  DistributedJob,
  getJobContext,
  ServiceDiscovery,
  type DiscoveryModuleOptions,
} from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

const FAST = { heartbeatInterval: 200, heartbeatTTL: 1000 } as const;
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

@Controller()
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly discovery: DiscoveryHealthIndicator,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.discovery.isHealthy('discovery')]);
  }
}

/** Holds the app's shutdown open while a test looks at it. */
let releaseJob: (() => void) | undefined;
let jobStarted = false;

@Injectable()
class HoldingJob {
  @DistributedJob({ name: 'hold', period: 60_000 })
  async hold(): Promise<void> {
    const { signal } = getJobContext()!;
    jobStarted = true;
    await new Promise<void>((resolve) => {
      releaseJob = resolve;
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }
}

interface HealthApp {
  app: INestApplication;
  indicator: DiscoveryHealthIndicator;
  discovery: ServiceDiscovery;
  /** GET /health: the HTTP status and Terminus' body. */
  probe(): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** An HTTP app the way a user writes one: DiscoveryModule, TerminusModule and a health controller. */
async function startHealthApp(options: DiscoveryModuleOptions): Promise<HealthApp> {
  @Module({
    imports: [DiscoveryModule.forRoot(options), TerminusModule.forRoot({ logger: false })],
    controllers: [HealthController],
    providers: [HoldingJob],
  })
  class HealthAppModule {}
  const app = await NestFactory.create(HealthAppModule, { logger: false, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  let closed: Promise<void> | undefined;
  const handle: HealthApp = {
    app,
    indicator: app.get(DiscoveryHealthIndicator),
    discovery: app.get(ServiceDiscovery),
    async probe() {
      const response = await fetch(`http://127.0.0.1:${port}/health`, {
        signal: AbortSignal.timeout(2000),
      });
      return { status: response.status, body: await response.json() };
    },
    close: () => (closed ??= app.close()),
  };
  apps.push(handle);
  return handle;
}

const apps: HealthApp[] = [];
const peers: TestNode[] = [];

describe('DiscoveryHealthIndicator', () => {
  let redis: RedisHandle;
  let admin: Redis;
  let namespace = 0;
  const keyPrefix = () => `${redis.keyPrefix}health-${namespace++}`;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    releaseJob?.();
    releaseJob = undefined;
    jobStarted = false;
    await Promise.all([...apps.splice(0), ...peers.splice(0)].map((a) => a.close()));
  });
  afterAll(async () => {
    await admin?.quit();
    await redis?.stop();
  });

  it('is up with the node, its pool and the last heartbeat', async () => {
    const prefix = keyPrefix();
    const options = { redis: redis.url, keyPrefix: prefix, serviceName: 'health', ...FAST };
    const subject = await startHealthApp({ ...options, nodeId: 'subject' });
    peers.push(await startNode({ ...options, nodeId: 'peer' }));

    const { status, body } = (await waitFor(
      async () => {
        const probed = await subject.probe();
        const details = probed.body.details?.discovery;
        return details?.nodes === 2 && details.pool === 'steady' ? probed : undefined;
      },
      { timeout: 5000, message: 'never up with both nodes and a steady pool' },
    ))!;
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.details.discovery).toEqual({
      status: 'up',
      nodeId: 'subject',
      serviceName: 'health',
      pool: 'steady',
      nodes: 2,
      lastHeartbeatAge: expect.any(Number),
      clockOffset: expect.any(Number),
    });
    expect(body.details.discovery.lastHeartbeatAge).toBeLessThan(FAST.heartbeatTTL);
    expect(body.info).toEqual(body.details);
  });

  it('is degraded while heartbeats fail and the lease is still valid, up again after', async () => {
    // A long lease: the outage below stays well inside it. A paused server fails no command: the
    // heartbeat stalls, and a heartbeat two intervals overdue counts as failing.
    const subject = await startHealthApp({
      redis: redis.url,
      keyPrefix: keyPrefix(),
      nodeId: 'degraded',
      heartbeatInterval: 200,
      heartbeatTTL: 5000,
    });
    expect((await subject.probe()).body.details.discovery.status).toBe('up');

    redis.pause();
    let degraded: { status: number; body: any } | undefined;
    try {
      degraded = await waitFor(
        async () => {
          const probed = await subject.probe();
          return probed.body.details.discovery.status === 'degraded' ? probed : undefined;
        },
        { timeout: 4000, interval: 50, message: 'never degraded while Redis was paused' },
      );
    } finally {
      redis.resume();
    }
    // Degraded still serves: 200, overall status `degraded`.
    expect(degraded!.status).toBe(200);
    expect(degraded!.body.status).toBe('degraded');
    expect(degraded!.body.details.discovery).toMatchObject({
      nodeId: 'degraded',
      message: expect.stringContaining('lease still valid'),
    });

    await waitFor(async () => (await subject.probe()).body.details.discovery.status === 'up', {
      timeout: 5000,
      message: 'not up again after Redis came back',
    });
  });

  it('is down once the lease is lost, up again after Redis is back', async () => {
    const subject = await startHealthApp({
      redis: redis.url,
      keyPrefix: keyPrefix(),
      nodeId: 'lost',
      ...FAST,
    });
    expect((await subject.probe()).status).toBe(200);

    redis.pause();
    let down: { status: number; body: any } | undefined;
    try {
      down = await waitFor(
        async () => {
          const probed = await subject.probe();
          return probed.status === 503 ? probed : undefined;
        },
        { timeout: 3000, interval: 50, message: 'never down while Redis was paused past the TTL' },
      );
    } finally {
      redis.resume();
    }
    expect(down!.body.status).toBe('error');
    expect(down!.body.details.discovery).toMatchObject({ status: 'down', nodeId: 'lost' });
    expect(down!.body.error.discovery.message).toMatch(/lease lost|unreachable/);
    expect(subject.discovery.leaseStatus().valid).toBe(false);

    await waitFor(async () => (await subject.probe()).status === 200, {
      timeout: 5000,
      message: 'not up again after Redis came back',
    });
  });

  it('is down while the app shuts down', async () => {
    const subject = await startHealthApp({
      redis: redis.url,
      keyPrefix: keyPrefix(),
      nodeId: 'stopping',
      ...FAST,
    });
    expect((await subject.indicator.isHealthy()).discovery.status).toBe('up');

    // A running job holds close() in its drain phase: readiness must already fail then.
    const run = subject.app.get(HoldingJob).hold();
    await waitFor(() => jobStarted, { message: 'the job never started' });
    const closing = subject.close();
    const draining = await waitFor(
      async () => {
        const health = await subject.indicator.isHealthy('discovery');
        return health.discovery.status === 'down' ? health : undefined;
      },
      { timeout: 1000, interval: 5, message: 'readiness still up after close() began' },
    );
    expect(draining!.discovery).toMatchObject({ nodeId: 'stopping', message: 'shutting down' });
    const probed = await subject.probe();
    expect(probed.status).toBe(503);
    releaseJob!();
    await closing;
    await run;
    expect((await subject.indicator.isHealthy()).discovery).toMatchObject({
      status: 'down',
      message: 'shutting down',
    });
  });

  it('answers a probe without a Redis round trip', async () => {
    const subject = await startHealthApp({
      redis: redis.url,
      keyPrefix: keyPrefix(),
      nodeId: 'quiet',
      heartbeatInterval: 60_000,
      heartbeatTTL: 180_000,
    });
    await subject.indicator.isHealthy(); // loads Terminus once
    const commands = async () =>
      Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))![1]);
    // Start-up traffic (registration, view, the address published once listening) is over when
    // Redis sees nothing but our INFO over 200 ms.
    await waitFor(
      async () => {
        const first = await commands();
        await new Promise((resolve) => setTimeout(resolve, 200));
        return (await commands()) - first <= 1;
      },
      { timeout: 5000, message: 'the node never went quiet' },
    );

    const before = await commands();
    for (let i = 0; i < 1000; i++) {
      expect((await subject.indicator.isHealthy()).discovery.status).toBe('up');
    }
    const after = await commands();
    // The second INFO counts itself; anything else would be the probes'.
    expect(after - before).toBeLessThan(10);
  });

  describe('the built package', () => {
    const run = async (args: string[], env: Record<string, string>) => {
      const { stdout } = await promisify(execFile)(process.execPath, args, {
        env: { ...process.env, NODE_OPTIONS: '', ...env },
        timeout: 20_000,
      });
      return JSON.parse(stdout.trim().split('\n').at(-1)!);
    };

    it('imported as `nestjs-redis-discovery` resolves to dist and reports health', async () => {
      const out = await run([fixture('probe.mjs')], {
        REDIS_URL: redis.url,
        KEY_PREFIX: keyPrefix(),
        NODE_ID: 'built',
      });
      expect(out.resolved).toMatch(/\/dist\/index\.js$/);
      expect(out.terminus).toBe('loaded');
      expect(out.nodes).toEqual(['built']);
      expect(out.health.discovery).toMatchObject({
        status: 'up',
        nodeId: 'built',
        serviceName: 'default',
        nodes: 1,
        lastHeartbeatAge: expect.any(Number),
      });
    });

    it('loads and runs a DiscoveryModule app when @nestjs/terminus cannot be resolved', async () => {
      const out = await run(['--import', fixture('without-terminus.mjs'), fixture('probe.mjs')], {
        REDIS_URL: redis.url,
        KEY_PREFIX: keyPrefix(),
        NODE_ID: 'no-terminus',
      });
      expect(out.resolved).toMatch(/\/dist\/index\.js$/);
      // The hook works: Terminus really is missing for this process...
      expect(out.terminus).toBe('ERR_MODULE_NOT_FOUND');
      // ...and the app still starts, registers and looks up nodes.
      expect(out.nodes).toEqual(['no-terminus']);
    });
  });
});

import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Injectable,
  Module,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  DiscoveryDashboardModule,
  DiscoveryModule,
  DistributedJob,
  InvalidArgumentError,
  ServiceDiscovery,
  type DiscoveryDashboardOptions,
  type DiscoveryModuleOptions,
} from 'nestjs-redis-discovery';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

const SIGNING_KEY = 'dashboard-test-signing-key-0123456789';
const PASSWORD = 'dashboard-test-redis-password';
const TOKEN = 'let-me-in';

/** Lets in requests that carry the ops token. */
@Injectable()
class OpsTokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest().headers['x-ops-token'] === TOKEN;
  }
}

@Injectable()
class Chores {
  @DistributedJob('chore')
  async chore(): Promise<void> {}
}

const withToken = { headers: { 'x-ops-token': TOKEN } };

/** The dashboard over HTTP in this process, on a password-protected Redis with a signing key. */
describe('live cluster page over HTTP', () => {
  let redis: RedisHandle;
  let namespace = 0;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    redis = await startRedis({ args: ['--requirepass', PASSWORD] });
  }, 30_000);
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(async () => {
    await redis?.stop();
  });

  async function startApp(
    dashboard: DiscoveryDashboardOptions,
    discovery: DiscoveryModuleOptions = {},
    isGlobal = false,
  ): Promise<{ app: INestApplication; url: string }> {
    @Module({
      imports: [
        DiscoveryModule.forRoot({
          redis: `redis://:${PASSWORD}@${redis.host}:${redis.port}`,
          keyPrefix: `${redis.keyPrefix}dash-http-${namespace++}`,
          nodeId: 'web-1',
          serviceName: 'web',
          metadata: { zone: 'eu-1' },
          signingKey: SIGNING_KEY,
          ...discovery,
          isGlobal,
        }),
        DiscoveryDashboardModule.forRoot(dashboard),
      ],
      providers: [Chores],
    })
    class AppModule {}
    const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
    apps.push(app);
    await app.listen(0, '127.0.0.1');
    return { app, url: await app.getUrl() };
  }

  it('applies the guard to the page, its state and its events: 403 unless it lets the caller in', async () => {
    const { url } = await startApp({ path: 'ops/cluster', guard: OpsTokenGuard });
    for (const route of ['/ops/cluster', '/ops/cluster/state', '/ops/cluster/events']) {
      const refused = await fetch(`${url}${route}`);
      expect({ route, status: refused.status }).toEqual({ route, status: 403 });
      await refused.text();
    }
    const page = await fetch(`${url}/ops/cluster`, withToken);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Cluster</title>');
    const state = await fetch(`${url}/ops/cluster/state`, withToken);
    expect(state.status).toBe(200);
    expect(((await state.json()) as { nodeId: string }).nodeId).toBe('web-1');
    const events = await fetch(`${url}/ops/cluster/events`, withToken);
    expect(events.status).toBe(200);
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // Left open: closing the app ends it.
  });

  it('shows nodes, pool, jobs and runs, but no signing key, Redis password or options', async () => {
    const { app, url } = await startApp({}, {}, true);
    await app.get(Chores).chore();
    const state = await waitFor(
      async () => {
        const body = (await (await fetch(`${url}/cluster/state`)).json()) as any;
        return body.jobs[0]?.recentRuns?.length === 1 ? body : undefined;
      },
      { message: 'the state never listed the run of chore' },
    );
    expect(Object.keys(state).sort()).toEqual([
      'events',
      'jobs',
      'nodeId',
      'now',
      'pool',
      'services',
    ]);
    expect(state.services).toEqual([
      {
        name: 'web',
        nodes: [
          {
            nodeId: 'web-1',
            address: expect.any(String),
            pool: 'web',
            metadata: { zone: 'eu-1' },
            self: true,
          },
        ],
      },
    ]);
    expect(state.pool).toMatchObject({ name: 'web', nodes: ['web-1'] });
    expect(state.jobs[0]).toMatchObject({ name: 'chore', owner: 'web-1', runs: 1 });
    expect(state.jobs[0].recentRuns[0]).toEqual({
      tick: expect.any(Number),
      startedAt: expect.any(Number),
      delay: expect.any(Number),
      nodeId: 'web-1',
      token: expect.any(Number),
    });

    const everything = [
      JSON.stringify(state),
      await (await fetch(`${url}/cluster`)).text(),
      await firstEvent(`${url}/cluster/events`),
    ].join('\n');
    expect(everything).toContain('web-1');
    expect(everything).not.toContain(SIGNING_KEY);
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toMatch(/signingKey|redis:\/\//);
  });

  it('ends open event streams at shutdown: app.close() is not held up by a connected client', async () => {
    // In memory: the shutdown hooks take no time, so the stream must be over before the server closes.
    const { app, url } = await startApp({}, { redis: 'memory' });
    const controller = new AbortController();
    const response = await fetch(`${url}/cluster/events`, { signal: controller.signal });
    const reader = response.body!.getReader();
    let received = '';
    while (!received.includes('event: state')) {
      const { value } = await reader.read();
      received += new TextDecoder().decode(value);
    }

    const started = Date.now();
    await app.close();
    const closeTook = Date.now() - started;
    apps.splice(apps.indexOf(app), 1);
    // The stream ended from the server side (a held connection would keep close() waiting).
    let ended = false;
    const timer = setTimeout(() => controller.abort(), 2000);
    try {
      while (!ended) ended = (await reader.read()).done;
    } finally {
      clearTimeout(timer);
    }
    expect(ended).toBe(true);
    expect(closeTook).toBeLessThan(1000);
    process.stdout.write(`dashboard: app.close() with an SSE client took ${closeTook} ms\n`);
  });

  it('reads heartbeat deadlines (ServiceDiscovery.heartbeatDeadlines) and calls no beating node suspect', async () => {
    const { app, url } = await startApp({}, { heartbeatInterval: 200, heartbeatTTL: 3000 });
    const discovery = app.get(ServiceDiscovery);
    const deadlines = await discovery.heartbeatDeadlines('web');
    expect([...deadlines.keys()]).toEqual(['web-1']);
    // The last beat was at most an interval (and a round trip) ago: deadline - TTL.
    const sinceBeat = discovery.serverNow() - (deadlines.get('web-1')! - 3000);
    expect(sinceBeat).toBeGreaterThanOrEqual(-50);
    expect(sinceBeat).toBeLessThan(3000);
    expect(await discovery.heartbeatDeadlines('nobody')).toEqual(new Map());
    await expect(discovery.heartbeatDeadlines('')).rejects.toThrow(InvalidArgumentError);
    const state = (await (await fetch(`${url}/cluster/state`)).json()) as any;
    expect(state.pool.suspects).toEqual([]);
    expect(state.jobs[0].skipped).toEqual({
      claimedElsewhere: 0,
      deadline: 0,
      overlap: 0,
      redisError: 0,
      noLease: 0,
      stopping: 0,
      clockSkew: 0,
      dataLoss: 0,
      missed: 0,
      duplicate: 0,
    });
  });

  it('without DiscoveryModule the app fails at startup, saying what is missing', async () => {
    @Module({ imports: [DiscoveryDashboardModule.forRoot()] })
    class LonelyModule {}
    const app = await NestFactory.create(LonelyModule, { logger: false, abortOnError: false });
    await expect(app.init()).rejects.toThrow(
      'DiscoveryDashboardModule needs DiscoveryModule.forRoot() or forRootAsync() in the same app',
    );
    await app.close();
  });
});

/** The first message of an event stream; the stream stays open until the app closes. */
async function firstEvent(url: string): Promise<string> {
  const reader = (await fetch(url)).body!.getReader();
  let text = '';
  while (!/\ndata: .*\n\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  return text;
}

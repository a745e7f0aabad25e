import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Injectable,
  Module,
  type DynamicModule,
  type INestApplicationContext,
  type LoggerService,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createServer, type Server } from 'node:http';
import { Redis } from 'ioredis';
import { Interval, ScheduleModule } from '@nestjs/schedule';
import {
  DiscoveryModule,
  DistributedJob,
  InvalidOptionError,
  NotRedisError,
  RegistryUnavailableError,
  type DiscoveryModuleOptions,
} from 'nestjs-redis-discovery';
import { startRedis, type RedisHandle } from '../support/redis-harness.js';

// What an app says (and refuses) at startup: no silent fallback to the in-memory registry, the
// registration line, and the warnings for jobs that would never fire or would run per process.

const FAST = { heartbeatInterval: 200, heartbeatTTL: 1000 } as const;
const UNSET_TEXT =
  "(an unset environment variable, as with redis: process.env.REDIS_URL?): give a redis:// URL, an ioredis client or RedisOptions; for the in-memory registry of this process only, leave redis out or set redis: 'memory'";
const NO_SCHEDULER =
  'Distributed job ReportJobs.report has a @Cron, @Interval or @Timeout schedule, but no scheduler module is loaded, so it never fires: import ScheduleModule.forRoot() from @nestjs/schedule in your app module';
const PER_PROCESS =
  'Distributed job ReportJobs.report: the in-memory registry spans this process only, so jobs run once per tick per process: every replica runs every tick. Give the redis option to run them once across replicas';

@Injectable()
class ReportJobs {
  @DistributedJob()
  @Interval(60_000)
  report(): void {}
}

@Injectable()
class ManualJobs {
  @DistributedJob({ period: 60_000 })
  rebuild(): void {}
}

interface LogEntry {
  level: string;
  message: string;
  context: unknown;
}

let handle: RedisHandle;
let counter = 0;
const openApps = new Set<INestApplicationContext>();

beforeAll(async () => {
  handle = await startRedis();
});
afterEach(async () => {
  for (const app of openApps) await app.close();
  openApps.clear();
});
afterAll(async () => {
  await handle?.stop();
});

function capturingLogger(): { logger: LoggerService; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const record =
    (level: string) =>
    (message: unknown, ...rest: unknown[]) =>
      entries.push({ level, message: String(message), context: rest[rest.length - 1] });
  const logger = {
    log: record('log'),
    warn: record('warn'),
    error: record('error'),
    debug: record('debug'),
    verbose: record('verbose'),
  };
  return { logger, entries };
}

async function boot(
  imports: Array<Type | DynamicModule>,
  providers: Type[] = [],
): Promise<{ app: INestApplicationContext; entries: LogEntry[] }> {
  const { logger, entries } = capturingLogger();
  @Module({ imports, providers })
  class AppModule {}
  const app = await NestFactory.createApplicationContext(AppModule, {
    logger,
    abortOnError: false,
  });
  openApps.add(app);
  await app.init();
  return { app, entries };
}

async function creationError(module: DynamicModule): Promise<unknown> {
  @Module({ imports: [module] })
  class AppModule {}
  try {
    const app = await NestFactory.createApplicationContext(AppModule, {
      logger: false,
      abortOnError: false,
    });
    openApps.add(app);
  } catch (error) {
    return error;
  }
  throw new Error('application context was created');
}

function unique(): { keyPrefix: string; nodeId: string } {
  counter += 1;
  return { keyPrefix: `${handle.keyPrefix}startup-${counter}`, nodeId: `node-${counter}` };
}

describe('redis given but unset: a startup error, never a silent in-memory fallback', () => {
  it('refuses forRoot({ redis: undefined }) with an InvalidOptionError naming redis', async () => {
    const error = await creationError(DiscoveryModule.forRoot({ redis: undefined }));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('redis');
    expect((error as Error).message).toBe(`redis is undefined ${UNSET_TEXT}`);
  });

  it('refuses a forRootAsync factory that reads an unset variable, and an empty one', async () => {
    const unset = `DISCOVERY_TEST_UNSET_${process.pid}`;
    delete process.env[unset];
    for (const [value, shown] of [
      [process.env[unset], 'undefined'],
      ['', 'an empty string'],
    ] as const) {
      const error = await creationError(
        DiscoveryModule.forRootAsync({
          useFactory: (): DiscoveryModuleOptions => ({ redis: value, serviceName: 'billing' }),
        }),
      );
      expect({
        option: (error as InvalidOptionError).option,
        message: (error as Error).message,
      }).toEqual({ option: 'redis', message: `redis is ${shown} ${UNSET_TEXT}` });
    }
  });

  it("runs on the in-memory registry when redis is left out or 'memory', and says where", async () => {
    for (const options of [{ nodeId: 'solo' }, { nodeId: 'solo', redis: 'memory' as const }]) {
      const { app, entries } = await boot([DiscoveryModule.forRoot(options)]);
      expect(entries.filter((entry) => entry.message.startsWith('Registered node'))).toEqual([
        {
          level: 'log',
          context: 'ServiceDiscovery',
          message:
            'Registered node solo in pool default on the in-memory registry (this process only), keyPrefix discovery; pool: 1 node (solo)',
        },
      ]);
      await app.close();
      openApps.delete(app);
    }
  });

  it('says the Redis address it registered on', async () => {
    const { keyPrefix, nodeId } = unique();
    const redis = { ...FAST, redis: handle.url, keyPrefix, nodeId, serviceName: 'billing' };
    const { entries } = await boot([DiscoveryModule.forRoot(redis)]);
    const { port } = new URL(handle.url);
    expect(entries.filter((entry) => entry.message.startsWith('Registered node'))).toEqual([
      {
        level: 'log',
        context: 'ServiceDiscovery',
        message: `Registered node ${nodeId} in pool billing on Redis 127.0.0.1:${port}, keyPrefix ${keyPrefix}; pool: 1 node (${nodeId})`,
      },
    ]);
  });
});

describe('job setup warnings at bootstrap', () => {
  const warnings = (entries: LogEntry[]) =>
    entries.filter((entry) => entry.level === 'warn').map((entry) => entry.message);

  it('warns when scheduled jobs exist without a scheduler module, and when they run per process', async () => {
    const { entries } = await boot([DiscoveryModule.forRoot({ redis: 'memory' })], [ReportJobs]);
    expect(warnings(entries)).toEqual([NO_SCHEDULER, PER_PROCESS]);
    expect(entries.find((entry) => entry.message === NO_SCHEDULER)?.context).toBe(
      'DistributedJobs',
    );
  });

  it('says nothing about the scheduler with ScheduleModule.forRoot(), nor per process on Redis', async () => {
    const { keyPrefix, nodeId } = unique();
    const { entries } = await boot(
      [
        ScheduleModule.forRoot(),
        DiscoveryModule.forRoot({ ...FAST, redis: handle.url, keyPrefix, nodeId }),
      ],
      [ReportJobs],
    );
    expect(warnings(entries)).toEqual([]);
  });

  it('does not ask for a scheduler for jobs without a schedule (called directly)', async () => {
    const { entries } = await boot([DiscoveryModule.forRoot({ redis: 'memory' })], [ManualJobs]);
    expect(warnings(entries)).toEqual([
      'Distributed job ManualJobs.rebuild: the in-memory registry spans this process only, so jobs run once per tick per process: every replica runs every tick. Give the redis option to run them once across replicas',
    ]);
  });

  it('has nothing to warn about without jobs', async () => {
    const { entries } = await boot([DiscoveryModule.forRoot()]);
    expect(warnings(entries)).toEqual([]);
  });
});

describe('a redis address where something else listens', () => {
  let http: Server;
  let port: number;
  beforeAll(async () => {
    http = createServer((_request, response) => response.end('not redis'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    port = (http.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => http.close(resolve));
  });

  async function startError(redis: DiscoveryModuleOptions['redis']): Promise<unknown> {
    try {
      // A startupTimeout longer than the test's own timeout: the start must not wait it out.
      await boot([DiscoveryModule.forRoot({ redis, startupTimeout: 120_000 })]);
    } catch (error) {
      return error;
    }
    throw new Error('the app started');
  }

  it('fails the start at once with NotRedisError naming the address, for a URL and for a client', async () => {
    const client = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    client.on('error', () => undefined);
    try {
      for (const redis of [`redis://127.0.0.1:${port}`, client]) {
        const error = await startError(redis);
        expect(error).toBeInstanceOf(NotRedisError);
        expect(error).toBeInstanceOf(RegistryUnavailableError);
        expect((error as Error).message).toMatch(
          new RegExp(
            `^127\\.0\\.0\\.1:${port} is not a Redis server: it answered with bytes that are not the Redis protocol \\(.+\\)\\. Check the host and port of the redis option$`,
          ),
        );
      }
    } finally {
      client.disconnect();
    }
  });
});

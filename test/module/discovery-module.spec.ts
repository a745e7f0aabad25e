import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type INestApplicationContext,
  type LoggerService,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import {
  DiscoveryModule,
  InvalidOptionError,
  ServiceDiscovery,
  type DiscoveryModuleOptions,
  type DiscoveryOptionsFactory,
} from 'nestjs-redis-discovery';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

const FAST = { heartbeatInterval: 200, heartbeatTTL: 1000 } as const;

let handle: RedisHandle;
let admin: Redis;
let counter = 0;
const openApps = new Set<INestApplicationContext>();
const openClients = new Set<Redis>();

/** A key prefix (and node id) no other test uses. */
function unique(name: string): { keyPrefix: string; nodeId: string } {
  counter += 1;
  return {
    keyPrefix: `${handle.keyPrefix}discovery-test-${name}-${counter}`,
    nodeId: `node-${name}-${counter}-${process.pid}`,
  };
}

function rootModule(imports: Array<Type | DynamicModule>, providers: Type[] = []): Type {
  @Module({ imports, providers })
  class TestAppModule {}
  return TestAppModule;
}

/** Creates (and thereby initializes) an application context; it is closed after the test. */
async function boot(
  imports: Array<Type | DynamicModule>,
  options: { providers?: Type[]; logger?: LoggerService } = {},
): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(rootModule(imports, options.providers), {
    logger: options.logger ?? false,
    abortOnError: false,
  });
  openApps.add(app);
  await app.init();
  return app;
}

async function close(app: INestApplicationContext): Promise<void> {
  if (!openApps.delete(app)) return;
  await app.close();
}

/** The error app creation fails with; fails the test if creation succeeds. */
async function creationError(imports: Array<Type | DynamicModule>): Promise<unknown> {
  let app: INestApplicationContext | undefined;
  try {
    app = await NestFactory.createApplicationContext(rootModule(imports), {
      logger: false,
      abortOnError: false,
    });
  } catch (error) {
    return error;
  }
  openApps.add(app);
  throw new Error('application context was created');
}

function expectInvalidOption(error: unknown, option: string, message: string): void {
  expect(error).toBeInstanceOf(InvalidOptionError);
  const { option: actualOption, message: actualMessage } = error as InvalidOptionError;
  expect({ option: actualOption, message: actualMessage }).toEqual({ option, message });
}

function client(): Redis {
  const redis = new Redis(handle.url);
  openClients.add(redis);
  return redis;
}

/** Names of the connections the server has open now. */
async function connectionNames(): Promise<string[]> {
  const list = String(await admin.call('CLIENT', ['LIST']));
  return list
    .split('\n')
    .map((line) => / name=(\S*)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== '');
}

async function isRegistered(keyPrefix: string, nodeId: string): Promise<boolean> {
  return (await admin.hexists(`{${keyPrefix}}:nodes`, nodeId)) === 1;
}

/** A stand-in for @nestjs/config: a module exporting a typed settings provider. */
class AppSettings {
  constructor(private readonly values: Record<string, string>) {}

  get(key: string): string {
    const value = this.values[key];
    if (value === undefined) throw new Error(`missing setting ${key}`);
    return value;
  }
}

@Module({})
class SettingsModule {
  static register(values: Record<string, string>): DynamicModule {
    return {
      module: SettingsModule,
      providers: [{ provide: AppSettings, useValue: new AppSettings(values) }],
      exports: [AppSettings],
    };
  }
}

beforeAll(async () => {
  handle = await startRedis();
  admin = new Redis(handle.url);
});

afterEach(async () => {
  for (const app of [...openApps]) await close(app);
  for (const redis of openClients) redis.disconnect();
  openClients.clear();
});

afterAll(async () => {
  admin?.disconnect();
  await handle?.stop();
});

describe('DiscoveryModule.forRoot', () => {
  it('fails app creation with the InvalidOptionError of a bad option', async () => {
    const error = await creationError([
      DiscoveryModule.forRoot({ heartbeatInterval: 5000, heartbeatTTL: 1000 }),
    ]);
    expectInvalidOption(
      error,
      'heartbeatTTL',
      'heartbeatTTL (1000) must be greater than heartbeatInterval (5000)',
    );
  });

  it('fails app creation on an unknown option', async () => {
    const options = { heartbeatIntervl: 200 } as unknown as DiscoveryModuleOptions;
    const error = await creationError([DiscoveryModule.forRoot(options)]);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('heartbeatIntervl');
  });

  it('registers the node by app.init(): visible in Redis and to findNodesByService', async () => {
    const { keyPrefix, nodeId } = unique('register');
    const app = await boot([
      DiscoveryModule.forRoot({
        ...FAST,
        redis: handle.url,
        keyPrefix,
        nodeId,
        address: '10.1.2.3:3000',
        services: [{ name: 'billing', version: '1.2.3' }],
      }),
    ]);

    const observer = client();
    expect(await observer.hexists(`{${keyPrefix}}:nodes`, nodeId)).toBe(1);
    expect(await observer.zscore(`{${keyPrefix}}:deadlines`, nodeId)).not.toBeNull();

    const discovery = app.get(ServiceDiscovery);
    const expected = {
      nodeId,
      serviceName: 'default',
      address: '10.1.2.3:3000',
      services: [{ name: 'billing', version: '1.2.3' }],
      metadata: {},
    };
    expect(await discovery.findNodesByService('billing')).toEqual([expected]);
    expect(await discovery.findNodesByService('billing', undefined, { fresh: true })).toEqual([
      expected,
    ]);
    expect(await discovery.findNodesByService('default')).toEqual([]);
  });

  it('removes the node from Redis on app.close()', async () => {
    const { keyPrefix, nodeId } = unique('deregister');
    const app = await boot([
      DiscoveryModule.forRoot({ ...FAST, redis: handle.url, keyPrefix, nodeId }),
    ]);
    const observer = client();
    expect(await observer.hexists(`{${keyPrefix}}:nodes`, nodeId)).toBe(1);

    await close(app);
    // close() resolves only after deregistration: no polling needed.
    expect(await observer.hexists(`{${keyPrefix}}:nodes`, nodeId)).toBe(0);
    expect(await observer.zscore(`{${keyPrefix}}:deadlines`, nodeId)).toBeNull();
  });
});

describe('DiscoveryModule redis client ownership', () => {
  it('leaves a client passed in by the app open after app.close()', async () => {
    const { keyPrefix, nodeId } = unique('app-client');
    const connectionName = `app-owned-${nodeId}`;
    const appClient = new Redis(handle.url, { connectionName });
    openClients.add(appClient);

    const app = await boot([
      DiscoveryModule.forRoot({ ...FAST, redis: appClient, keyPrefix, nodeId }),
    ]);
    expect(await isRegistered(keyPrefix, nodeId)).toBe(true);
    await close(app);

    await expect(appClient.ping()).resolves.toBe('PONG');
    expect(appClient.status).toBe('ready');
    // The module's own pub/sub duplicate of the client is closed, the app's connection is not.
    await waitFor(
      async () => (await connectionNames()).filter((name) => name === connectionName).length === 1,
      { message: `exactly one connection named ${connectionName}` },
    );
  });

  it.each<[string, () => DiscoveryModuleOptions['redis']]>([
    ['a URL', () => handle.url],
    ['RedisOptions', () => ({ host: handle.host, port: handle.port })],
  ])('closes the client it opened from %s on app.close()', async (_label, redis) => {
    const { keyPrefix, nodeId } = unique('owned-client');
    const connectionName = `discovery:${nodeId}`;
    const app = await boot([
      DiscoveryModule.forRoot({ ...FAST, redis: redis(), keyPrefix, nodeId }),
    ]);
    expect(await isRegistered(keyPrefix, nodeId)).toBe(true);
    expect(await connectionNames()).toContain(connectionName);

    await close(app);
    await waitFor(async () => !(await connectionNames()).includes(connectionName), {
      message: `no connection named ${connectionName} after close`,
    });
  });
});

describe('DiscoveryModule.forRootAsync', () => {
  it('builds options with useFactory from an imported, injected provider', async () => {
    const { keyPrefix, nodeId } = unique('factory');
    const app = await boot([
      DiscoveryModule.forRootAsync({
        imports: [
          SettingsModule.register({
            REDIS_URL: handle.url,
            DISCOVERY_PREFIX: keyPrefix,
            NODE_ID: nodeId,
          }),
        ],
        inject: [AppSettings],
        useFactory: (settings: AppSettings): DiscoveryModuleOptions => ({
          ...FAST,
          redis: settings.get('REDIS_URL'),
          keyPrefix: settings.get('DISCOVERY_PREFIX'),
          nodeId: settings.get('NODE_ID'),
        }),
      }),
    ]);
    expect(app.get(ServiceDiscovery).nodeId).toBe(nodeId);
    expect(await isRegistered(keyPrefix, nodeId)).toBe(true);
  });

  it('builds options with useClass (async createDiscoveryOptions)', async () => {
    const { keyPrefix, nodeId } = unique('use-class');

    @Injectable()
    class OptionsFromClass implements DiscoveryOptionsFactory {
      async createDiscoveryOptions(): Promise<DiscoveryModuleOptions> {
        return { ...FAST, redis: handle.url, keyPrefix, nodeId };
      }
    }

    const app = await boot([DiscoveryModule.forRootAsync({ useClass: OptionsFromClass })]);
    expect(app.get(ServiceDiscovery).nodeId).toBe(nodeId);
    expect(await isRegistered(keyPrefix, nodeId)).toBe(true);
  });

  it('builds options with useExisting from an imported provider', async () => {
    const { keyPrefix, nodeId } = unique('use-existing');

    @Injectable()
    class ExistingOptions implements DiscoveryOptionsFactory {
      constructor(@Inject(AppSettings) private readonly settings: AppSettings) {}

      createDiscoveryOptions(): DiscoveryModuleOptions {
        return {
          ...FAST,
          redis: this.settings.get('REDIS_URL'),
          keyPrefix: this.settings.get('DISCOVERY_PREFIX'),
          nodeId,
        };
      }
    }

    @Module({
      imports: [SettingsModule.register({ REDIS_URL: handle.url, DISCOVERY_PREFIX: keyPrefix })],
      providers: [ExistingOptions],
      exports: [ExistingOptions],
    })
    class OptionsModule {}

    const app = await boot([
      DiscoveryModule.forRootAsync({ imports: [OptionsModule], useExisting: ExistingOptions }),
    ]);
    expect(app.get(ServiceDiscovery).nodeId).toBe(nodeId);
    expect(await isRegistered(keyPrefix, nodeId)).toBe(true);
  });

  it('validates the options a factory returns', async () => {
    const error = await creationError([
      DiscoveryModule.forRootAsync({
        useFactory: () => ({ ...FAST, hashReplicas: 0 }),
      }),
    ]);
    expectInvalidOption(
      error,
      'hashReplicas',
      'hashReplicas (number 0) must be an integer from 1 to 1000',
    );
  });

  it('validates the options a useClass factory returns', async () => {
    @Injectable()
    class BadOptions implements DiscoveryOptionsFactory {
      createDiscoveryOptions(): DiscoveryModuleOptions {
        return { redis: 'http://localhost:6379' };
      }
    }

    const error = await creationError([DiscoveryModule.forRootAsync({ useClass: BadOptions })]);
    expectInvalidOption(
      error,
      'redis',
      `redis URL must start with redis:// or rediss:// (got "http://localhost:6379"), or be 'memory'`,
    );
  });
});

describe('DiscoveryModule isGlobal', () => {
  @Injectable()
  class DiscoveryConsumer {
    constructor(@Inject(ServiceDiscovery) readonly discovery: ServiceDiscovery) {}
  }

  @Module({ providers: [DiscoveryConsumer], exports: [DiscoveryConsumer] })
  class SiblingModule {}

  it('makes ServiceDiscovery injectable in a module that does not import DiscoveryModule', async () => {
    const app = await boot([DiscoveryModule.forRoot({ isGlobal: true }), SiblingModule]);
    const consumer = app.get(DiscoveryConsumer);
    expect(consumer.discovery).toBeInstanceOf(ServiceDiscovery);
    expect(consumer.discovery).toBe(app.get(ServiceDiscovery));
  });

  it('works with forRootAsync too', async () => {
    const { keyPrefix, nodeId } = unique('global-async');
    const app = await boot([
      DiscoveryModule.forRootAsync({
        isGlobal: true,
        useFactory: () => ({ ...FAST, redis: handle.url, keyPrefix, nodeId }),
      }),
      SiblingModule,
    ]);
    expect(app.get(DiscoveryConsumer).discovery.nodeId).toBe(nodeId);
  });

  it('is needed: without it the sibling module cannot resolve ServiceDiscovery', async () => {
    const error = await creationError([DiscoveryModule.forRoot(), SiblingModule]);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/resolve dependencies of the DiscoveryConsumer/);
  });
});

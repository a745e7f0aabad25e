import { describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { InvalidOptionError } from 'nestjs-redis-discovery';
import { validateOptions } from '../../lib/options/validate-options.js';

// The allowed-character phrases of the field rules, spelled out so a change of wording is caught.
const NAME_CHARS = 'letters, digits and . _ - @ /, starting with a letter or digit';
const PREFIX_CHARS = 'letters, digits and . _ - :, starting with a letter or digit';
const VERSION_CHARS = 'letters, digits and . + - _, starting with a letter or digit';
const KNOWN_OPTIONS =
  'redis, nodeId, serviceName, address, services, metadata, keyPrefix, heartbeatInterval, ' +
  'heartbeatTTL, pubSubEnabled, pubSubChannel, viewScope, clientMode, ignoreOwnEvents, retry, ' +
  'startupTimeout, hashReplicas, ' +
  'balance, poolSettleTime, jobs, signingKey, meterProvider';
const DAY = 86400000;

/** The error `validateOptions(input)` throws; fails the test if it throws nothing. */
function rejection(input: unknown): InvalidOptionError {
  let thrown: unknown;
  try {
    validateOptions(input);
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) throw new Error('validateOptions accepted the input');
  expect(thrown).toBeInstanceOf(InvalidOptionError);
  return thrown as InvalidOptionError;
}

function expectRejected(input: unknown, option: string, message: string): void {
  const error = rejection(input);
  expect({ option: error.option, message: error.message }).toEqual({ option, message });
}

const manyEntries = (n: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));

describe('validateOptions: defaults', () => {
  it('fills in every default for {} and for undefined', () => {
    for (const input of [{}, undefined]) {
      const resolved = validateOptions(input);
      expect(resolved).toEqual({
        redis: undefined,
        nodeId: expect.stringMatching(
          /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        ),
        serviceName: 'default',
        address: undefined,
        services: [{ name: 'default' }],
        metadata: {},
        keyPrefix: 'discovery',
        heartbeatInterval: 5000,
        heartbeatTTL: 15000,
        pubSubEnabled: true,
        pubSubChannel: 'discovery:events',
        viewScope: 'all',
        clientMode: false,
        ignoreOwnEvents: false,
        retry: { initialDelay: 500, maxDelay: 5000 },
        startupTimeout: 30000,
        hashReplicas: 50,
        balance: 'consistent',
        poolSettleTime: 1000,
        jobs: { failoverGrace: 1000, drainTimeout: 10000 },
      });
    }
  });

  it('generates a different nodeId for each call', () => {
    expect(validateOptions({}).nodeId).not.toBe(validateOptions({}).nodeId);
  });

  it('derives services from serviceName and pubSubChannel from keyPrefix', () => {
    const resolved = validateOptions({ serviceName: 'billing', keyPrefix: 'acme' });
    expect(resolved.services).toEqual([{ name: 'billing' }]);
    expect(resolved.pubSubChannel).toBe('acme:events');
  });

  it('keeps valid values as given', () => {
    const resolved = validateOptions({
      redis: 'rediss://cache.internal:6380',
      nodeId: 'node-1@eu/west.a_b',
      address: '10.0.0.7:3000',
      services: [{ name: 'api', version: '1.4.2+build_7' }, { name: 'api' }],
      metadata: { zone: 'eu-west-1a' },
      heartbeatInterval: 200,
      heartbeatTTL: 1000,
      balance: 'bounded',
      hashReplicas: 1000,
      jobs: { failoverGrace: 1, drainTimeout: 0 },
    });
    expect(resolved).toMatchObject({
      redis: 'rediss://cache.internal:6380',
      nodeId: 'node-1@eu/west.a_b',
      address: '10.0.0.7:3000',
      services: [{ name: 'api', version: '1.4.2+build_7' }, { name: 'api' }],
      metadata: { zone: 'eu-west-1a' },
      heartbeatInterval: 200,
      heartbeatTTL: 1000,
      // maxDelay defaults to heartbeatInterval, initialDelay is capped by it.
      retry: { initialDelay: 200, maxDelay: 200 },
      balance: 'bounded',
      hashReplicas: 1000,
      jobs: { failoverGrace: 1, drainTimeout: 0 },
    });
  });

  it('copies services and metadata so later changes to the input do not leak in', () => {
    const services = [{ name: 'api' }];
    const metadata = { zone: 'a' };
    const resolved = validateOptions({ services, metadata });
    services[0].name = 'changed';
    metadata.zone = 'changed';
    expect(resolved.services).toEqual([{ name: 'api' }]);
    expect(resolved.metadata).toEqual({ zone: 'a' });
  });

  it('accepts an ioredis instance as redis and passes it through', () => {
    const client = new Redis({ lazyConnect: true });
    try {
      expect(validateOptions({ redis: client }).redis).toBe(client);
    } finally {
      client.disconnect();
    }
  });

  it("takes redis: 'memory' (and redis left out) as the in-memory registry", () => {
    expect(validateOptions({ redis: 'memory' }).redis).toBeUndefined();
    expect(validateOptions({ serviceName: 'x' }).redis).toBeUndefined();
  });

  it.each<[string, unknown, string]>([
    ['undefined (an unset environment variable)', undefined, 'undefined'],
    ['null', null, 'null'],
    ['an empty string', '', 'an empty string'],
    ['blank', '  ', '"  "'],
  ])('refuses redis given as %s, naming the option: no silent fallback', (_label, redis, shown) => {
    expectRejected(
      { redis },
      'redis',
      `redis is ${shown} (an unset environment variable, as with redis: process.env.REDIS_URL?): ` +
        'give a redis:// URL, an ioredis client or RedisOptions; for the in-memory registry of this ' +
        "process only, leave redis out or set redis: 'memory'",
    );
  });

  it('accepts RedisOptions as redis', () => {
    const redisOptions = { host: '127.0.0.1', port: 6379 };
    expect(validateOptions({ redis: redisOptions }).redis).toEqual(redisOptions);
  });
});

describe('validateOptions: rules', () => {
  it.each<[string, unknown, string]>([
    ['null', null, 'options must be an object (got null)'],
    ['an array', [], 'options must be an object (got an array)'],
    ['a string', 'redis://x', 'options must be an object (got "redis://x")'],
    ['a number', 42, 'options must be an object (got number 42)'],
  ])('rejects options that are %s', (_label, input, message) => {
    expectRejected(input, 'options', message);
  });

  it('rejects an unknown key and lists the known ones', () => {
    expectRejected(
      { heartbeatIntervl: 1000 },
      'heartbeatIntervl',
      `Unknown option "heartbeatIntervl"; known options: ${KNOWN_OPTIONS}`,
    );
  });

  it.each<[string, unknown, string]>([
    [
      'a number',
      6379,
      "redis must be an ioredis Redis or Cluster instance, a redis:// URL, RedisOptions or 'memory' (got number 6379)",
    ],
    [
      'an array',
      ['redis://a'],
      "redis must be an ioredis Redis or Cluster instance, a redis:// URL, RedisOptions or 'memory' (got an array)",
    ],
    [
      'a URL with another scheme',
      'http://localhost:6379',
      `redis URL must start with redis:// or rediss:// (got "http://localhost:6379"), or be 'memory'`,
    ],
    [
      'a host:port without scheme',
      'localhost:6379',
      `redis URL must start with redis:// or rediss:// (got "localhost:6379"), or be 'memory'`,
    ],
  ])('rejects redis that is %s', (_label, redis, message) => {
    expectRejected({ redis }, 'redis', message);
  });

  it.each<[string, string, string]>([
    ['empty', '', 'nodeId must not be empty'],
    ['129 characters long', 'n'.repeat(129), 'nodeId must be at most 128 characters (got 129)'],
    ['a glob *', 'node*', `nodeId may only contain ${NAME_CHARS} (got "node*")`],
    ['a hash-tag brace', 'node{1}', `nodeId may only contain ${NAME_CHARS} (got "node{1}")`],
    ['a space', 'node 1', `nodeId may only contain ${NAME_CHARS} (got "node 1")`],
    ['a newline', 'node\n1', `nodeId may only contain ${NAME_CHARS} (got "node\\n1")`],
    ['a non-ASCII letter', 'nöde', `nodeId may only contain ${NAME_CHARS} (got "nöde")`],
    ['a leading dash', '-node', `nodeId may only contain ${NAME_CHARS} (got "-node")`],
  ])('rejects a nodeId that is %s', (_label, nodeId, message) => {
    expectRejected({ nodeId }, 'nodeId', message);
  });

  it('accepts a nodeId of exactly 128 characters', () => {
    expect(validateOptions({ nodeId: 'n'.repeat(128) }).nodeId).toHaveLength(128);
  });

  it('clips a long bad value to 40 characters in the message', () => {
    expectRejected(
      { nodeId: `${'a'.repeat(50)}*` },
      'nodeId',
      `nodeId may only contain ${NAME_CHARS} (got "${'a'.repeat(40)}...")`,
    );
  });

  it.each<[string, unknown, string]>([
    ['not a string', 7, 'serviceName must be a string (got number 7)'],
    ['with a colon', 'api:v2', `serviceName may only contain ${NAME_CHARS} (got "api:v2")`],
    ['with a glob ?', 'api?', `serviceName may only contain ${NAME_CHARS} (got "api?")`],
  ])('rejects a serviceName %s', (_label, serviceName, message) => {
    expectRejected({ serviceName }, 'serviceName', message);
  });

  it('rejects an address with a space', () => {
    expectRejected(
      { address: 'host 1:3000' },
      'address',
      'address may only contain printable characters without spaces (got "host 1:3000")',
    );
  });

  it.each<[string, unknown, string]>([
    ['not an array', 'api', 'services must be an array of { name, version? } (got "api")'],
    [
      'an object',
      { name: 'api' },
      'services must be an array of { name, version? } (got an object)',
    ],
    ['with a string element', ['api'], 'services[0] must be an object { name, version? }'],
    [
      'with an element with an unknown key',
      [{ name: 'api', port: 80 }],
      'services[0] has unknown key "port"',
    ],
    [
      'with a bad name',
      [{ name: 'api' }, { name: 'a b' }],
      `services[1].name may only contain ${NAME_CHARS} (got "a b")`,
    ],
    [
      'with a bad version',
      [{ name: 'api', version: '^1.0' }],
      `services[0].version may only contain ${VERSION_CHARS} (got "^1.0")`,
    ],
    [
      'with a duplicate',
      [{ name: 'api', version: '1.0.0' }, { name: 'web' }, { name: 'api', version: '1.0.0' }],
      'services[2] repeats service api@1.0.0',
    ],
    [
      'with more than 64 entries',
      Array.from({ length: 65 }, (_, i) => ({ name: `s${i}` })),
      'services must have at most 64 entries',
    ],
  ])('rejects services %s', (_label, services, message) => {
    expectRejected({ services }, 'services', message);
  });

  it.each<[string, unknown, string]>([
    ['not an object', ['a'], 'metadata must be an object of strings (got an array)'],
    [
      'with a non-string value',
      { zone: 1 },
      'metadata value of "zone" must be a string (got number 1)',
    ],
    ['with more than 64 entries', manyEntries(65), 'metadata must have at most 64 entries'],
    [
      'with a value over 4096 characters',
      { blob: 'x'.repeat(4097) },
      'metadata value of "blob" must be at most 4096 characters (got 4097)',
    ],
    [
      'with a key containing a space',
      { 'my key': 'v' },
      'metadata key "my key" may only contain printable characters without spaces (got "my key")',
    ],
  ])('rejects metadata %s', (_label, metadata, message) => {
    expectRejected({ metadata }, 'metadata', message);
  });

  it('accepts metadata with exactly 64 entries and a 4096-character value', () => {
    expect(Object.keys(validateOptions({ metadata: manyEntries(64) }).metadata)).toHaveLength(64);
    expect(validateOptions({ metadata: { blob: 'x'.repeat(4096) } }).metadata.blob).toHaveLength(
      4096,
    );
  });

  it.each<[string, string, string]>([
    ['a hash-tag brace', '{app}', `keyPrefix may only contain ${PREFIX_CHARS} (got "{app}")`],
    ['a slash', 'app/x', `keyPrefix may only contain ${PREFIX_CHARS} (got "app/x")`],
    ['65 characters', 'p'.repeat(65), 'keyPrefix must be at most 64 characters (got 65)'],
  ])('rejects a keyPrefix with %s', (_label, keyPrefix, message) => {
    expectRejected({ keyPrefix }, 'keyPrefix', message);
  });

  it.each<[string, unknown, string]>([
    [
      'negative',
      -1,
      `heartbeatInterval (number -1) must be a whole number of milliseconds from 10 to ${DAY}`,
    ],
    [
      'not an integer',
      1000.5,
      `heartbeatInterval (number 1000.5) must be a whole number of milliseconds from 10 to ${DAY}`,
    ],
    [
      'a string',
      '5000',
      `heartbeatInterval ("5000") must be a whole number of milliseconds from 10 to ${DAY}`,
    ],
    [
      'below 10 ms',
      9,
      `heartbeatInterval (number 9) must be a whole number of milliseconds from 10 to ${DAY}`,
    ],
    [
      'NaN',
      Number.NaN,
      `heartbeatInterval (number NaN) must be a whole number of milliseconds from 10 to ${DAY}`,
    ],
  ])('rejects a heartbeatInterval that is %s', (_label, heartbeatInterval, message) => {
    expectRejected({ heartbeatInterval, heartbeatTTL: DAY }, 'heartbeatInterval', message);
  });

  it('rejects a non-integer heartbeatTTL', () => {
    expectRejected(
      { heartbeatTTL: 15000.5 },
      'heartbeatTTL',
      `heartbeatTTL (number 15000.5) must be a whole number of milliseconds from 10 to ${DAY}`,
    );
  });

  it.each<[number | undefined, number, string]>([
    [5000, 1000, 'heartbeatTTL (1000) must be greater than heartbeatInterval (5000)'],
    [1000, 1000, 'heartbeatTTL (1000) must be greater than heartbeatInterval (1000)'],
    // Against the default interval of 5000.
    [undefined, 4000, 'heartbeatTTL (4000) must be greater than heartbeatInterval (5000)'],
  ])(
    'rejects heartbeatTTL <= heartbeatInterval (interval %p, TTL %p)',
    (heartbeatInterval, heartbeatTTL, message) => {
      expectRejected({ heartbeatInterval, heartbeatTTL }, 'heartbeatTTL', message);
    },
  );

  it.each<[string, unknown, string]>([
    ['pubSubEnabled', 'yes', 'pubSubEnabled must be true or false (got "yes")'],
    ['clientMode', 1, 'clientMode must be true or false (got number 1)'],
    ['ignoreOwnEvents', null, 'ignoreOwnEvents must be true or false (got null)'],
  ])('rejects a non-boolean %s', (option, value, message) => {
    expectRejected({ [option]: value }, option, message);
  });

  it.each<[string, string]>([
    ['events*', `pubSubChannel may only contain ${PREFIX_CHARS} (got "events*")`],
    ['', 'pubSubChannel must not be empty'],
  ])('rejects pubSubChannel %p', (pubSubChannel, message) => {
    expectRejected({ pubSubChannel }, 'pubSubChannel', message);
  });

  it.each<[string, unknown, string, string]>([
    ['not an object', 500, 'retry', 'retry must be an object (got number 500)'],
    [
      'with an unknown key',
      { initalDelay: 100 },
      'retry.initalDelay',
      'Unknown option "retry.initalDelay"; known: initialDelay, maxDelay',
    ],
    [
      'with maxDelay < initialDelay',
      { initialDelay: 1000, maxDelay: 500 },
      'retry.maxDelay',
      'retry.initialDelay (1000) must not be greater than retry.maxDelay (500)',
    ],
    [
      'with initialDelay over the default maxDelay (heartbeatInterval)',
      { initialDelay: 6000 },
      'retry.initialDelay',
      'retry.initialDelay (6000) must not be greater than retry.maxDelay (5000, which defaults to heartbeatInterval)',
    ],
    [
      'with initialDelay 0',
      { initialDelay: 0 },
      'retry.initialDelay',
      `retry.initialDelay (number 0) must be a whole number of milliseconds from 1 to ${DAY}`,
    ],
  ])('rejects retry %s', (_label, retry, option, message) => {
    expectRejected({ retry }, option, message);
  });

  it.each<[number, string]>([
    [0, 'hashReplicas (number 0) must be an integer from 1 to 1000'],
    [1001, 'hashReplicas (number 1001) must be an integer from 1 to 1000'],
  ])('rejects hashReplicas %p', (hashReplicas, message) => {
    expectRejected({ hashReplicas }, 'hashReplicas', message);
  });

  it.each<[unknown, string]>([
    ['round-robin', 'balance must be "consistent" or "bounded" (got "round-robin")'],
    [null, 'balance must be "consistent" or "bounded" (got null)'],
    ['Consistent', 'balance must be "consistent" or "bounded" (got "Consistent")'],
    [1, 'balance must be "consistent" or "bounded" (got number 1)'],
  ])('rejects balance %p', (balance, message) => {
    expectRejected({ balance }, 'balance', message);
  });

  it('defaults startupTimeout to 30 s, or heartbeatTTL when longer, and rejects less than 100 ms', () => {
    expect(validateOptions({ heartbeatTTL: 60_000 }).startupTimeout).toBe(60_000);
    expect(validateOptions({ startupTimeout: 500 }).startupTimeout).toBe(500);
    expectRejected(
      { startupTimeout: 50 },
      'startupTimeout',
      `startupTimeout (number 50) must be an integer from 100 to ${DAY}`,
    );
  });

  it('accepts viewScope "all" and "used" only', () => {
    expect(validateOptions({ viewScope: 'used' }).viewScope).toBe('used');
    expectRejected(
      { viewScope: 'some' },
      'viewScope',
      'viewScope must be "all" or "used" (got "some")',
    );
  });

  it('rejects a negative poolSettleTime', () => {
    expectRejected(
      { poolSettleTime: -1 },
      'poolSettleTime',
      `poolSettleTime (number -1) must be an integer from 0 to ${DAY}`,
    );
  });

  it.each<[string, unknown, string, string]>([
    ['not an object', true, 'jobs', 'jobs must be an object (got boolean true)'],
    [
      'with an unknown key',
      { drain: 100 },
      'jobs.drain',
      'Unknown option "jobs.drain"; known: failoverGrace, drainTimeout, startingDeadline',
    ],
    [
      'with failoverGrace 0',
      { failoverGrace: 0 },
      'jobs.failoverGrace',
      `jobs.failoverGrace (number 0) must be a whole number of milliseconds from 1 to ${DAY}`,
    ],
    [
      'with a non-integer drainTimeout',
      { drainTimeout: 2.5 },
      'jobs.drainTimeout',
      `jobs.drainTimeout (number 2.5) must be an integer from 0 to ${DAY}`,
    ],
    [
      'with startingDeadline 0',
      { startingDeadline: 0 },
      'jobs.startingDeadline',
      `jobs.startingDeadline (number 0) must be a whole number of milliseconds from 1 to ${DAY}`,
    ],
  ])('rejects jobs %s', (_label, jobs, option, message) => {
    expectRejected({ jobs }, option, message);
  });
});

describe('validateOptions: signingKey', () => {
  const KEY_RULE = 'must be a string of 16 to 1024 characters';
  it.each<[string, unknown, string]>([
    ['too short', 'short', `signingKey ${KEY_RULE}`],
    ['too long', 'x'.repeat(1025), `signingKey ${KEY_RULE}`],
    [
      'a number',
      42,
      'signingKey must be a string of 16 to 1024 characters or a list of them, the signing key first (got number 42)',
    ],
    ['an empty list', [], 'signingKey must list 1 to 8 keys, the signing key first (got 0)'],
    [
      'a list of 9',
      Array.from({ length: 9 }, (_, i) => `key-number-${i}-of-the-list`),
      'signingKey must list 1 to 8 keys, the signing key first (got 9)',
    ],
    [
      'a short key in a list (its length, not the key, is said)',
      ['k'.repeat(16), 'tiny'],
      `signingKey[1] ${KEY_RULE} (got 4 characters)`,
    ],
    ['a number in a list', ['k'.repeat(16), 7], `signingKey[1] ${KEY_RULE} (got number 7)`],
    [
      'a key twice',
      ['a'.repeat(16), 'b'.repeat(16), 'a'.repeat(16)],
      'signingKey[2] repeats signingKey[0]',
    ],
  ])('rejects signingKey: %s', (_label, signingKey, message) => {
    expect(() => validateOptions({ signingKey })).toThrow(
      new InvalidOptionError('signingKey', message),
    );
  });

  it('accepts a signingKey of 16 characters or more, resolved to a list of one', () => {
    expect(validateOptions({ signingKey: 'k'.repeat(16) }).signingKey).toEqual(['k'.repeat(16)]);
  });

  it('accepts a list of keys, the signing key first, in its order', () => {
    const keys = ['new-key-of-the-cluster', 'old-key-of-the-cluster'];
    expect(validateOptions({ signingKey: keys }).signingKey).toEqual(keys);
  });
});

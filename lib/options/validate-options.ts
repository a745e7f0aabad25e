// Validates DiscoveryModule options and fills in their defaults, once, at startup: the app fails
// with the first bad option named, rather than at the first heartbeat.
import { randomUUID } from 'node:crypto';
import { InvalidOptionError } from '../common/errors.js';
import {
  check,
  checkMeterProvider,
  checkRedis,
  checkSigningKey,
  duration,
  flag,
  group,
  integer,
  MAX_DURATION,
} from './option-checks.js';
import {
  addressRule,
  describe,
  isPlainObject,
  metadataRule,
  nameRule,
  prefixRule,
  servicesRule,
} from '../common/field-rules.js';
import type {
  DiscoveryModuleOptions,
  ResolvedDiscoveryOptions,
} from './discovery-options.interface.js';

const KNOWN_KEYS: ReadonlyArray<keyof DiscoveryModuleOptions> = [
  'redis',
  'nodeId',
  'serviceName',
  'address',
  'services',
  'metadata',
  'keyPrefix',
  'heartbeatInterval',
  'heartbeatTTL',
  'pubSubEnabled',
  'pubSubChannel',
  'viewScope',
  'clientMode',
  'ignoreOwnEvents',
  'retry',
  'startupTimeout',
  'hashReplicas',
  'balance',
  'poolSettleTime',
  'jobs',
  'signingKey',
  'meterProvider',
];

/**
 * Checks every option and fills in the defaults. Throws `InvalidOptionError` naming the first bad
 * option and the rule it broke, so a misconfigured app fails at startup rather than at 3 a.m.
 */
export function validateOptions(input: unknown): ResolvedDiscoveryOptions {
  if (input === undefined) input = {};
  if (!isPlainObject(input)) {
    throw new InvalidOptionError('options', `options must be an object (got ${describe(input)})`);
  }
  const options = input as DiscoveryModuleOptions;
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.includes(key as keyof DiscoveryModuleOptions)) {
      throw new InvalidOptionError(
        key,
        `Unknown option "${key}"; known options: ${KNOWN_KEYS.join(', ')}`,
      );
    }
  }

  const redis = checkRedis(options.redis, Object.hasOwn(options, 'redis'));
  const nodeId = check('nodeId', options.nodeId, nameRule) ?? randomUUID();
  const serviceName = check('serviceName', options.serviceName, nameRule) ?? 'default';
  const address = check('address', options.address, addressRule);
  const services = check('services', options.services, servicesRule) ?? [{ name: serviceName }];
  const metadata = check('metadata', options.metadata, metadataRule) ?? {};
  const keyPrefix = check('keyPrefix', options.keyPrefix, prefixRule) ?? 'discovery';
  const heartbeatInterval = duration('heartbeatInterval', options.heartbeatInterval, 5000, 10);
  const heartbeatTTL = duration('heartbeatTTL', options.heartbeatTTL, 15000, 10);
  if (heartbeatTTL <= heartbeatInterval) {
    throw new InvalidOptionError(
      'heartbeatTTL',
      `heartbeatTTL (${heartbeatTTL}) must be greater than heartbeatInterval (${heartbeatInterval})`,
    );
  }
  const pubSubEnabled = flag('pubSubEnabled', options.pubSubEnabled, true);
  const pubSubChannel =
    check('pubSubChannel', options.pubSubChannel, prefixRule) ?? `${keyPrefix}:events`;
  const viewScope = options.viewScope ?? 'all';
  if (viewScope !== 'all' && viewScope !== 'used') {
    throw new InvalidOptionError(
      'viewScope',
      `viewScope must be "all" or "used" (got ${describe(viewScope)})`,
    );
  }
  const clientMode = flag('clientMode', options.clientMode, false);
  const ignoreOwnEvents = flag('ignoreOwnEvents', options.ignoreOwnEvents, false);

  const retryInput = group('retry', options.retry, ['initialDelay', 'maxDelay']);
  const maxDelay = duration('retry.maxDelay', retryInput.maxDelay, heartbeatInterval, 1);
  const initialDelay = duration(
    'retry.initialDelay',
    retryInput.initialDelay,
    Math.min(500, maxDelay),
    1,
  );
  if (maxDelay < initialDelay) {
    const implicit =
      retryInput.maxDelay === undefined ? ', which defaults to heartbeatInterval' : '';
    throw new InvalidOptionError(
      retryInput.maxDelay === undefined ? 'retry.initialDelay' : 'retry.maxDelay',
      `retry.initialDelay (${initialDelay}) must not be greater than retry.maxDelay (${maxDelay}${implicit})`,
    );
  }

  const startupTimeout = integer(
    'startupTimeout',
    options.startupTimeout,
    Math.max(30_000, heartbeatTTL),
    100,
    MAX_DURATION,
  );
  const hashReplicas = integer('hashReplicas', options.hashReplicas, 50, 1, 1000);
  const balance = options.balance === undefined ? 'consistent' : options.balance;
  if (balance !== 'consistent' && balance !== 'bounded') {
    throw new InvalidOptionError(
      'balance',
      `balance must be "consistent" or "bounded" (got ${describe(balance)})`,
    );
  }
  const poolSettleTime = integer('poolSettleTime', options.poolSettleTime, 1000, 0, MAX_DURATION);

  const jobsInput = group('jobs', options.jobs, [
    'failoverGrace',
    'drainTimeout',
    'startingDeadline',
  ]);
  const failoverGrace = duration('jobs.failoverGrace', jobsInput.failoverGrace, 1000, 1);
  const drainTimeout = integer('jobs.drainTimeout', jobsInput.drainTimeout, 10000, 0, MAX_DURATION);
  const startingDeadline =
    jobsInput.startingDeadline === undefined
      ? undefined
      : duration('jobs.startingDeadline', jobsInput.startingDeadline, 0, 1);

  const signingKey = checkSigningKey(options.signingKey);

  return {
    redis,
    nodeId,
    serviceName,
    address,
    services: services.map((service) => ({ ...service })),
    metadata: { ...metadata },
    keyPrefix,
    heartbeatInterval,
    heartbeatTTL,
    pubSubEnabled,
    pubSubChannel,
    viewScope,
    clientMode,
    ignoreOwnEvents,
    retry: { initialDelay, maxDelay },
    startupTimeout,
    hashReplicas,
    balance,
    poolSettleTime,
    jobs: { failoverGrace, drainTimeout, startingDeadline },
    signingKey,
    meterProvider: checkMeterProvider(options.meterProvider),
  };
}

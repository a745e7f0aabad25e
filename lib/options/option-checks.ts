// The checks every option goes through: numbers in range, flags, nested groups with known keys,
// the Redis connection; each failure is an InvalidOptionError naming the option and the rule.
import { InvalidOptionError } from '../common/errors.js';
import { describe, isPlainObject, type Rule } from '../common/field-rules.js';
import type { MeterProviderLike } from '../common/telemetry/meter.interface.js';
import type { ResolvedDiscoveryOptions } from './discovery-options.interface.js';

/** The longest duration any option accepts: a day, in ms. */
export const MAX_DURATION = 24 * 60 * 60 * 1000;

export function check<T>(option: string, value: T | undefined, rule: Rule): T | undefined {
  if (value === undefined) return undefined;
  const problem = rule(value);
  if (problem)
    throw new InvalidOptionError(
      option,
      `${option}${problem.startsWith('[') ? '' : ' '}${problem}`,
    );
  return value;
}

export function integer(
  option: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(
      option,
      `${option} (${describe(value)}) must be an integer from ${min} to ${max}`,
    );
  }
  return value;
}

export function duration(option: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < min ||
    value > MAX_DURATION
  ) {
    throw new InvalidOptionError(
      option,
      `${option} (${describe(value)}) must be a whole number of milliseconds from ${min} to ${MAX_DURATION}`,
    );
  }
  return value;
}

export function flag(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidOptionError(
      option,
      `${option} must be true or false (got ${describe(value)})`,
    );
  }
  return value;
}

export function group(option: string, value: unknown, keys: string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) {
    throw new InvalidOptionError(option, `${option} must be an object (got ${describe(value)})`);
  }
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new InvalidOptionError(
        `${option}.${key}`,
        `Unknown option "${option}.${key}"; known: ${keys.join(', ')}`,
      );
    }
  }
  return value;
}

/** The `redis` value that asks for the in-memory registry (one process) explicitly. */
export const MEMORY_REDIS = 'memory';

/**
 * The `redis` option: absent or `'memory'` means the in-memory registry (undefined); a key that is
 * present but undefined, null or blank (an unset environment variable) is refused, so that replicas
 * never each fall back to a registry of their own and all run every tick.
 */
export function checkRedis(value: unknown, present: boolean): ResolvedDiscoveryOptions['redis'] {
  if (!present || value === MEMORY_REDIS) return undefined;
  if (value === undefined || value === null || (typeof value === 'string' && !value.trim())) {
    throw new InvalidOptionError(
      'redis',
      `redis is ${value === '' ? 'an empty string' : describe(value)} (an unset environment variable, ` +
        `as with redis: process.env.REDIS_URL?): give a redis:// URL, an ioredis client or RedisOptions; ` +
        `for the in-memory registry of this process only, leave redis out or set redis: '${MEMORY_REDIS}'`,
    );
  }
  if (typeof value === 'string') {
    if (!/^rediss?:\/\/./i.test(value)) {
      throw new InvalidOptionError(
        'redis',
        `redis URL must start with redis:// or rediss:// (got ${describe(value)}), or be '${MEMORY_REDIS}'`,
      );
    }
    return value;
  }
  if (isRedisClient(value) || isPlainObject(value))
    return value as ResolvedDiscoveryOptions['redis'];
  throw new InvalidOptionError(
    'redis',
    `redis must be an ioredis Redis or Cluster instance, a redis:// URL, RedisOptions or '${MEMORY_REDIS}' (got ${describe(value)})`,
  );
}

/** Duck-typed so that a client from another copy of ioredis (5.x or 6.x) is accepted too. */
export function isRedisClient(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { duplicate?: unknown }).duplicate === 'function' &&
    typeof (value as { evalsha?: unknown }).evalsha === 'function'
  );
}

/** An OpenTelemetry MeterProvider (duck-typed: any copy of the API), `false`, or undefined. */
export function checkMeterProvider(value: unknown): MeterProviderLike | false | undefined {
  if (value === undefined || value === false) return value;
  if (typeof (value as { getMeter?: unknown } | null)?.getMeter === 'function') {
    return value as MeterProviderLike;
  }
  throw new InvalidOptionError(
    'meterProvider',
    `meterProvider must be an OpenTelemetry MeterProvider (with getMeter()) or false (got ${describe(value)})`,
  );
}

/** Most keys `signingKey` takes: a rotation needs two; a few more leave room, not a key store. */
export const MAX_SIGNING_KEYS = 8;

/**
 * `signingKey`: one key, or a list of keys (the first signs, any verifies: a rotation), each a
 * string of 16 to 1024 characters, none twice. Resolved to the list, or undefined without a key.
 */
export function checkSigningKey(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const keyRule = 'must be a string of 16 to 1024 characters';
  const isKey = (key: unknown) => typeof key === 'string' && key.length >= 16 && key.length <= 1024;
  if (!Array.isArray(value)) {
    if (isKey(value)) return [value as string];
    throw new InvalidOptionError(
      'signingKey',
      typeof value === 'string'
        ? `signingKey ${keyRule}`
        : `signingKey must be a string of 16 to 1024 characters or a list of them, the signing key first (got ${describe(value)})`,
    );
  }
  if (value.length === 0 || value.length > MAX_SIGNING_KEYS) {
    throw new InvalidOptionError(
      'signingKey',
      `signingKey must list 1 to ${MAX_SIGNING_KEYS} keys, the signing key first (got ${value.length})`,
    );
  }
  value.forEach((key: unknown, i) => {
    if (!isKey(key)) {
      const got = typeof key === 'string' ? `${key.length} characters` : describe(key);
      throw new InvalidOptionError('signingKey', `signingKey[${i}] ${keyRule} (got ${got})`);
    }
    const first = value.indexOf(key);
    if (first !== i) {
      throw new InvalidOptionError('signingKey', `signingKey[${i}] repeats signingKey[${first}]`);
    }
  });
  return [...(value as string[])];
}

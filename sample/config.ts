import { hostname } from 'node:os';

/** How the sample is configured: everything comes from the environment. */
export interface SampleConfig {
  /** `REDIS_URL`; absent: the in-memory registry (this process only). */
  redisUrl: string | undefined;
  /** `NODE_ID`, default `<hostname>-<pid>`. */
  nodeId: string;
  /** `PORT`, default 3000 (0: any free port). */
  port: number;
  /** `SERVICE_NAME`, default `sample`: replicas sharing a name share the jobs. */
  serviceName: string;
  /** `SERVICE_VERSION`, default `1.0.0`: published with the service, matched by `/services/:name?version=`. */
  serviceVersion: string;
  /** `KEY_PREFIX`, default the library's (`discovery`). */
  keyPrefix: string | undefined;
  /** `HEARTBEAT_INTERVAL` and `HEARTBEAT_TTL` in ms, default the library's (5000 / 15000). */
  heartbeatInterval: number | undefined;
  heartbeatTTL: number | undefined;
  /** `SAMPLE_LOG=json`: one JSON object per stdout line (job runs and Nest's own log). */
  logJson: boolean;
}

export const SAMPLE_CONFIG = Symbol('SAMPLE_CONFIG');

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): SampleConfig {
  return {
    redisUrl: text(env.REDIS_URL),
    nodeId: text(env.NODE_ID) ?? `${hostname()}-${process.pid}`,
    port: integer(env, 'PORT', 0) ?? 3000,
    serviceName: text(env.SERVICE_NAME) ?? 'sample',
    serviceVersion: text(env.SERVICE_VERSION) ?? '1.0.0',
    keyPrefix: text(env.KEY_PREFIX),
    heartbeatInterval: integer(env, 'HEARTBEAT_INTERVAL', 1),
    heartbeatTTL: integer(env, 'HEARTBEAT_TTL', 1),
    logJson: env.SAMPLE_LOG === 'json',
  };
}

function text(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function integer(env: NodeJS.ProcessEnv, name: string, min: number): number | undefined {
  const raw = text(env[name]);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return value;
}

// The options of `DiscoveryModule.forRoot()` / `forRootAsync()`: as the app gives them (with their
// defaults documented) and as validateOptions resolves them, with every default filled in.
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { MeterProviderLike } from '../common/telemetry/meter.interface.js';

/** A service a node offers: a name and an optional version (`1.4.2`). */
export interface ServiceDescriptor {
  name: string;
  version?: string;
}

/** How the node pool spreads jobs over its nodes. */
export type BalanceMode = 'consistent' | 'bounded';

/** Backoff for failed heartbeats: exponential from `initialDelay`, capped at `maxDelay`, with equal jitter (each delay drawn from its upper half). */
export interface RetryOptions {
  /** First retry delay in ms. Default 500 (the seed's first step), or `maxDelay` when smaller. */
  initialDelay?: number;
  /** Largest retry delay in ms. Default: `heartbeatInterval`. */
  maxDelay?: number;
}

/** Options of `@DistributedJob()` runs that apply to every job of the module. */
export interface JobsOptions {
  /**
   * How long a node that is not a tick's owner waits (per rank on the ring) before it claims the
   * tick itself, in ms. Default 1000, and never more than a quarter of a job's period.
   */
  failoverGrace?: number;
  /** How long shutdown waits for running jobs before aborting their signals, in ms. Default 10000. */
  drainTimeout?: number;
  /**
   * How late (ms after a tick is due, Redis time) a tick may still start, for every job without
   * its own `startingDeadline`. Default: per job, half its period, at most 10000.
   */
  startingDeadline?: number;
}

export interface DiscoveryModuleOptions {
  /**
   * Where the registry lives. An ioredis `Redis` or `Cluster` instance is used as it is and never
   * closed by the module; a `redis://` / `rediss://` URL or `RedisOptions` makes the module open
   * (and close) its own client. Omitted, or `'memory'`: an in-memory registry for this process
   * only (each replica would run every job tick). Given but `undefined` or empty (an unset
   * `REDIS_URL`): a startup error naming `redis`, never a silent fallback.
   */
  redis?: Redis | Cluster | string | RedisOptions | 'memory';
  /** This node's id, unique in the namespace. Default: a random UUID. */
  nodeId?: string;
  /** The pool this node's jobs are shared in: replicas of one app share a name. Default `default`. */
  serviceName?: string;
  /** Where peers reach this node (`host:port`). Default: the HTTP server's address once listening. */
  address?: string;
  /** Services this node offers. Default `[{ name: serviceName }]`. */
  services?: ServiceDescriptor[];
  /** Free-form string metadata published with the node. Default `{}`. */
  metadata?: Record<string, string>;
  /** Namespace of every key and of the default channel. Default `discovery`. */
  keyPrefix?: string;
  /** Heartbeat period in ms. Default 5000. */
  heartbeatInterval?: number;
  /** How long a node stays alive after its last heartbeat, in ms (Redis server time). Default 15000. */
  heartbeatTTL?: number;
  /** Publish and receive change events over Redis pub/sub. Default `true`. */
  pubSubEnabled?: boolean;
  /** Channel of the change events. Default `<keyPrefix>:events`. */
  pubSubChannel?: string;
  /**
   * What the in-process view keeps: `all` nodes (default), or `used`: only this node's pool and
   * the services it has looked up (the first lookup of a service reads it from Redis), so a
   * process in a large registry holds what it uses. With `used`, `getActiveNodes()` reads Redis.
   */
  viewScope?: 'all' | 'used';
  /** Look up and listen without registering this process as a node. Default `false`. */
  clientMode?: boolean;
  /** Do not deliver events about this node to its own subscribers. Default `false`. */
  ignoreOwnEvents?: boolean;
  /** Heartbeat retry backoff. */
  retry?: RetryOptions;
  /**
   * How long the start (`app.init()`) keeps trying to reach Redis before it fails, in ms. Redis
   * often starts beside the app (docker-compose, Kubernetes). Default: 30000, or `heartbeatTTL`
   * if longer.
   */
  startupTimeout?: number;
  /** Virtual nodes per node on the hash ring. Default 50 (the seed's). */
  hashReplicas?: number;
  /**
   * `consistent` (plain ring) or `bounded` (ring with bounded loads: at most 1.25x the mean jobs
   * per node, or the mean + 1 when there are fewer than 4 jobs per node). Default `consistent`.
   */
  balance?: BalanceMode;
  /** How long the pool reports `upgrading` after its membership changed, in ms. Default 1000. */
  poolSettleTime?: number;
  /** Options of `@DistributedJob()` runs. */
  jobs?: JobsOptions;
  /**
   * Shared secret (at least 16 characters) to sign node records and job claims with HMAC-SHA256.
   * Peers then ignore (and count) records, events and claims that do not verify. A list rotates
   * keys: the first signs, a signature of any of them verifies. Default: none.
   */
  signingKey?: string | string[];
  /**
   * Where metrics go: an OpenTelemetry `MeterProvider`. Default: the app's global provider if
   * `@opentelemetry/api` is installed (a no-op until an SDK registers one); `false` turns them off.
   */
  meterProvider?: MeterProviderLike | false;
}

/** Options after validation, with every default filled in. */
export interface ResolvedDiscoveryOptions {
  redis: Redis | Cluster | string | RedisOptions | undefined;
  nodeId: string;
  serviceName: string;
  address: string | undefined;
  services: ServiceDescriptor[];
  metadata: Record<string, string>;
  keyPrefix: string;
  heartbeatInterval: number;
  heartbeatTTL: number;
  pubSubEnabled: boolean;
  pubSubChannel: string;
  viewScope: 'all' | 'used';
  clientMode: boolean;
  ignoreOwnEvents: boolean;
  retry: Required<RetryOptions>;
  startupTimeout: number;
  hashReplicas: number;
  balance: BalanceMode;
  poolSettleTime: number;
  jobs: Required<Omit<JobsOptions, 'startingDeadline'>> & { startingDeadline: number | undefined };
  /** The keys, the signing key first; undefined without one. */
  signingKey: string[] | undefined;
  meterProvider: MeterProviderLike | false | undefined;
}

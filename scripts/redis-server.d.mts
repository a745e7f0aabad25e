// Types for redis-server.mjs (plain JavaScript, so the bench and demo scripts run it without a
// build, while the TypeScript tests import it too).

export const HOST: '127.0.0.1';

/** `redis-server` is not on the PATH. */
export class RedisServerMissingError extends Error {
  readonly code: 'ENOENT';
}

/** The server exited or did not answer in time. */
export class RedisServerStartError extends Error {
  /** The end of what the server printed. */
  readonly output: string;
  /** It said "address already in use". */
  readonly portTaken: boolean;
}

/** The version of the `redis-server` on the PATH, e.g. '7.0.15'. */
export function redisServerVersion(): string;

export interface StartRedisServerOptions {
  /** Added after the defaults; a function gets the port (for per-port dirs and files). */
  args?: string[] | ((port: number) => string[]);
  /** Spawn on this port (no retry on another); else a free one. */
  port?: number;
  /** A config file, passed first (Sentinel needs one it can rewrite); a function gets the port. */
  configFile?: string | ((port: number) => string);
  /** Added to this process's environment for the server (e.g. LD_PRELOAD). */
  env?: Record<string, string>;
  /** Names the server in errors; default 'redis-server'. */
  label?: string;
  /** Bound on the wait for the first answer, ms; default 5000. */
  startTimeout?: number;
  /** Bound from SIGTERM (stop) or SIGKILL (kill) to the exit, ms, before SIGKILL; default 2000. */
  stopTimeout?: number;
}

export interface RedisServer {
  host: string;
  port: number;
  url: string;
  /** The pid while running, else undefined. */
  pid(): number | undefined;
  running(): boolean;
  /** The end of what the server printed. */
  output(): string;
  /** SIGKILL; resolves once it exited. A no-op when not running. */
  kill(): Promise<void>;
  /** SIGSTOP; throws when not running. */
  pause(): void;
  /** SIGCONT; throws when not running. */
  resume(): void;
  /** Kills it and starts an empty one on the same port with the same args. */
  restart(): Promise<void>;
  /** SIGCONT + SIGTERM, SIGKILL after the bound; resolves once it exited. Idempotent. */
  stop(): Promise<void>;
}

/** Starts a throw-away redis-server (no persistence) on 127.0.0.1 and waits until it answers. */
export function startRedisServer(options?: StartRedisServerOptions): Promise<RedisServer>;

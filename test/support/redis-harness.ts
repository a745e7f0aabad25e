// Real-Redis harness for tests: a throw-away redis-server, else testcontainers, else REDIS_URL.
import { execFile } from 'node:child_process';
import { startRedisServer, type RedisServer } from '../../scripts/redis-server.mjs';

export { freePort } from '../../scripts/free-port.mjs';

export interface RedisHandle {
  url: string;
  host: string;
  port: number;
  keyPrefix: string;
  source: 'spawned' | 'testcontainers' | 'url';
  pid(): number | undefined;
  kill(): Promise<void>;
  pause(): void;
  resume(): void;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  args?: string[];
  /** Spawn on this port (a spawned redis-server only), e.g. one an app already tries to reach. */
  port?: number;
}

const NO_REDIS =
  'No Redis for tests: install redis-server (apt-get install -y redis-server), or start Docker, or set REDIS_URL';

let counter = 0;

export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: { timeout?: number; interval?: number; message?: string } = {},
): Promise<T> {
  const { timeout = 5000, interval = 20, message = 'waitFor: condition not met' } = opts;
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      lastError = err; // a throwing probe counts as "not yet"
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`${message} after ${timeout} ms${cause}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisHandle> {
  const args = options.args ?? [];
  if (process.env.TEST_REDIS_SOURCE !== 'url') {
    const spawned = await trySpawned(args, options.port);
    if (spawned) return spawned;
    if (await dockerAnswers()) {
      const container = await tryTestcontainers(args);
      if (container) return container;
    }
  }
  if (process.env.REDIS_URL) return fromUrl(process.env.REDIS_URL, args);
  throw new Error(NO_REDIS);
}

// ---- 1. spawned redis-server ----------------------------------------------------------------

async function trySpawned(args: string[], port?: number): Promise<RedisHandle | undefined> {
  let server: RedisServer;
  try {
    server = await startRedisServer({ args, port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // not installed
    throw err;
  }
  return {
    url: server.url,
    host: server.host,
    port: server.port,
    keyPrefix: '',
    source: 'spawned',
    pid: () => server.pid(),
    kill: () => server.kill(),
    pause: () => server.pause(),
    resume: () => server.resume(),
    restart: () => server.restart(),
    stop: () => server.stop(),
  };
}

// ---- 2. testcontainers ----------------------------------------------------------------------

function dockerAnswers(): Promise<boolean> {
  return new Promise((resolve) =>
    execFile('docker', ['info'], { timeout: 3000 }, (err) => resolve(!err)),
  );
}

async function tryTestcontainers(args: string[]): Promise<RedisHandle | undefined> {
  let mod: any;
  try {
    const name = '@testcontainers/redis'; // a variable keeps tsc from resolving the optional module
    mod = await import(name);
  } catch {
    return undefined;
  }
  // RedisContainer.start() overwrites the command, so only a password can be passed through.
  let container = new mod.RedisContainer('redis:7');
  const passIdx = args.indexOf('--requirepass');
  const rest = passIdx >= 0 ? args.filter((_, i) => i !== passIdx && i !== passIdx + 1) : args;
  if (rest.length)
    throw new Error(`redis-server args ${rest.join(' ')} not supported for testcontainers`);
  if (passIdx >= 0) container = container.withPassword(args[passIdx + 1]);
  const started = await container.start();
  const host: string = started.getHost();
  const port: number = started.getMappedPort(6379);
  const unsupported = () => {
    throw new Error('fault controls are not supported for testcontainers');
  };
  let stopping: Promise<void> | undefined;
  return {
    url: `redis://${host}:${port}`,
    host,
    port,
    keyPrefix: '',
    source: 'testcontainers',
    pid: () => undefined,
    kill: async () => unsupported(),
    pause: unsupported,
    resume: unsupported,
    restart: async () => unsupported(),
    stop: () => (stopping ??= started.stop().then(() => undefined)),
  };
}

// ---- 3. REDIS_URL ---------------------------------------------------------------------------

function fromUrl(url: string, args: string[]): RedisHandle {
  if (args.length) throw new Error('redis-server args need a spawned redis-server, not REDIS_URL');
  const parsed = new URL(url);
  const unsupported = () => {
    throw new Error('fault controls need a spawned redis-server');
  };
  return {
    url,
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    // A shared server: tests keep apart by key prefix.
    keyPrefix: `t${process.pid}_${++counter}:`,
    source: 'url',
    pid: () => undefined,
    kill: async () => unsupported(),
    pause: unsupported,
    resume: unsupported,
    restart: async () => unsupported(),
    stop: async () => {},
  };
}

// Real-Redis harness for tests: a throw-away redis-server, else testcontainers, else REDIS_URL.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import net from 'node:net';

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
const HOST = '127.0.0.1';

// Spawned servers must never outlive the test process, even if a test forgets stop().
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
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

class SpawnFailed extends Error {
  constructor(
    message: string,
    readonly portTaken: boolean,
  ) {
    super(message);
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function resp(...parts: string[]): string {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
}

// Asks INFO for process_id rather than just PING, so a foreign server that won the port race
// is not mistaken for ours. Resolves undefined on any failure.
function probePid(port: number, password: string | undefined): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    let data = '';
    const done = (pid: number | undefined) => {
      socket.destroy();
      resolve(pid);
    };
    socket.setTimeout(500, () => done(undefined));
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
    socket.on('connect', () =>
      socket.write((password ? resp('AUTH', password) : '') + resp('INFO', 'server')),
    );
    socket.on('data', (chunk) => {
      data += chunk.toString();
      const match = /process_id:(\d+)\r\n/.exec(data);
      if (match) done(Number(match[1]));
    });
  });
}

async function spawnServer(port: number, args: string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'],
      ...['--daemonize', 'no', '--protected-mode', 'no', ...args],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  // Don't let a forgotten server keep the event loop alive; the 'exit' hook kills it.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as net.Socket | null)?.unref();

  live.add(child);
  child.once('exit', () => live.delete(child));
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.on('error', resolve); // stays attached so a late error cannot crash the test process
  });
  if (spawnError) {
    live.delete(child);
    throw spawnError; // ENOENT: not installed
  }

  const passIdx = args.indexOf('--requirepass');
  const password = passIdx >= 0 ? args[passIdx + 1] : undefined;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    if ((await probePid(port, password)) === child.pid) return child;
    await new Promise((r) => setTimeout(r, 20));
  }
  const why =
    child.exitCode !== null ? `exited with code ${child.exitCode}` : 'did not answer in 5 s';
  child.kill('SIGKILL');
  await exited(child);
  throw new SpawnFailed(
    `redis-server on port ${port} ${why}:\n${output}`,
    /address already in use/i.test(output),
  );
}

async function trySpawned(args: string[], fixedPort?: number): Promise<RedisHandle | undefined> {
  let port = 0;
  let child: ChildProcess | undefined;
  for (let attempt = 1; !child; attempt++) {
    port = fixedPort ?? (await freePort());
    try {
      child = await spawnServer(port, args);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      // freePort() releases the port before redis binds it, so another process may win the race.
      if (!(err instanceof SpawnFailed && err.portTaken && attempt < 3)) throw err;
    }
  }

  const running = () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return undefined;
    return child;
  };
  const kill = async () => {
    const c = running();
    if (!c) return;
    c.kill('SIGKILL'); // works on a SIGSTOPped process too
    await exited(c);
  };
  const signal = (sig: NodeJS.Signals) => {
    const c = running();
    if (!c) throw new Error('redis-server is not running');
    c.kill(sig);
  };

  return {
    url: `redis://${HOST}:${port}`,
    host: HOST,
    port,
    keyPrefix: '',
    source: 'spawned',
    pid: () => running()?.pid,
    kill,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    restart: async () => {
      await kill();
      child = await spawnServer(port, args);
    },
    stop: async () => {
      const c = running();
      if (!c) return;
      c.kill('SIGCONT'); // a stopped process would not act on SIGTERM
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 2000);
      await exited(c);
      clearTimeout(timer);
    },
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

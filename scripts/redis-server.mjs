// A throw-away redis-server for the tests, the benchmarks and the demo: a free port on 127.0.0.1, no
// persistence, ready once it answers with its own pid; kill, pause, restart; never outlives us.
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { freePort } from './free-port.mjs';

export const HOST = '127.0.0.1';
const INSTALL_HINT = 'install it (apt-get install -y redis-server)';
const OUTPUT_KEPT = 4000; // characters of the server's output kept for error messages
const PORT_ATTEMPTS = 3;

/** `redis-server` is not on the PATH. `code` is 'ENOENT', as for a failed spawn. */
export class RedisServerMissingError extends Error {
  code = 'ENOENT';
  constructor() {
    super(`redis-server not found on the PATH: ${INSTALL_HINT}`);
    this.name = 'RedisServerMissingError';
  }
}

/** The server exited or did not answer in time; `output` is the end of what it printed. */
export class RedisServerStartError extends Error {
  constructor(message, output, portTaken) {
    super(`${message}:\n${output}`);
    this.name = 'RedisServerStartError';
    this.output = output;
    this.portTaken = portTaken;
  }
}

// Spawned servers must never outlive this process, even if a caller forgets stop().
const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The version of the `redis-server` on the PATH, e.g. '7.0.15'. */
export function redisServerVersion() {
  let out;
  try {
    out = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
  } catch (error) {
    if (error.code === 'ENOENT') throw new RedisServerMissingError();
    throw error;
  }
  return /v=(\S+)/.exec(out)?.[1] ?? out.trim();
}

const running = (child) => child.exitCode === null && child.signalCode === null;

/** Resolves once the child exited; SIGKILLs it if it has not after `ms` (also keeps us alive). */
function exited(child, ms) {
  if (!running(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function resp(...parts) {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
}

// Asks INFO for process_id rather than just PING, so a foreign server that won the port race is
// not mistaken for ours. Resolves undefined on any failure.
function probePid(port, password) {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    let data = '';
    const done = (pid) => {
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

/** Spawns on `port` and waits until the server there answers with this child's pid. */
async function launch(port, { args, configFile }, { label, startTimeout, env }) {
  const child = spawn(
    'redis-server',
    [
      ...(configFile ? [configFile] : []),
      ...['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'],
      ...['--daemonize', 'no', '--protected-mode', 'no', ...args],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env },
  );
  let output = '';
  const collect = (chunk) => (output = (output + chunk.toString()).slice(-OUTPUT_KEPT));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  // A forgotten server must not keep the event loop alive; the 'exit' hook kills it.
  child.unref();
  child.stdout.unref();
  child.stderr.unref();
  live.add(child);
  child.once('exit', () => live.delete(child));
  const outputRead = new Promise((resolve) => {
    child.once('close', resolve);
    setTimeout(resolve, 500).unref();
  });
  const spawnError = await new Promise((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.on('error', resolve); // stays attached so a late error cannot crash this process
  });
  if (spawnError) {
    live.delete(child);
    if (spawnError.code === 'ENOENT') throw new RedisServerMissingError();
    throw new Error(`could not start redis-server: ${spawnError.message}`);
  }

  const passIdx = args.indexOf('--requirepass');
  const password = passIdx >= 0 ? args[passIdx + 1] : undefined;
  const deadline = Date.now() + startTimeout;
  while (Date.now() < deadline && running(child)) {
    if ((await probePid(port, password)) === child.pid) return { child, output: () => output };
    await new Promise((r) => setTimeout(r, 20));
  }
  const why = running(child)
    ? `did not answer in ${startTimeout} ms`
    : child.exitCode !== null
      ? `exited with code ${child.exitCode}`
      : `was ended by ${child.signalCode}`;
  child.kill('SIGKILL');
  await exited(child, startTimeout);
  await outputRead; // 'exit' may come before the last of its output
  throw new RedisServerStartError(
    `${label} on port ${port} ${why}`,
    output,
    /address already in use/i.test(output),
  );
}

/**
 * Starts `redis-server [configFile] --port P --bind 127.0.0.1 --save '' --appendonly no` plus
 * `args` (each may be a function of the port, for per-port dirs and files). Without `port` it
 * picks a free one, and another if a foreign process took that one first.
 */
export async function startRedisServer(options = {}) {
  const settings = {
    label: options.label ?? 'redis-server',
    startTimeout: options.startTimeout ?? 5000,
    env: options.env,
  };
  const stopTimeout = options.stopTimeout ?? 2000;
  const forPort = (value, port) => (typeof value === 'function' ? value(port) : value);

  let port;
  let command; // args and config file, kept for restart()
  let current;
  for (let attempt = 1; !current; attempt++) {
    port = options.port ?? (await freePort());
    command = {
      args: forPort(options.args, port) ?? [],
      configFile: forPort(options.configFile, port),
    };
    try {
      current = await launch(port, command, settings);
    } catch (error) {
      const retry = error instanceof RedisServerStartError && error.portTaken;
      if (!(retry && options.port === undefined && attempt < PORT_ATTEMPTS)) throw error;
    }
  }

  const alive = () => (running(current.child) ? current.child : undefined);
  const signal = (sig) => {
    const child = alive();
    if (!child) throw new Error(`${settings.label} on port ${port} is not running`);
    child.kill(sig);
  };
  const kill = async () => {
    const child = alive();
    if (!child) return;
    child.kill('SIGKILL'); // acts on a SIGSTOPped process too
    await exited(child, stopTimeout);
  };

  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    pid: () => alive()?.pid,
    running: () => alive() !== undefined,
    output: () => current.output(),
    kill,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    restart: async () => {
      await kill();
      current = await launch(port, command, settings);
    },
    stop: async () => {
      const child = alive();
      if (!child) return;
      child.kill('SIGCONT'); // a stopped process would not act on SIGTERM
      child.kill('SIGTERM');
      await exited(child, stopTimeout);
    },
  };
}

// A throw-away redis-server for the benchmarks (same approach as test/support/redis-harness.ts):
// a free port on 127.0.0.1, no persistence, killed when this process exits.
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { sleep } from './stats.mjs';

const HOST = '127.0.0.1';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function redisServerVersion() {
  const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
  return /v=(\S+)/.exec(out)?.[1] ?? out.trim();
}

export async function startRedis() {
  const major = Number(redisServerVersion().split('.')[0]);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'];
    args.push('--daemonize', 'no', '--protected-mode', 'no', '--maxclients', '20000');
    if (major >= 7) args.push('--enable-debug-command', 'local'); // DEBUG POPULATE for junk keys
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    process.on('exit', () => child.kill('SIGKILL'));
    const url = `redis://${HOST}:${port}`;
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    for (let i = 0; i < 250 && child.exitCode === null; i++) {
      try {
        await probe.connect();
        const pid = Number(/process_id:(\d+)/.exec(await probe.info('server'))[1]);
        if (pid !== child.pid) throw new Error(`port ${port} answered by another server`);
        probe.disconnect();
        return {
          url,
          port,
          pid: child.pid,
          stop: async () => {
            child.kill('SIGTERM');
            await new Promise((resolve) => child.once('exit', resolve));
          },
        };
      } catch {
        await sleep(20);
      }
    }
    probe.disconnect();
    child.kill('SIGKILL');
    if (attempt >= 3) throw new Error(`redis-server did not start:\n${output}`);
  }
}

/** INFO <section> as an object of strings. */
export async function info(client, section) {
  const text = await client.info(section);
  return Object.fromEntries(
    text
      .split('\r\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
  );
}

/** used_cpu_sys + used_cpu_user of the server, in seconds. */
export async function serverCpu(client) {
  const cpu = await info(client, 'cpu');
  return Number(cpu.used_cpu_sys) + Number(cpu.used_cpu_user);
}

/** INFO commandstats as { command: { calls, usec } } (usec: Redis time spent in the command). */
export async function commandStats(client) {
  const stats = await info(client, 'commandstats');
  return Object.fromEntries(
    Object.entries(stats).map(([key, value]) => [
      key.replace(/^cmdstat_/, ''),
      { calls: Number(/calls=(\d+)/.exec(value)[1]), usec: Number(/usec=(\d+)/.exec(value)[1]) },
    ]),
  );
}

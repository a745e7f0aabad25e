// The Redis the nodes share: REDIS_URL if set, else a throw-away redis-server of our own on a free
// port (no persistence), waited for with PING and stopped at the end.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../free-port.mjs';
import { state } from './state.mjs';

function ping(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok) => (socket.destroy(), resolve(ok));
    socket.setTimeout(300, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/** REDIS_URL, or a redis-server of our own on a free port (stopped at the end). */
export async function startRedis() {
  if (process.env.REDIS_URL) {
    state.redisLabel = `REDIS_URL ${process.env.REDIS_URL}`;
    return { url: process.env.REDIS_URL, stop: async () => {} };
  }
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const server = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  server.stdout.on('data', (chunk) => (output = (output + chunk).slice(-2000)));
  server.stderr.on('data', (chunk) => (output = (output + chunk).slice(-2000)));
  const failed = await new Promise((resolve) => {
    server.once('spawn', () => resolve(undefined));
    server.once('error', resolve);
  });
  if (failed) {
    throw new Error(
      failed.code === 'ENOENT'
        ? 'redis-server is not installed: install it (apt-get install redis-server) or set REDIS_URL'
        : `could not start redis-server: ${failed.message}`,
    );
  }
  const exited = once(server, 'exit');
  for (let deadline = Date.now() + 5000; !(await ping(port)); await sleep(50)) {
    if (Date.now() > deadline || server.exitCode !== null) {
      server.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not start:\n${output}`);
    }
  }
  state.redisLabel = `redis-server --port ${port} --save '' --appendonly no (pid ${server.pid})`;
  return {
    url: `redis://127.0.0.1:${port}`,
    server,
    stop: async () => {
      if (server.exitCode !== null || server.signalCode !== null) return;
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

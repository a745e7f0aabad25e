// The benchmarks' redis-server (scripts/redis-server.mjs: a free port on 127.0.0.1, no persistence,
// killed when this process exits) and readers of its INFO.
import { redisServerVersion, startRedisServer } from '../../scripts/redis-server.mjs';

/** A throw-away redis-server that takes many clients (and DEBUG POPULATE, for junk keys). */
export function startRedis() {
  const args = ['--maxclients', '20000'];
  if (Number(redisServerVersion().split('.')[0]) >= 7) args.push('--enable-debug-command', 'local');
  return startRedisServer({ args });
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

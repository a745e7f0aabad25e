// `npm run bench [-- --quick] [-- --only=lookup,jobs]`: starts a redis-server, runs every
// benchmark in turn and writes bench/results/latest.{json,md,svg} (quick.* with --quick,
// partial.* with --only).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { info, startRedis } from './lib/redis.mjs';
import { writeResults } from './lib/report.mjs';

const BENCHMARKS = [
  'lookup',
  'view',
  'heartbeat',
  'events',
  'crash',
  'failover',
  'jobs',
  'balance',
  'guard',
];
const quick = process.argv.includes('--quick');
const only = process.argv
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');

const startedAt = performance.now();
const elapsed = () => ((performance.now() - startedAt) / 1000).toFixed(1).padStart(6);

function git(...args) {
  try {
    return execFileSync('git', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

/** Digest of dist/: others may rebuild it while the benchmarks run (npm test builds first). */
function distDigest() {
  const hash = createHash('sha1');
  const root = fileURLToPath(new URL('../dist', import.meta.url));
  for (const file of readdirSync(root, { recursive: true }).sort()) {
    if (file.endsWith('.js')) hash.update(file).update(readFileSync(`${root}/${file}`));
  }
  return hash.digest('hex').slice(0, 12);
}
const distAtStart = distDigest();

const redis = await startRedis();
const admin = new Redis(redis.url);
const machine = {
  date: new Date().toISOString(),
  quick,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  node: process.version,
  redis: (await info(admin, 'server')).redis_version,
  commit: `${git('rev-parse', '--short', 'HEAD') || 'unknown'}${git('status', '--porcelain', '--', 'lib') ? ' + uncommitted lib changes' : ''}`,
};
console.log(
  `${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, Redis ${machine.redis}${quick ? ', quick mode' : ''}`,
);

const results = [];
for (const name of BENCHMARKS.filter((b) => !only || only.includes(b))) {
  await admin.flushall();
  await admin.config('RESETSTAT');
  const benchStart = performance.now();
  const log = (message) => console.log(`${elapsed()} s  ${name}: ${message}`);
  const load = os.loadavg()[0];
  log(`start (load average ${load.toFixed(2)} on ${machine.cpus} cores)`);
  try {
    const { run } = await import(`./${name}.mjs`);
    const result = await run({ redisUrl: redis.url, quick, log });
    results.push({
      name,
      seconds: Math.round((performance.now() - benchStart) / 100) / 10,
      loadAverage: Math.round(load * 100) / 100,
      ...result,
    });
  } catch (error) {
    log(`FAILED: ${error.stack ?? error}`);
    results.push({
      name,
      loadAverage: Math.round(load * 100) / 100,
      error: String(error.stack ?? error),
    });
  }
}
admin.disconnect();
await redis.stop();

const base = only ? 'partial' : quick ? 'quick' : 'latest';
machine.base = base;
machine.seconds = Math.round((performance.now() - startedAt) / 1000);
machine.dist = distAtStart;
if (distDigest() !== distAtStart) {
  machine.dist += ' (dist/ was rebuilt during the run: results mix two builds)';
  console.log('warning: dist/ was rebuilt during the run; results mix two builds');
}
const dir = fileURLToPath(new URL('./results', import.meta.url));
mkdirSync(dir, { recursive: true });
writeResults(dir, base, { machine, results });
console.log(`${elapsed()} s  wrote bench/results/${base}.{json,md,svg}`);
process.exit(results.some((r) => r.error) ? 1 : 0);

import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import {
  FIXTURE,
  killAllNodes,
  NodeProcess,
  type NodeProcessConfig,
  type NodeReport,
} from '../support/node-process.js';
import { waitFor } from '../support/redis-harness.js';

// Two replicas of one app, as separate Node processes on the built package, configured the way the
// README used to show: `redis: process.env.REDIS_URL`. With the variable unset, each used to fall
// back to a registry of its own and run every tick; now both refuse to start, naming `redis`.
// With the in-memory registry chosen explicitly, each warns that its jobs run per process.

const JOB = { name: 'report', interval: 200 };
const UNSET_ERROR =
  "InvalidOptionError: redis is undefined (an unset environment variable, as with redis: process.env.REDIS_URL?): give a redis:// URL, an ioredis client or RedisOptions; for the in-memory registry of this process only, leave redis out or set redis: 'memory'";
const PER_PROCESS =
  'Distributed job report: the in-memory registry spans this process only, so jobs run once per tick per process: every replica runs every tick. Give the redis option to run them once across replicas';

/** Runs the node fixture to its end (it is expected to fail at startup). */
async function runToExit(
  config: NodeProcessConfig,
): Promise<{ code: number; reports: NodeReport[] }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_CONFIG: JSON.stringify(config),
    NODE_OPTIONS: '',
  };
  delete env.DISCOVERY_TEST_UNSET;
  const child = spawn(process.execPath, [FIXTURE], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const reports: NodeReport[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    reports.push(JSON.parse(line) as NodeReport);
  });
  const [code] = (await once(child, 'exit')) as [number];
  return { code, reports };
}

afterEach(async () => {
  await killAllNodes();
});

describe('replicas whose redis option is an unset variable', () => {
  it('both refuse to start with the InvalidOptionError naming redis: no replica runs a tick', async () => {
    const replicas = await Promise.all(
      ['a', 'b'].map((nodeId) =>
        runToExit({
          discovery: { nodeId } as NodeProcessConfig['discovery'],
          redisEnv: 'DISCOVERY_TEST_UNSET',
          jobs: [JOB],
        }),
      ),
    );
    for (const { code, reports } of replicas) {
      expect(code).not.toBe(0);
      expect(
        reports.filter((r) => r.event === 'log' && r.level === 'error').map((r) => r.message),
      ).toEqual([UNSET_ERROR]);
      expect(reports.filter((r) => r.event === 'ready' || r.event === 'run')).toEqual([]);
    }
  });
});

describe("replicas on redis: 'memory'", () => {
  it('each warns that its jobs run per process, and each does run every tick', async () => {
    const replicas = await Promise.all(
      ['a', 'b'].map((nodeId) =>
        NodeProcess.start({ discovery: { nodeId, redis: 'memory' }, jobs: [JOB] }),
      ),
    );
    for (const replica of replicas) {
      expect(replica.reports.filter((r) => r.level === 'warn').map((r) => r.message)).toEqual([
        PER_PROCESS,
      ]);
    }
    // What the warning says: the same ticks run on both (each process is its own cluster).
    const ticks = (node: NodeProcess) => new Set(node.runs('report').map((r) => r.tick));
    const both = () => [...ticks(replicas[0]!)].filter((tick) => ticks(replicas[1]!).has(tick));
    await waitFor(() => both().length >= 3, { timeout: 10_000, message: 'no tick ran on both' });
  });
});

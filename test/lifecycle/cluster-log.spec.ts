import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { HashRing } from '../../lib/node-pool/hash-ring.js';
import { killAllNodes, NodeProcess, type NodeReport } from '../support/node-process.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

// What the logs of a real node process say about its cluster, one line per change: registered
// (id, pool, Redis address), peers joined / left / expired, jobs handed on / taken over / handed
// back, ticks run in place of a dead owner, the lease lost and regained; and nothing in the steady
// state. Node `a` reports every log line; `b` joins, is SIGKILLed, comes back and shuts down.

const HEARTBEAT = { heartbeatInterval: 200, heartbeatTTL: 1000 };
const JOBS = ['j1', 'j2', 'j3', 'j4', 'j5', 'j6'].map((name) => ({ name, interval: 300 }));
const CONTEXTS = new Set(['ServiceDiscovery', 'DistributedJobs', 'NodeLease']);

const FAILOVER =
  /^Job j\d: ran a tick by failover \(its owner on the ring did not claim it in time\)$/;

/**
 * The cluster lines `a` logged after `from` (an index into its reports), failover runs apart: a
 * joining node owns its jobs before its own timers fire, so those may come at any change.
 */
function clusterLines(node: NodeProcess, from = 0, failovers = false): string[] {
  return (
    node.reports
      .slice(from)
      .filter((r: NodeReport) => r.event === 'log' && CONTEXTS.has(r.context ?? ''))
      .map((r) => r.message ?? '')
      // Not the cluster's: the Redis clock estimate's steps (a loaded machine shows some at start).
      .filter((line) => !line.startsWith('Redis server time stepped'))
      .filter((line) => FAILOVER.test(line) === failovers)
  );
}

describe('cluster log lines of a real node', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await killAllNodes();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('one line per change (join, hand-off, crash, failover, takeover, hand-back, leave, lease), none in the steady state', async () => {
    const keyPrefix = `cluster-log-${process.pid}`;
    const start = (nodeId: string) =>
      NodeProcess.start({
        discovery: { redis: redis.url, keyPrefix, nodeId, serviceName: 'billing', ...HEARTBEAT },
        jobs: JOBS,
        reportLogs: nodeId === 'a',
      });
    const ofB = JOBS.map((job) => job.name).filter(
      (name) => new HashRing(['a', 'b'], 50).owner(name) === 'b',
    );
    expect(ofB.length).toBeGreaterThan(0); // the ring gives b some of the six jobs
    const { port } = new URL(redis.url);
    const a = await start('a');
    const seen = (line: string) => () => clusterLines(a).includes(line);
    const within = (line: string) => waitFor(seen(line), { timeout: 8000, message: line });

    expect(clusterLines(a)).toEqual([
      `Registered node a in pool billing on Redis 127.0.0.1:${port}, keyPrefix ${keyPrefix}; pool: 1 node (a)`,
    ]);

    // b joins: a hands b's jobs on.
    let mark = a.reports.length;
    let b = await start('b');
    await within(`Handed job ${ofB.at(-1)} to b (the pool changed)`);
    expect(clusterLines(a, mark)).toEqual([
      expect.stringMatching(/^Peer b joined pool billing at \S+:?\S*$/),
      ...ofB.map((job) => `Handed job ${job} to b (the pool changed)`),
    ]);

    // b crashes: a runs b's ticks by failover, then b expires and a takes its jobs over.
    mark = a.reports.length;
    await b.kill();
    await within(`Took over job ${ofB.at(-1)} from b (the pool changed)`);
    // Which of b's jobs a ran by failover before b expired: at least one, each said once.
    const failovers = clusterLines(a, mark, true).map((line) => line.split(':')[0]);
    expect(failovers.length).toBeGreaterThan(0);
    expect(new Set(failovers).size).toBe(failovers.length);
    expect(failovers.filter((job) => !ofB.includes(job.replace('Job ', '')))).toEqual([]);
    expect(clusterLines(a, mark)).toEqual([
      'Peer b expired from pool billing: no heartbeat for 1000 ms',
      ...ofB.map((job) => `Took over job ${job} from b (the pool changed)`),
    ]);

    // b comes back: a hands its jobs back; then b shuts down cleanly and a takes them again.
    mark = a.reports.length;
    b = await start('b');
    await within(`Handed job ${ofB.at(-1)} back to b (the pool changed)`);
    await b.terminate();
    await waitFor(() => clusterLines(a, mark).length >= 2 + 2 * ofB.length, { timeout: 8000 });
    expect(clusterLines(a, mark)).toEqual([
      expect.stringMatching(/^Peer b joined pool billing/),
      ...ofB.map((job) => `Handed job ${job} back to b (the pool changed)`),
      'Peer b left pool billing (shut down)',
      ...ofB.map((job) => `Took over job ${job} from b (the pool changed)`),
    ]);

    // The steady state: five more runs of every job, and not one cluster line.
    mark = a.reports.length;
    const runsSince = (job: string) =>
      a.reports.slice(mark).filter((r) => r.event === 'run' && r.job === job).length;
    await waitFor(() => JOBS.every((job) => runsSince(job.name) >= 5), { timeout: 10_000 });
    expect([...clusterLines(a, mark), ...clusterLines(a, mark, true)]).toEqual([]);

    // a frozen past its TTL: the lease is lost at the first statement after it resumes, and
    // regained by the next heartbeat.
    mark = a.reports.length;
    a.signal('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 2 * HEARTBEAT.heartbeatTTL)); // the freeze itself
    a.signal('SIGCONT');
    await within('Lease regained: a heartbeat reached Redis again');
    const lease = clusterLines(a, mark);
    expect(lease.filter((line) => line.startsWith('Lease'))).toEqual([
      'Lease lost: no heartbeat reached Redis in time',
      'Lease regained: a heartbeat reached Redis again',
    ]);
    expect(a.problems()).toEqual([]);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { JobDescription, JobStatus, TriggerResult } from 'nestjs-redis-discovery';
import { HashRing } from '../../lib/node-pool/hash-ring.js';
import {
  killAllNodes,
  NodeProcess,
  type JobSpec,
  type NodeProcessConfig,
  type NodeReport,
} from '../support/node-process.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';
import { checkTicks, innerWindow } from '../support/tick-checker.js';

const HEARTBEAT = { heartbeatInterval: 200, heartbeatTTL: 1000 };
const YEARLY = '0 0 0 1 1 *';

/**
 * Operating jobs across node processes on a real Redis: pause and resume seen by every node (one
 * started later, one restarted), trigger from a non-owner, a runtime job through an owner kill,
 * retries, and a history that keeps a killed node's runs.
 */
describe('operating jobs across processes', () => {
  let redis: RedisHandle;
  let namespace = 0;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await killAllNodes();
  });
  afterAll(async () => {
    await redis.stop();
  });

  function starter(options: Partial<NodeProcessConfig['discovery']> = {}) {
    const keyPrefix = `operating-${namespace++}`;
    return (nodeId: string, jobs: JobSpec[], extra: Partial<NodeProcessConfig> = {}) =>
      NodeProcess.start({
        discovery: { redis: redis.url, keyPrefix, nodeId, ...HEARTBEAT, ...options },
        jobs,
        ...extra,
      });
  }
  const reportsOf = (nodes: NodeProcess[]): NodeReport[] => nodes.flatMap((n) => n.reports);
  const runsOf = (nodes: NodeProcess[], job: string) =>
    reportsOf(nodes).filter((r) => r.event === 'run' && r.job === job);
  const statusOf = async (node: NodeProcess, job: string) =>
    (await node.command<JobStatus[]>('list')).find((j) => j.name === job)!;
  const ownerOf = (ids: string[], job: string) => new HashRing(ids, 50).owner(job)!;

  it('pause from one node: no node runs it (one started afterwards, one restarted); resume: it runs on the next tick', async () => {
    const job: JobSpec = { name: 'billing', interval: 500, durationMs: 20 };
    const start = starter();
    const a = await start('a', [job]);
    const b = await start('b', [job]);
    const c = await start('c', [job]);
    await waitFor(() => runsOf([a, b, c], 'billing').length >= 2, { timeout: 5000 });

    await a.command('pause', 'billing', { reason: 'ledger migration' });
    const pausedAt = Date.now();
    expect(await b.terminate()).toBe(0);
    const restarted = await start('b', [job]);
    const later = await start('d', [job]);
    const everyNode = [a, b, c, restarted, later];
    // Every live node, the new and the restarted one included, refuses ticks as paused.
    await waitFor(
      async () => {
        const skipped = await Promise.all(
          [a, c, restarted, later].map(async (n) => (await statusOf(n, 'billing')).skipped.paused),
        );
        return skipped.every((n) => n >= 2);
      },
      { timeout: 8000, message: 'not every node saw the job paused' },
    );
    const paused = await later.command<JobDescription>('describe', 'billing');
    expect(paused).toMatchObject({ paused: true, pauseReason: 'ledger migration', pausedBy: 'a' });
    expect(paused.totals.skipped.paused).toBeGreaterThanOrEqual(4);
    // A run granted before the pause may report just after it; none later.
    expect(runsOf(everyNode, 'billing').filter((r) => r.at > pausedAt + 300)).toEqual([]);

    await later.command('resume', 'billing');
    const resumedAt = Date.now();
    await waitFor(
      () => runsOf(everyNode, 'billing').filter((r) => r.tick! >= resumedAt).length >= 3,
      {
        timeout: 5000,
        message: 'no run after the resume',
      },
    );
    const after = runsOf(everyNode, 'billing').filter((r) => r.tick! >= resumedAt);
    expect(new Set(after.map((r) => r.tick)).size).toBe(after.length); // each tick once
    // The first tick after the resume ran: its window began within one period of the resume.
    expect(Math.min(...after.map((r) => r.tick!))).toBeLessThan(resumedAt + 500);
    for (const node of everyNode) expect(node.problems()).toEqual([]);
  }, 60_000);

  it('trigger from a non-owner: exactly one run, there; two at once from two nodes: one runs, one is refused', async () => {
    const job: JobSpec = { name: 'reindex', cron: YEARLY, durationMs: 300 };
    const start = starter();
    const x = await start('x', [job]);
    const y = await start('y', [job]);
    await waitFor(
      async () => (await x.command<JobDescription>('describe', 'reindex')).owner !== undefined,
    );
    const owner = ownerOf(['x', 'y'], 'reindex');
    const other = owner === 'x' ? y : x;
    const ran = await other.command<TriggerResult & { tick: string }>('trigger', 'reindex');
    expect(ran).toMatchObject({ status: 'ran', outcome: 'ok' });
    const runs = runsOf([x, y], 'reindex');
    expect(runs.map((r) => [r.node, r.token])).toEqual([
      [other.nodeId, (ran as { token: number }).token],
    ]);

    const both = await Promise.all(
      [x, y].map((n) => n.command<TriggerResult>('trigger', 'reindex')),
    );
    expect(both.map((r) => r.status).sort()).toEqual(['ran', 'refused']);
    expect(both.find((r) => r.status === 'refused')).toMatchObject({ reason: 'overlap' });
    expect(runsOf([x, y], 'reindex')).toHaveLength(2);
    // Asked for: two concurrent triggers both run.
    const concurrent = await Promise.all(
      [x, y].map((n) => n.command<TriggerResult>('trigger', 'reindex', { concurrent: true })),
    );
    expect(concurrent.map((r) => r.status)).toEqual(['ran', 'ran']);
    const history = await x.command<JobDescription>('describe', 'reindex');
    expect(history.runs.filter((r) => r.kind === 'trigger')).toHaveLength(4);
    expect(history.totals.triggered).toBe(4);
  }, 60_000);

  it('a runtime job added on 3 nodes runs once per tick, through an owner kill', async () => {
    const job: JobSpec = { name: 'tenant-42', interval: 500, durationMs: 20 };
    const start = starter();
    const live = [
      await start('r0', [], { runtimeJobs: [job] }),
      await start('r1', [], { runtimeJobs: [job] }),
      await start('r2', [], { runtimeJobs: [job] }),
    ];
    const everyNode = [...live];
    const startedAt = Date.now();
    await waitFor(
      () => runsOf(everyNode, 'tenant-42').filter((r) => r.at > startedAt).length >= 4,
      { timeout: 6000 },
    );
    const ownerId = ownerOf(
      live.map((n) => n.nodeId),
      'tenant-42',
    );
    const owner = live.find((n) => n.nodeId === ownerId)!;
    await owner.kill();
    const killedAt = Date.now();
    await waitFor(
      () => runsOf(everyNode, 'tenant-42').filter((r) => r.at > killedAt).length >= 10,
      {
        timeout: 8000,
        message: 'no runs after the owner was killed',
      },
    );
    const stoppedAt = Date.now();
    const [from, to] = innerWindow(startedAt, stoppedAt, 500);
    const ledger = checkTicks(reportsOf(everyNode), 'tenant-42', 500, from, to);
    expect({ doubled: ledger.doubled, missed: ledger.missed }).toEqual({ doubled: [], missed: [] });
    expect(ledger.expected).toBeGreaterThanOrEqual(8);
    const survivors = runsOf(everyNode, 'tenant-42').filter((r) => r.at > killedAt + 1500);
    expect(survivors.every((r) => r.node !== ownerId)).toBe(true);
    for (const node of everyNode) expect(node.problems()).toEqual([]);
  }, 60_000);

  it('two nodes backfilling the same range at once while the schedule runs: each tick once', async () => {
    const job: JobSpec = { name: 'settle', interval: 500, durationMs: 30 };
    const start = starter();
    // The range begins 10 s before any node ran the job: those ticks never ran.
    const from = Math.floor(Date.now() / 500) * 500 - 10_000;
    const nodes = [await start('k0', [job]), await start('k1', [job])];
    await waitFor(() => runsOf(nodes, 'settle').length >= 3, { timeout: 6000 });
    const to = Date.now();
    type Result = { ran: Array<{ tick: string }>; skipped: Array<{ tick: string }> };
    const [first, second] = await Promise.all(
      nodes.map((n) => n.command<Result>('backfill', 'settle', { from, to })),
    );
    // After the range: the schedule still runs.
    await waitFor(() => runsOf(nodes, 'settle').filter((r) => r.tick! >= to).length >= 2, {
      timeout: 5000,
    });
    const runs = runsOf(nodes, 'settle').filter((r) => r.tick! >= from);
    const perTick = new Map<number, number>();
    for (const run of runs) perTick.set(run.tick!, (perTick.get(run.tick!) ?? 0) + 1);
    expect([...perTick].filter(([, n]) => n > 1)).toEqual([]);
    // Every tick of the range that was due ran: by the schedule or by exactly one backfill.
    const expected: number[] = [];
    for (let tick = from; tick + 500 <= to; tick += 500) expected.push(tick);
    expect(expected.filter((tick) => !perTick.has(tick))).toEqual([]);
    const backfilled = [...first.ran, ...second.ran].map((r) => new Date(r.tick).getTime());
    expect(backfilled.length).toBeGreaterThanOrEqual(19);
    expect(new Set(backfilled).size).toBe(backfilled.length);
    expect(first.ran.length > 0 && second.ran.length > 0).toBe(true);
    for (const node of nodes) expect(node.problems()).toEqual([]);
  }, 60_000);

  it('retries: failing twice then succeeding gives 3 attempts on one node for one tick, none overlapping', async () => {
    const job: JobSpec = {
      name: 'flaky',
      interval: 1000,
      durationMs: 60,
      failTimes: 2,
      retry: { attempts: 3, backoff: 50 },
    };
    const start = starter();
    const nodes = [await start('f0', [job]), await start('f1', [job])];
    await waitFor(() => reportsOf(nodes).filter((r) => r.event === 'done').length >= 2, {
      timeout: 8000,
    });
    const reports = reportsOf(nodes).filter((r) => r.job === 'flaky');
    const done = reports.filter((r) => r.event === 'done');
    for (const { tick } of done) {
      const ofTick = reports.filter((r) => r.tick === tick);
      const starts = ofTick.filter((r) => r.event === 'run');
      const ends = ofTick.filter((r) => r.event === 'failed' || r.event === 'done');
      expect(starts.map((r) => r.attempt)).toEqual([1, 2, 3]);
      expect(ends.map((r) => [r.event, r.attempt])).toEqual([
        ['failed', 1],
        ['failed', 2],
        ['done', 3],
      ]);
      expect(new Set(ofTick.map((r) => r.node)).size).toBe(1);
      expect(new Set(ofTick.map((r) => r.token)).size).toBe(1);
      // Each attempt started after the previous one ended.
      expect(starts[1].at).toBeGreaterThanOrEqual(ends[0].at);
      expect(starts[2].at).toBeGreaterThanOrEqual(ends[1].at);
    }
    const { runs, totals } = await nodes[0].command<JobDescription>('describe', 'flaky');
    const lastTick = runs.filter((r) => r.tick === done[0].tick);
    expect(lastTick.map((r) => [r.attempt, r.outcome])).toEqual([
      [3, 'ok'],
      [2, 'error'],
      [1, 'error'],
    ]);
    expect(totals.retries).toBeGreaterThanOrEqual(2 * done.length);
    expect(totals.error).toBe(0);
  }, 60_000);

  it('the history is bounded and keeps the runs of a node killed with SIGKILL', async () => {
    const job: JobSpec = { name: 'ledger', interval: 300, durationMs: 10 };
    const start = starter({ jobs: { historyLimit: 12 } });
    const h0 = await start('h0', [job]);
    const h1 = await start('h1', [job]);
    const ownerId = ownerOf(['h0', 'h1'], 'ledger');
    const [owner, survivor] = ownerId === 'h0' ? [h0, h1] : [h1, h0];
    await waitFor(() => owner.reports.filter((r) => r.event === 'done').length >= 4, {
      timeout: 6000,
    });
    await owner.kill();
    await waitFor(() => survivor.reports.filter((r) => r.event === 'done').length >= 10, {
      timeout: 10_000,
    });
    const { runs, totals } = await survivor.command<JobDescription>('describe', 'ledger');
    expect(runs).toHaveLength(12);
    const done = reportsOf([h0, h1]).filter((r) => r.event === 'done');
    // Complete: every finished run since the oldest kept is in the history, the killed node's too.
    const oldest = Math.min(...runs.map((r) => r.token));
    const kept = done
      .filter((r) => r.token! >= oldest)
      .map((r) => `${r.node} ${r.tick} ${r.token}`);
    expect(runs.map((r) => `${r.node} ${r.tick} ${r.token}`).sort()).toEqual(
      expect.arrayContaining(kept.sort()),
    );
    expect(runs.some((r) => r.node === owner.nodeId)).toBe(true);
    // The totals outlive the node: every finished run counted (one may have ended as it was killed).
    expect(totals.ok).toBeGreaterThanOrEqual(done.length - 1);
    expect(totals.ok).toBeLessThanOrEqual(done.length + 1);
  }, 60_000);
});

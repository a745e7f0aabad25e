import { afterEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HashRing } from '../../lib/node-pool/hash-ring.js';
import {
  killAllNodes,
  NodeProcess,
  type JobSpec,
  type NodeProcessConfig,
  type NodeReport,
} from '../support/node-process.js';
import { waitFor } from '../support/redis-harness.js';
import { startSteppedRedis, type SteppedRedis } from '../support/stepped-redis.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import {
  checkTicks,
  innerWindow,
  lateRuns,
  runSpans,
  tokenOrderViolations,
} from '../support/tick-checker.js';

const PERIOD = 1000;
/** The default starting deadline of a one-second job: half its period. */
const DEADLINE = 500;
const HEARTBEAT = { heartbeatInterval: 200, heartbeatTTL: 1000 };
const EVERY_SECOND = '* * * * * *';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Sleeps until `offset` ms past the next full second of the wall clock (which fires @Cron). */
const untilSecond = (offset: number) =>
  sleep(((offset - (Date.now() % 1000)) % 1000) + (offset > Date.now() % 1000 ? 0 : 1000));
const reportsOf = (nodes: NodeProcess[]): NodeReport[] => nodes.flatMap((n) => n.reports);
const runsAfter = (nodes: NodeProcess[], job: string, at: number) =>
  reportsOf(nodes).filter((r) => r.event === 'run' && r.job === job && r.at > at).length;
const warnings = (node: NodeProcess, text: string) =>
  node.reports.filter((r) => r.event === 'log' && r.message?.includes(text));

/**
 * The job guarantees under what breaks them in time and data: Redis's clock stepped while nodes
 * run, Redis restarted empty on a clock behind or restored from an older copy, settings changed
 * mid-deploy, a node frozen between a release and the start it grants, shutdown racing a claim, a
 * grant whose reply never arrives, and a link slow one way. Each test reads the ledger of runs.
 */
describe('job guarantees when clocks step, data is lost and links fail', () => {
  let redis: SteppedRedis;
  let proxy: TcpProxy | undefined;
  let namespace = 0;

  afterEach(async () => {
    await killAllNodes();
    await proxy?.close();
    proxy = undefined;
    await redis?.stop();
  });

  function starter(url: () => string, options: Partial<NodeProcessConfig['discovery']> = {}) {
    const keyPrefix = `time-${namespace++}`;
    return (nodeId: string, jobs: JobSpec[], extra: Partial<NodeProcessConfig> = {}) =>
      NodeProcess.start({
        discovery: { redis: url(), keyPrefix, nodeId, ...HEARTBEAT, ...options },
        jobs,
        ...extra,
      });
  }

  it("Redis's clock stepped 8 s forward, then 8 s back: no tick lost beyond the step, none run early, tokens in order", async () => {
    redis = await startSteppedRedis();
    const job: JobSpec = { name: 'windows', interval: PERIOD, durationMs: 20 };
    const start = starter(() => redis.url);
    const nodes = [
      await start('a', [job], { phaseMs: 100 }),
      await start('b', [job], { phaseMs: 450 }),
      await start('c', [job], { phaseMs: 800 }),
    ];
    const startedAt = Date.now();
    await waitFor(() => runsAfter(nodes, 'windows', startedAt) >= 3, { timeout: 6000 });
    const forwardAt = Date.now();
    redis.step(8000);
    await sleep(6000);
    const backAt = Date.now();
    redis.step(-8000);
    // 8 s of windows already ran before the step back: then new ones come again.
    await sleep(12_000);
    const stoppedAt = Date.now();
    for (const node of nodes) expect(await node.terminate()).toBe(0);

    // Redis time of a moment of the wall clock (the nodes and Redis share the host's clock).
    const offsetAt = (at: number) => (at >= forwardAt && at < backAt ? 8000 : 0);
    const reports = reportsOf(nodes);
    const [from, to] = innerWindow(startedAt, stoppedAt + offsetAt(stoppedAt), PERIOD);
    const ledger = checkTicks(reports, 'windows', PERIOD, from, to);
    expect(ledger.doubled).toEqual([]);
    // The windows the forward step jumped over never happened; one window on each side of each
    // step may be lost to the step itself. Every other window ran.
    const stepWindow = (tick: number) =>
      (tick >= forwardAt - 2 * PERIOD && tick <= forwardAt + 8000 + PERIOD) ||
      (tick >= backAt + 8000 - 2 * PERIOD && tick <= backAt + 8000 + PERIOD);
    expect(ledger.missed.filter((tick) => !stepWindow(tick))).toEqual([]);
    const runs = runSpans(reports, 'windows');
    // None ran early: each started (in Redis time) after its window began, give or take the
    // window tolerance (100 ms); runs within 300 ms of a step cannot be placed and are left out.
    const nearStep = (at: number) => Math.abs(at - forwardAt) < 300 || Math.abs(at - backAt) < 300;
    const early = runs.filter(
      (run) => !nearStep(run.start) && run.start + offsetAt(run.start) < run.tick - 100,
    );
    expect(early.map((run) => `${run.node} ran ${run.tick} at ${run.start}`)).toEqual([]);
    expect(tokenOrderViolations(runs)).toEqual([]);
    for (const node of nodes) {
      expect(warnings(node, 'Redis server time stepped').length).toBeGreaterThanOrEqual(2);
      expect(node.problems()).toEqual([]);
    }
  }, 90_000);

  it('Redis restored from an older copy, with catchupWindow: no tick runs twice, tokens never go below one granted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'restore-'));
    redis = await startSteppedRedis(['--enable-debug-command', 'yes', '--dir', dir]);
    const admin = new Redis(redis.url);
    try {
      const job: JobSpec = {
        name: 'catching',
        interval: PERIOD,
        durationMs: 20,
        catchupWindow: 5000,
        catchup: 'all',
      };
      const start = starter(() => redis.url);
      const nodes = [await start('a', [job], { phaseMs: 200 }), await start('b', [job])];
      const startedAt = Date.now();
      await waitFor(() => runsAfter(nodes, 'catching', startedAt) >= 3, { timeout: 6000 });
      await admin.call('SAVE'); // the older copy
      await sleep(4000);
      const tokenBefore = Math.max(...runSpans(reportsOf(nodes), 'catching').map((r) => r.token));
      const restoredAt = Date.now();
      // The last 4 s of records are gone, as after a failover to a replica that lagged.
      await admin.call('DEBUG', 'RELOAD', 'NOSAVE');
      // A node that starts now knows nothing of the job: it must not catch up the lost ticks.
      nodes.push(await start('fresh', [job], { phaseMs: 600 }));
      await sleep(5000);
      for (const node of nodes) expect(await node.terminate()).toBe(0);

      const reports = reportsOf(nodes);
      const runs = runSpans(reports, 'catching');
      const ledger = checkTicks(reports, 'catching', PERIOD, startedAt, Date.now());
      expect(ledger.doubled).toEqual([]);
      const after = runs.filter((run) => run.start > restoredAt + 50);
      expect(after.length).toBeGreaterThan(3);
      expect(after.filter((run) => run.token <= tokenBefore)).toEqual([]);
      expect(tokenOrderViolations(runs)).toEqual([]);
      for (const node of nodes) expect(node.problems()).toEqual([]);
    } finally {
      admin.disconnect();
    }
  }, 60_000);

  it('Redis restarted empty on a clock 10 s behind: tokens stay above every token granted before', async () => {
    redis = await startSteppedRedis();
    const job: JobSpec = { name: 'fenced', interval: PERIOD, durationMs: 20 };
    const start = starter(() => redis.url);
    const nodes = [await start('a', [job], { phaseMs: 300 }), await start('b', [job])];
    const startedAt = Date.now();
    await waitFor(() => runsAfter(nodes, 'fenced', startedAt) >= 4, { timeout: 8000 });
    // A failover to a replica that has nothing of the job and whose clock is 10 s behind.
    redis.step(-10_000);
    await redis.server.restart();
    const restartedAt = Date.now();
    await waitFor(() => runsAfter(nodes, 'fenced', restartedAt + 500) >= 4, {
      timeout: 15_000,
      message: 'no runs after the restart',
    });
    for (const node of nodes) expect(await node.terminate()).toBe(0);
    const runs = runSpans(reportsOf(nodes), 'fenced');
    // In the order they started, tokens only grow: the floor each node sends holds them up.
    expect(tokenOrderViolations(runs)).toEqual([]);
    const before = runs.filter((run) => run.start < restartedAt);
    const after = runs.filter((run) => run.start > restartedAt + 200);
    expect(Math.min(...after.map((r) => r.token))).toBeGreaterThan(
      Math.max(...before.map((r) => r.token)),
    );
  }, 60_000);

  it('a rolling change of startingDeadline over 3 nodes: no tick doubled or missed, the difference logged', async () => {
    redis = await startSteppedRedis();
    const start = starter(() => redis.url);
    const job = (startingDeadline: number): JobSpec => ({
      name: 'rolled',
      interval: PERIOD,
      durationMs: 20,
      startingDeadline,
    });
    const old = [
      await start('old-0', [job(300)], { phaseMs: 100 }),
      await start('old-1', [job(300)], { phaseMs: 500 }),
      await start('old-2', [job(300)], { phaseMs: 900 }),
    ];
    const everyNode = [...old];
    const startedAt = Date.now();
    await waitFor(() => runsAfter(everyNode, 'rolled', startedAt) >= 2, { timeout: 6000 });
    for (let i = 0; i < old.length; i++) {
      everyNode.push(await start(`new-${i}`, [job(900)], { phaseMs: 300 + i * 200 }));
      await sleep(1500);
      expect(await old[i].terminate()).toBe(0);
      await sleep(1500);
    }
    const stoppedAt = Date.now();
    for (const node of everyNode) await node.terminate();
    const reports = reportsOf(everyNode);
    const [from, to] = innerWindow(startedAt, stoppedAt, PERIOD);
    const ledger = checkTicks(reports, 'rolled', PERIOD, from, to);
    expect({ doubled: ledger.doubled, missed: ledger.missed }).toEqual({ doubled: [], missed: [] });
    expect(tokenOrderViolations(runSpans(reports, 'rolled'))).toEqual([]);
    expect(old.some((node) => warnings(node, 'keeps tick records longer').length > 0)).toBe(true);
  }, 60_000);

  it('bufferOne: a node frozen between the release and the start it grants does not start the waiting tick', async () => {
    redis = await startSteppedRedis();
    proxy = await TcpProxy.start(redis.server.port);
    proxy.downMs = 400; // the release's reply is on its way for 400 ms: the freeze falls inside
    const job: JobSpec = {
      name: 'buffer',
      interval: PERIOD,
      overlap: 'bufferOne',
      durationMs: 1500,
    };
    const node = await starter(() => `redis://127.0.0.1:${proxy!.port}`, {
      heartbeatTTL: 1200,
    })('x', [job]);
    const first = (await waitFor(() => node.runs('buffer')[0], { timeout: 8000 }))!;
    // The run ends 1500 ms after it started, and its release goes out then.
    await sleep(Math.max(0, first.at + 1500 + 150 - Date.now()));
    node.signal('SIGSTOP');
    await sleep(2500); // past the lease
    node.signal('SIGCONT');
    const resumedAt = Date.now();
    await waitFor(() => warnings(node, 'given back').length > 0, {
      timeout: 5000,
      message: 'the waiting tick was neither started nor given back',
    });
    await sleep(1000);
    await node.terminate();
    // No run started without the lease, and the tick that waited through the freeze never ran.
    expect(node.runs('buffer').filter((run) => run.leaseValid === false)).toEqual([]);
    const waited = node
      .runs('buffer')
      .filter((run) => (run.tick ?? 0) > first.tick! && (run.tick ?? 0) < resumedAt - PERIOD);
    expect(waited).toEqual([]);
    expect(warnings(node, '(noLease); given back')).toHaveLength(1);
  }, 40_000);

  /** Two nodes on a cron job; `x` (the ring's owner) reaches Redis through a proxy. */
  async function ownerBehindProxy(jobName: string, options = HEARTBEAT) {
    redis = await startSteppedRedis();
    proxy = await TcpProxy.start(redis.server.port);
    const ids = ['x', 'y'];
    // Pick names so that `x` owns the job.
    const [owner, other] = new HashRing(ids, 50).owner(jobName) === 'x' ? ids : [...ids].reverse();
    const keyPrefix = `time-${namespace++}`;
    const job: JobSpec = { name: jobName, cron: EVERY_SECOND, durationMs: 20 };
    const config = (nodeId: string, url: string): NodeProcessConfig => ({
      discovery: { redis: url, keyPrefix, nodeId, ...options },
      jobs: [job],
    });
    const x = await NodeProcess.start(config(owner, `redis://127.0.0.1:${proxy.port}`));
    const y = await NodeProcess.start(config(other, redis.url));
    await waitFor(() => x.runs(jobName).length >= 2, {
      timeout: 8000,
      message: 'the owner never ran the job',
    });
    return { x, y };
  }

  it('shutdown racing a claim: nothing runs on the node after its close began; the tick runs once elsewhere', async () => {
    const { x, y } = await ownerBehindProxy('drained');
    proxy!.downMs = 300; // the owner's claim is granted at once, its reply comes 300 ms later
    // Past the second whose claim may have gone out before the delay, then into the next one.
    await untilSecond(500);
    await untilSecond(100);
    const tick = Math.floor(Date.now() / 1000) * 1000;
    x.signal('SIGTERM'); // while the claim of `tick` is on its way back
    await x.exited;
    await waitFor(() => y.runs('drained').some((run) => run.tick === tick), {
      timeout: 3000,
      message: 'the tick the closing owner was granted never ran on the peer',
    });
    await y.terminate();
    const closing = x.reports.find((r) => r.event === 'closing')!;
    expect(x.runs('drained').filter((run) => run.at >= closing.at)).toEqual([]);
    const runs = [...x.runs('drained'), ...y.runs('drained')].filter((run) => run.tick === tick);
    expect(runs.map((run) => run.node)).toEqual([y.nodeId]);
    expect(runs[0].at - tick).toBeLessThan(DEADLINE + 50);
  }, 40_000);

  it('a grant whose reply never reaches its node: a peer takes the tick over and runs it once, within its deadline', async () => {
    const { x, y } = await ownerBehindProxy('lost');
    await untilSecond(800);
    proxy!.dropReplies = true; // the next claim reaches Redis; its reply is lost on the way
    const tick = Math.ceil(Date.now() / 1000) * 1000;
    await sleep(tick + 1500 - Date.now());
    proxy!.cutConnections(); // the node notices, and reconnects
    proxy!.dropReplies = false;
    proxy!.restore();
    await waitFor(() => x.runs('lost').some((run) => run.tick! > tick + 2000), {
      timeout: 10_000,
      message: 'the owner never ran the job again',
    });
    for (const node of [x, y]) await node.terminate();
    const runs = [...x.runs('lost'), ...y.runs('lost')].filter((run) => run.tick === tick);
    expect(runs.map((run) => run.node)).toEqual([y.nodeId]);
    expect(runs[0].at - tick).toBeLessThan(DEADLINE + 50);
    const ledger = checkTicks(reportsOf([x, y]), 'lost', PERIOD, tick - 3000, tick + 2000);
    expect(ledger.doubled).toEqual([]);
  }, 40_000);

  it('a link slow one way (850 ms back): no run starts after its deadline; the ticks run elsewhere', async () => {
    const { x, y } = await ownerBehindProxy('slow', { heartbeatInterval: 500, heartbeatTTL: 3000 });
    proxy!.downMs = 850;
    const slowFrom = Date.now();
    await sleep(8000);
    proxy!.downMs = 0;
    const slowTo = Date.now();
    await sleep(2000);
    for (const node of [x, y]) await node.terminate();
    const reports = reportsOf([x, y]);
    const runs = runSpans(reports, 'slow');
    expect(lateRuns(runs, (tick) => tick + DEADLINE)).toEqual([]);
    const ledger = checkTicks(reports, 'slow', PERIOD, slowFrom + 2000, slowTo);
    expect({ doubled: ledger.doubled, missed: ledger.missed }).toEqual({ doubled: [], missed: [] });
  }, 40_000);
});

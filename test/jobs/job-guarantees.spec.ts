import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { HashRing } from '../../lib/node-pool/hash-ring.js';
import {
  killAllNodes,
  NodeProcess,
  type JobSpec,
  type NodeProcessConfig,
  type NodeReport,
} from '../support/node-process.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import {
  checkTicks,
  innerWindow,
  lateRuns,
  runSpans,
  tokenOrderViolations,
  type RunSpan,
} from '../support/tick-checker.js';

const EVERY_SECOND = '* * * * * *';
const PERIOD = 1000;
/** The default starting deadline of a one-second job: half its period. */
const DEADLINE = 500;
const HEARTBEAT = { heartbeatInterval: 200, heartbeatTTL: 1000 };

/**
 * The job guarantees the way they break: node processes whose timers are out of phase, owners
 * stopped and crashed, Redis unreachable, a node frozen past its lease, jobs slower than their
 * period. Each test checks the ledger of every run: which tick, when it started, with which token.
 */
describe('job guarantees across processes', () => {
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

  function starter(options: Partial<NodeProcessConfig['discovery']> = {}, url = () => redis.url) {
    const keyPrefix = `guarantees-${namespace++}`;
    return (nodeId: string, jobs: JobSpec[], extra: Partial<NodeProcessConfig> = {}) =>
      NodeProcess.start({
        discovery: { redis: url(), keyPrefix, nodeId, ...HEARTBEAT, ...options },
        jobs,
        ...extra,
      });
  }
  const reportsOf = (nodes: NodeProcess[]): NodeReport[] => nodes.flatMap((n) => n.reports);
  const runsAfter = (nodes: NodeProcess[], job: string, at: number) =>
    reportsOf(nodes).filter((r) => r.event === 'run' && r.job === job && r.at > at).length;

  it('@Interval(1000) on 3 nodes with timers out of phase: 10 owner handovers (stop and crash) miss and double no tick', async () => {
    const job: JobSpec = { name: 'phased', interval: PERIOD, durationMs: 100 };
    const start = starter();
    // Timer phases in the period, alternating early (inside one failover grace, 125 ms) and late.
    const phases = [900, 40, 600, 80, 700, 20, 500, 110, 800, 60, 300, 90, 650];
    const phaseOf = new Map<string, number>();
    const startNode = async (id: string) => {
      const phaseMs = phases[phaseOf.size];
      phaseOf.set(id, phaseMs);
      return start(id, [job], { phaseMs });
    };
    const ownerOf = (ids: string[]) => new HashRing(ids, 50).owner('phased')!;
    const live = [await startNode('p0'), await startNode('p1'), await startNode('p2')];
    const everyNode = [...live];
    const startedAt = Date.now();
    await waitFor(() => runsAfter(everyNode, 'phased', startedAt) >= 2, { timeout: 5000 });

    for (let i = 0; i < 10; i++) {
      const ids = live.map((n) => n.nodeId);
      const ownerId = ownerOf(ids);
      const nextId = ownerOf(ids.filter((id) => id !== ownerId));
      const [own, next] = [phaseOf.get(ownerId)!, phaseOf.get(nextId)!];
      // Hand over mid-period: after the next owner's timer fired in this window (it then waited as
      // a non-owner) and before the owner's would have, so that window's tick is still open when
      // the new owner's timer fires for the next one.
      const offset = next < own ? (next + own) / 2 : ((own + next + PERIOD) / 2) % PERIOD;
      await new Promise((resolve) =>
        setTimeout(resolve, (offset - (Date.now() % PERIOD) + PERIOD) % PERIOD),
      );
      const owner = live.splice(ids.indexOf(ownerId), 1)[0];
      const handoverAt = Date.now();
      if (i % 2 === 0) expect(await owner.terminate()).toBe(0);
      else await owner.kill();
      await waitFor(() => runsAfter(live, 'phased', handoverAt) >= 2, {
        timeout: 6000,
        message: `no run after handover ${i + 1}`,
      });
      const replacement = await startNode(`p${i + 3}`);
      live.push(replacement);
      everyNode.push(replacement);
    }
    const lastAt = Date.now();
    await waitFor(() => runsAfter(everyNode, 'phased', lastAt) >= 2, { timeout: 5000 });
    const stoppedAt = Date.now();

    const reports = reportsOf(everyNode);
    const [from, to] = innerWindow(startedAt, stoppedAt, PERIOD);
    const ledger = checkTicks(reports, 'phased', PERIOD, from, to);
    expect({ doubled: ledger.doubled, missed: ledger.missed }).toEqual({ doubled: [], missed: [] });
    expect(ledger.expected).toBeGreaterThan(20);
    const runs = runSpans(reports, 'phased');
    // An interval tick is due at the end of its window; it starts by then + the deadline.
    expect(lateRuns(runs, (tick) => tick + PERIOD + DEADLINE)).toEqual([]);
    expect(tokenOrderViolations(runs)).toEqual([]);
    // The ring spread the ownership: more than three nodes ran the job over the handovers.
    expect(Object.keys(ledger.byNode).length).toBeGreaterThan(3);
    for (const node of everyNode) expect(node.problems()).toEqual([]);
  }, 120_000);

  describe('a 3 s registry outage', () => {
    const jobs: JobSpec[] = [
      { name: 'cron', cron: EVERY_SECOND, durationMs: 50 },
      { name: 'interval', interval: PERIOD, durationMs: 50 },
    ];
    // A TTL longer than the outage: leases hold, so every claim sent during it is kept and reaches
    // Redis late. (An outage past the TTL is a fault-suite scenario.)
    const options = { heartbeatTTL: 5000 };

    function expectLedger(
      nodes: NodeProcess[],
      startedAt: number,
      stoppedAt: number,
      outage: [number, number],
    ) {
      const reports = reportsOf(nodes);
      for (const job of jobs) {
        const [from, to] = innerWindow(startedAt, stoppedAt, PERIOD);
        const ledger = checkTicks(reports, job.name, PERIOD, from, to);
        expect({ job: job.name, doubled: ledger.doubled }).toEqual({ job: job.name, doubled: [] });
        // Outside the outage (and the tick due as it began) every tick ran.
        const missedOutside = ledger.missed.filter(
          (tick) => tick < outage[0] - 2 * PERIOD || tick > outage[1] + PERIOD,
        );
        expect({ job: job.name, missedOutside }).toEqual({ job: job.name, missedOutside: [] });
        const runs = runSpans(reports, job.name);
        const due = job.interval ? PERIOD : 0;
        expect(lateRuns(runs, (tick) => tick + due + DEADLINE)).toEqual([]);
        expect(tokenOrderViolations(runs)).toEqual([]);
      }
    }

    it('Redis paused: claims queued meanwhile reach it late and are refused; no tick starts after its deadline', async () => {
      const start = starter(options);
      const nodes = [
        await start('a', jobs, { phaseMs: 150 }),
        await start('b', jobs, { phaseMs: 500 }),
        await start('c', jobs, { phaseMs: 850 }),
      ];
      const startedAt = Date.now();
      await waitFor(() => runsAfter(nodes, 'interval', startedAt) >= 3, { timeout: 6000 });
      const pausedAt = Date.now();
      redis.pause();
      await new Promise((resolve) => setTimeout(resolve, 3000)); // the outage itself
      redis.resume();
      const resumedAt = Date.now();
      await waitFor(
        () =>
          runsAfter(nodes, 'cron', resumedAt) >= 3 && runsAfter(nodes, 'interval', resumedAt) >= 3,
        { timeout: 6000, message: 'jobs did not resume after the outage' },
      );
      for (const node of nodes) expect(await node.terminate()).toBe(0);
      expectLedger(nodes, startedAt, Date.now(), [pausedAt, resumedAt]);

      // The outage ticks were refused by their deadline, and counted as such.
      const stopped = nodes.flatMap((n) => n.reports.filter((r) => r.event === 'stopped'));
      const deadlineSkips = stopped
        .flatMap((r) => r.jobs!)
        .reduce((n, j) => n + j.skipped.deadline, 0);
      expect(deadlineSkips).toBeGreaterThan(0);
      for (const node of nodes) expect(node.problems()).toEqual([]);
    }, 60_000);

    it('connections cut: nothing from an offline queue starts a tick past its deadline', async () => {
      const proxy = await TcpProxy.start(redis.port);
      try {
        const start = starter(options, () => `redis://127.0.0.1:${proxy.port}`);
        const nodes = [
          await start('a', jobs, { phaseMs: 150 }),
          await start('b', jobs, { phaseMs: 500 }),
          await start('c', jobs, { phaseMs: 850 }),
        ];
        const startedAt = Date.now();
        await waitFor(() => runsAfter(nodes, 'interval', startedAt) >= 3, { timeout: 6000 });
        const cutAt = Date.now();
        proxy.cutConnections();
        await new Promise((resolve) => setTimeout(resolve, 3000)); // the outage itself
        proxy.restore();
        const restoredAt = Date.now();
        await waitFor(
          () =>
            runsAfter(nodes, 'cron', restoredAt) >= 3 &&
            runsAfter(nodes, 'interval', restoredAt) >= 3,
          { timeout: 8000, message: 'jobs did not resume after the outage' },
        );
        for (const node of nodes) expect(await node.terminate()).toBe(0);
        expectLedger(nodes, startedAt, Date.now(), [cutAt, restoredAt]);
      } finally {
        await proxy.close();
      }
    }, 60_000);
  });

  it('a node frozen (SIGSTOP) mid-job past its TTL sees its lease invalid and its signal aborted at the first statement after it resumes', async () => {
    const start = starter();
    const job: JobSpec = { name: 'steps', cron: EVERY_SECOND, durationMs: 2500, stepMs: 50 };
    const nodes = [await start('x', [job]), await start('y', [job])];
    const startedAt = Date.now();
    // Freeze the node that runs the job, while one of its runs is under way.
    const inFlight = (await waitFor(
      () => {
        const run = reportsOf(nodes).find(
          (r) =>
            r.event === 'run' &&
            Date.now() - r.at > 200 &&
            !reportsOf(nodes).some(
              (e) => (e.event === 'done' || e.event === 'aborted') && e.token === r.token,
            ),
        );
        return run;
      },
      { timeout: 10_000, interval: 10 },
    ))!;
    const sleeper = nodes.find((n) => n.nodeId === inFlight.node)!;
    const other = nodes.find((n) => n !== sleeper)!;
    sleeper.signal('SIGSTOP');
    const frozenAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3000)); // frozen for 3 x TTL
    sleeper.signal('SIGCONT');

    const resumed = (await waitFor(
      () => sleeper.reports.find((r) => r.event === 'resumed' && r.token === inFlight.token),
      { timeout: 5000, message: 'the frozen run never resumed' },
    ))!;
    // The job's own timer was overdue and ran first (via 'timer'), before any timer of the lease:
    // its very next statement already read the signal as aborted.
    expect(resumed).toMatchObject({ aborted: true, leaseValid: false });
    const aborted = sleeper.reports.find(
      (r) => r.event === 'aborted' && r.token === inFlight.token,
    );
    expect(aborted).toMatchObject({ leaseValid: false, reason: 'LeaseLostError' });
    expect(sleeper.reports.filter((r) => r.event === 'done' && r.token === inFlight.token)).toEqual(
      [],
    );
    const resumedAt = Date.now();
    await waitFor(() => runsAfter([other, sleeper], 'steps', resumedAt) >= 2, { timeout: 5000 });

    // Meanwhile the other node ran every tick, each once.
    const reports = reportsOf([sleeper, other]);
    const [from, to] = innerWindow(startedAt, Date.now(), PERIOD);
    const ledger = checkTicks(reports, 'steps', PERIOD, from, to);
    expect({ doubled: ledger.doubled, missed: ledger.missed }).toEqual({ doubled: [], missed: [] });
    expect(runsAfter([other], 'steps', frozenAt)).toBeGreaterThanOrEqual(3);
    expect(tokenOrderViolations(runSpans(reports, 'steps'))).toEqual([]);
  }, 60_000);

  describe('overlap policies, a job slower than its period (2.5 s runs, one tick a second)', () => {
    const slow = (name: string, overlap: JobSpec['overlap']): JobSpec => ({
      name,
      cron: EVERY_SECOND,
      durationMs: 2500,
      stepMs: 50,
      overlap,
    });
    const jobs = [
      slow('allow', 'allow'),
      slow('skip', 'skip'),
      slow('buffer', 'bufferOne'),
      slow('cancel', 'cancelOther'),
    ];
    let nodes: NodeProcess[];
    let killed: { node: string; at: number };
    let startedAt: number;
    let stoppedAt: number;
    let reports: NodeReport[];

    /** Runs of `job`, a run of the killed node ending when it was killed. */
    const spans = (job: string): RunSpan[] =>
      runSpans(reports, job).map((run) =>
        run.end === undefined && run.node === killed.node ? { ...run, end: killed.at } : run,
      );
    /** Pairs of runs of `job` that ran at the same time (10 ms of slack for report latency). */
    const overlapping = (runs: RunSpan[]) =>
      runs.slice(1).filter((run, i) => run.start < (runs[i].end ?? Infinity) - 10);

    beforeAll(async () => {
      const start = starter();
      nodes = [await start('x', jobs), await start('y', jobs), await start('z', jobs)];
      startedAt = Date.now();
      await waitFor(() => runsAfter(nodes, 'buffer', startedAt) >= 3, { timeout: 15_000 });
      // Crash the node running the buffered job mid-run: its marker lapses with its lease and
      // another node takes the job on.
      const victim = nodes.find(
        (n) => n.runs('buffer').length > 0 && n.nodeId === n.runs('buffer').at(-1)!.node,
      )!;
      const owner = reportsOf(nodes)
        .filter((r) => r.event === 'run' && r.job === 'buffer')
        .at(-1)!.node;
      const target = nodes.find((n) => n.nodeId === owner) ?? victim;
      killed = { node: target.nodeId, at: Date.now() };
      await target.kill();
      const survivors = nodes.filter((n) => n !== target);
      await waitFor(() => runsAfter(survivors, 'buffer', killed.at) >= 3, { timeout: 15_000 });
      stoppedAt = Date.now();
      for (const node of survivors) expect(await node.terminate()).toBe(0);
      reports = reportsOf(nodes);
    }, 60_000);

    it('allow: every tick runs once, runs overlap', () => {
      const [from, to] = innerWindow(startedAt, killed.at, PERIOD);
      const ledger = checkTicks(reports, 'allow', PERIOD, from, to);
      expect({ doubled: ledger.doubled, missed: ledger.missed }).toEqual({
        doubled: [],
        missed: [],
      });
      expect(overlapping(spans('allow')).length).toBeGreaterThan(0);
    });

    it('skip: runs never overlap, ticks that come meanwhile are skipped, each run starts in time', () => {
      const runs = spans('skip');
      expect(overlapping(runs)).toEqual([]);
      expect(runs.length).toBeGreaterThanOrEqual(3);
      const ledger = checkTicks(reports, 'skip', PERIOD, startedAt, stoppedAt - 2 * PERIOD);
      expect(ledger.doubled).toEqual([]);
      expect(ledger.missed.length).toBeGreaterThan(ledger.ran); // most ticks came mid-run
      expect(lateRuns(runs, (tick) => tick + DEADLINE)).toEqual([]);
    });

    it('bufferOne: runs never overlap; a tick that waited starts as the run before it ends', () => {
      const runs = spans('buffer');
      expect(overlapping(runs)).toEqual([]);
      const waited = runs.slice(1).filter((run, i) => run.tick < (runs[i].end ?? Infinity));
      expect(waited.length).toBeGreaterThanOrEqual(2);
      for (const run of waited) {
        const before = runs[runs.indexOf(run) - 1];
        const gap = run.start - before.end!;
        // Right after a finished run; after a crashed one, once its marker lapsed (TTL).
        expect(gap).toBeLessThanOrEqual(before.node === killed.node ? 1000 + PERIOD + 100 : 100);
      }
      expect(checkTicks(reports, 'buffer', PERIOD, startedAt, stoppedAt).doubled).toEqual([]);
      expect(new Set(runs.map((r) => r.node)).size).toBeGreaterThan(1); // handed over on the crash
    });

    it('cancelOther: every tick starts, and the run it replaces is aborted within one heartbeat', () => {
      const runs = spans('cancel');
      const [from, to] = innerWindow(startedAt, killed.at, PERIOD);
      const ledger = checkTicks(reports, 'cancel', PERIOD, from, to);
      expect({ doubled: ledger.doubled, missed: ledger.missed }).toEqual({
        doubled: [],
        missed: [],
      });
      for (let i = 0; i + 1 < runs.length; i++) {
        const [run, next] = [runs[i], runs[i + 1]];
        if (run.node === killed.node || next.start > stoppedAt - PERIOD) continue;
        expect({ tick: run.tick, reason: run.aborted?.reason }).toEqual({
          tick: run.tick,
          reason: 'RunCancelledError',
        });
        // Same node: at once (one 50 ms step); another node: at its next marker renewal.
        expect(run.end! - next.start).toBeLessThanOrEqual(
          run.node === next.node ? 50 + 50 : HEARTBEAT.heartbeatInterval + 50 + 100,
        );
      }
      expect(tokenOrderViolations(runs)).toEqual([]);
    });

    it('logs no error on any node, and each node counted its overlap skips', () => {
      for (const node of nodes) expect(node.problems()).toEqual([]);
      const stopped = reports.filter((r) => r.event === 'stopped').flatMap((r) => r.jobs!);
      const skips = stopped
        .filter((j) => j.name === 'skip')
        .reduce((n, j) => n + j.skipped.overlap, 0);
      expect(skips).toBeGreaterThan(0);
    });
  });
});

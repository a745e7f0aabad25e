import { Redis } from 'ioredis';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HashRing } from '../../lib/node-pool/hash-ring.js';
import { NodeProcess, type JobSpec, type NodeReport } from '../support/node-process.js';
import type { RedisHandle } from '../support/redis-harness.js';
import { startSteppedRedis, type SteppedRedis } from '../support/stepped-redis.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import {
  checkTicks,
  lateRuns,
  runSpans,
  tokenOrderViolations,
  type RunSpan,
} from '../support/tick-checker.js';

export const HEARTBEAT = 200;
export const TTL = 1000;
const PERIOD = 1000;

export interface FaultContext {
  redis: RedisHandle;
  admin: Redis;
  nodes: NodeProcess[];
  proxy: TcpProxy | undefined;
  /** Starts a node (with the scenario's jobs), at the next timer phase of the scenario's list. */
  startNode(nodeId: string): Promise<NodeProcess>;
  sleep(ms: number): Promise<void>;
  /** The node that owns `job` on the ring of the given live nodes. */
  ownerOf(job: string, live: NodeProcess[]): NodeProcess;
  /** Steps Redis's clock by `ms` (scenarios with `ownRedis` only). */
  stepClock(ms: number): void;
}

/** A job of a scenario; `everyTick: false` when its overlap policy skips ticks on purpose. */
export type ScenarioJob = JobSpec & { everyTick?: boolean };

export interface Scenario {
  name: string;
  nodes: number;
  /** Its jobs; default: `jobs` one-second cron jobs of 200 ms, checking their signal every 50 ms. */
  jobs?: ScenarioJob[];
  /** With `jobs` unset, how many default jobs. */
  jobCount?: number;
  /** Timer phases (ms of the period) given to the nodes in the order they start, cycling. */
  phases?: number[];
  heartbeatTTL?: number;
  /** How long the cluster runs in all, fault included (ms). */
  durationMs: number;
  /** The last node reaches Redis through a proxy that can add latency or cut it. */
  viaProxy?: boolean;
  clockShiftMs?: number;
  /** Runs the fault; resolves when the fault is over. */
  fault(context: FaultContext): Promise<void>;
  /** Ticks of [fault start, fault end + recoveryMs] may be missed: Redis itself was unavailable. */
  recoveryMs?: number;
  /**
   * Runs on a Redis of its own, whose clock the fault can step, with DEBUG on (SAVE, DEBUG RELOAD)
   * and a dump directory.
   */
  ownRedis?: boolean;
  /** Redis lost data in this fault (no tick twice still, and a job's tokens never go backwards). */
  dataLoss?: boolean;
  /** Its jobs catch up missed ticks: some catch-up run must be seen. */
  expectsCatchup?: boolean;
}

export interface ScenarioResult {
  name: string;
  ticks: number;
  doubled: number;
  missed: number;
  /** Missed inside the documented recovery window (allowed). */
  missedInRecovery: number;
  /** Runs that started after their tick's starting deadline (catch-up runs excepted). */
  late: number;
  /** Catch-up runs of missed ticks (`catchupWindow`). */
  catchups: number;
  /** Fencing problems: a token given twice or out of the order the claims were granted. */
  tokenRegressions: number;
  /** Runs of `skip` / `bufferOne` jobs that overlapped another run of their job. */
  overlaps: number;
  /** A run that acted on after its process resumed from a freeze past its lease. */
  staleActs: number;
  /** Largest delay from a tick's due time to its run starting, ms (failover included). */
  maxStartDelayMs: number;
  /** Error-level logs, unhandled rejections and crashes outside the fault window. */
  problems: NodeReport[];
  /** Live nodes whose view did not equal the truth one heartbeat after the fault (and recovery). */
  divergentViews: string[];
}

function defaultJobs(count: number): ScenarioJob[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `job-${i}`,
    cron: '* * * * * *',
    durationMs: 200,
    stepMs: 50,
  }));
}

/** When a tick of `job` is due, and the latest it may start. */
function timing(job: ScenarioJob): { due: (tick: number) => number; deadline: number } {
  const period = job.interval ?? PERIOD;
  const due = job.interval ? (tick: number) => tick + period : (tick: number) => tick;
  return { due, deadline: job.startingDeadline ?? Math.min(period / 2, 10_000) };
}

/** Runs one fault scenario against real node processes and checks the suite's invariants. */
export async function runScenario(
  scenario: Scenario,
  shared: RedisHandle,
  keyPrefix: string,
): Promise<ScenarioResult> {
  let own: SteppedRedis | undefined;
  if (scenario.ownRedis) {
    const dir = mkdtempSync(join(tmpdir(), 'fault-redis-'));
    own = await startSteppedRedis(['--enable-debug-command', 'yes', '--dir', dir]);
  }
  const redis: RedisHandle = own
    ? { ...own.server, keyPrefix: shared.keyPrefix, source: 'spawned' }
    : shared;
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  const proxy = scenario.viaProxy ? await TcpProxy.start(redis.port) : undefined;
  const jobs = scenario.jobs ?? defaultJobs(scenario.jobCount ?? 3);
  const ttl = scenario.heartbeatTTL ?? TTL;
  const everyNode: NodeProcess[] = [];
  const stopped = new Set<NodeProcess>();
  const startNode = async (nodeId: string, throughProxy = false, clockShiftMs?: number) => {
    const port = throughProxy && proxy ? proxy.port : redis.port;
    const phases = scenario.phases;
    const node = await NodeProcess.start({
      discovery: {
        redis: `redis://127.0.0.1:${port}`,
        keyPrefix,
        nodeId,
        heartbeatInterval: HEARTBEAT,
        heartbeatTTL: ttl,
      },
      jobs,
      reportViewMs: 100,
      clockShiftMs,
      phaseMs: phases ? phases[everyNode.length % phases.length] : undefined,
    });
    everyNode.push(node);
    void node.exited.then(() => stopped.add(node));
    return node;
  };
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const ownerOf = (job: string, live: NodeProcess[]) => {
    const id = new HashRing(
      live.map((n) => n.nodeId),
      50,
    ).owner(job);
    return live.find((n) => n.nodeId === id)!;
  };

  try {
    const nodes: NodeProcess[] = [];
    for (let i = 0; i < scenario.nodes; i++) {
      const last = i === scenario.nodes - 1;
      nodes.push(
        await startNode(
          `n${i}`,
          last && scenario.viaProxy,
          last ? scenario.clockShiftMs : undefined,
        ),
      );
    }
    const startedAt = Date.now();
    const lead = Math.floor(scenario.durationMs / 3);
    await sleep(lead);
    const faultStart = Date.now();
    await scenario.fault({
      redis,
      admin,
      nodes,
      proxy,
      startNode: (id) => startNode(id),
      sleep,
      ownerOf,
      stepClock(ms) {
        if (!own) throw new Error(`${scenario.name}: stepClock needs ownRedis`);
        own.step(ms);
      },
    });
    const faultEnd = Date.now();
    // Run on long enough after the fault to see the views settle and the ticks resume.
    const settleTime = (scenario.recoveryMs ?? 0) + ttl + HEARTBEAT + 2 * PERIOD + 500;
    await sleep(Math.max(settleTime, scenario.durationMs - (faultEnd - startedAt)));
    const stoppedAt = Date.now();

    const reports = everyNode.flatMap((n) => n.reports);
    const killedAt = new Map(
      [...stopped].map((n) => [n.nodeId, n.reports.at(-1)?.at ?? stoppedAt] as const),
    );
    const recoveryEnd = faultEnd + (scenario.recoveryMs ?? 0);
    const from = startedAt + 2 * PERIOD;
    const to = stoppedAt - 2 * PERIOD;
    const result = {
      ticks: 0,
      doubled: 0,
      missed: 0,
      missedInRecovery: 0,
      late: 0,
      catchups: 0,
      tokenRegressions: 0,
      overlaps: 0,
      maxStartDelayMs: 0,
    };
    for (const job of jobs) {
      const period = job.interval ?? PERIOD;
      const report = checkTicks(reports, job.name, period, from, to);
      result.ticks += report.expected;
      result.doubled += report.doubled.length;
      if (job.everyTick !== false) {
        for (const tick of report.missed) {
          if (
            scenario.recoveryMs !== undefined &&
            tick >= faultStart - 2 * period &&
            tick <= recoveryEnd
          )
            result.missedInRecovery += 1;
          else result.missed += 1;
        }
      }
      const catchups = new Set(
        reports
          .filter((r) => r.event === 'run' && r.job === job.name && r.catchup)
          .map((r) => r.token),
      );
      result.catchups += catchups.size;
      const runs = runSpans(reports, job.name);
      const { due, deadline } = timing(job);
      const inTime = runs.filter((run) => !catchups.has(run.token));
      // A tick that waited for a run (bufferOne) starts when that run ends, whatever its deadline.
      if (job.overlap !== 'bufferOne') {
        const late = lateRuns(inTime, (tick) => due(tick) + deadline);
        if (late.length > 0 && process.env.DEBUG_FAULTS) console.log(job.name, late);
        result.late += late.length;
      }
      result.tokenRegressions += tokenOrderViolations(runs).length;
      for (const run of inTime.filter((r) => r.tick >= from && r.tick <= to)) {
        result.maxStartDelayMs = Math.max(result.maxStartDelayMs, run.start - due(run.tick));
      }
      if (job.overlap === 'skip' || job.overlap === 'bufferOne') {
        // A crashed node's run ends when it was killed.
        const spans: RunSpan[] = runs.map((r) => ({ ...r, end: r.end ?? killedAt.get(r.node) }));
        result.overlaps += spans
          .slice(1)
          .filter((run, i) => run.start < (spans[i].end ?? Infinity) - 10).length;
      }
    }
    const staleActs = reports.filter((r) => r.event === 'resumed' && r.aborted === false).length;
    const windowEnd = recoveryEnd + ttl;
    const problems = reports.filter(
      (r) =>
        (r.event === 'error' || (r.event === 'log' && r.level === 'error')) &&
        (r.at < faultStart || r.at > windowEnd),
    );
    const live = everyNode.filter((n) => !stopped.has(n));
    const truth = live
      .map((n) => n.nodeId)
      .sort()
      .join(',');
    // A crashed node is only gone once its lease ran out: the fault ends TTL after the last blow.
    const settledAt = recoveryEnd + ttl + HEARTBEAT;
    const divergentViews = live.flatMap((n) => {
      const views = n.reports.filter((r) => r.event === 'view' && r.at >= settledAt);
      const wrong = views.find((v) => v.nodes!.join(',') !== truth);
      if (views.length > 0 && !wrong) return [];
      return [`${n.nodeId} saw [${wrong?.nodes?.join(',') ?? 'nothing'}], truth [${truth}]`];
    });
    return { name: scenario.name, ...result, staleActs, problems, divergentViews };
  } finally {
    await Promise.all(everyNode.map((n) => n.kill()));
    await proxy?.close();
    admin.disconnect();
    await own?.stop();
  }
}

/** One-second jobs slower than their period (2.5 s), one per overlap policy. */
function slowJobs(): ScenarioJob[] {
  const slow = (name: string, overlap: JobSpec['overlap'], everyTick = true): ScenarioJob => ({
    name,
    cron: '* * * * * *',
    durationMs: 2500,
    stepMs: 50,
    overlap,
    everyTick,
  });
  return [
    slow('allow', 'allow'),
    slow('skip', 'skip', false),
    slow('buffer', 'bufferOne', false),
    slow('cancel', 'cancelOther'),
  ];
}

/**
 * The faults of the suite. `scale` stretches fault and run durations for the soak; `jobs` is the
 * number of one-second jobs every node runs in the scenarios with default jobs.
 */
export function scenarios(scale = 1, jobs = 3): Scenario[] {
  const duration = (ms: number) => Math.round(ms * scale);
  const intervalJobs: ScenarioJob[] = Array.from({ length: jobs }, (_, i) => ({
    name: `interval-${i}`,
    interval: PERIOD,
    durationMs: 100,
    stepMs: 50,
  }));
  return [
    {
      name: 'SIGKILL of a node mid-job',
      nodes: 3,
      jobCount: jobs,
      durationMs: duration(9000),
      async fault({ nodes }) {
        const victim = nodes.find((n) => n.reports.some((r) => r.event === 'run')) ?? nodes[0];
        await victim.kill();
      },
    },
    {
      name: 'SIGSTOP of a node for 3 x TTL',
      nodes: 3,
      jobCount: jobs,
      durationMs: duration(10000),
      async fault({ nodes, sleep }) {
        nodes[0].signal('SIGSTOP');
        await sleep(3 * TTL);
        nodes[0].signal('SIGCONT');
      },
    },
    {
      name: '@Interval jobs out of phase, owners stopped and crashed',
      nodes: 3,
      jobs: intervalJobs,
      phases: [900, 40, 600, 80, 700, 20, 500, 110, 800, 60],
      durationMs: duration(12000),
      async fault({ nodes, startNode, sleep, ownerOf }) {
        const live = [...nodes];
        const rounds = Math.round(4 * scale);
        for (let i = 0; i < rounds; i++) {
          const owner = ownerOf(intervalJobs[i % intervalJobs.length].name, live);
          live.splice(live.indexOf(owner), 1);
          if (i % 2 === 0) await owner.terminate();
          else await owner.kill();
          await sleep(1500);
          live.push(await startNode(`phase-${i}`));
        }
      },
    },
    {
      name: 'Redis killed and restarted empty',
      nodes: 3,
      jobCount: jobs,
      durationMs: duration(10000),
      recoveryMs: 3000,
      dataLoss: true,
      async fault({ redis, sleep }) {
        await redis.kill();
        await sleep(1000);
        await redis.restart();
      },
    },
    {
      name: "Redis's clock stepped 2 s forward for 3 s, then back",
      nodes: 3,
      jobs: [...defaultJobs(jobs), ...intervalJobs],
      durationMs: duration(10000),
      recoveryMs: 3000,
      ownRedis: true,
      async fault({ stepClock, sleep }) {
        stepClock(2000);
        await sleep(3000);
        stepClock(-2000);
      },
    },
    {
      name: 'Redis restored from a copy 3 s old, catchupWindow 5 s',
      nodes: 3,
      jobs: defaultJobs(jobs).map((job) => ({ ...job, catchupWindow: 5000, catchup: 'all' })),
      durationMs: duration(10000),
      recoveryMs: 3000,
      ownRedis: true,
      dataLoss: true,
      async fault({ admin, sleep }) {
        await admin.call('SAVE');
        await sleep(3000);
        await admin.call('DEBUG', 'RELOAD', 'NOSAVE');
      },
    },
    {
      name: 'Redis paused past the TTL',
      nodes: 3,
      jobCount: jobs,
      durationMs: duration(10000),
      recoveryMs: 3000,
      async fault({ redis, sleep }) {
        redis.pause();
        await sleep(TTL + 500);
        redis.resume();
      },
    },
    {
      name: 'Redis paused 3 s (TTL 5 s): outage ticks refused by their deadline',
      nodes: 3,
      jobs: [...defaultJobs(jobs), ...intervalJobs],
      phases: [150, 500, 850],
      heartbeatTTL: 5000,
      durationMs: duration(10000),
      recoveryMs: 1000,
      async fault({ redis, sleep }) {
        redis.pause();
        await sleep(3000);
        redis.resume();
      },
    },
    {
      name: 'Redis paused 3 s (TTL 5 s), catchupWindow 10 s: missed ticks run after',
      nodes: 3,
      jobs: defaultJobs(jobs).map((job) => ({
        ...job,
        catchupWindow: 10_000,
        catchup: 'all' as const,
      })),
      heartbeatTTL: 5000,
      durationMs: duration(10000),
      expectsCatchup: true,
      // No recovery window: every tick must run, the outage ones caught up.
      async fault({ redis, sleep }) {
        redis.pause();
        await sleep(3000);
        redis.resume();
      },
    },
    {
      name: 'pub/sub connections killed',
      nodes: 3,
      jobCount: jobs,
      durationMs: duration(8000),
      async fault({ admin }) {
        await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      },
    },
    {
      name: 'latency, then a cut connection (one node)',
      nodes: 3,
      jobCount: jobs,
      viaProxy: true,
      durationMs: duration(12000),
      async fault({ proxy, sleep }) {
        proxy!.latencyMs = 50;
        await sleep(2000);
        proxy!.latencyMs = 0;
        proxy!.cutConnections();
        await sleep(3 * TTL);
        proxy!.restore();
      },
    },
    {
      name: 'churn: a node joins or leaves every second',
      nodes: 2,
      jobCount: jobs,
      durationMs: duration(14000),
      async fault({ startNode, sleep }) {
        const extra: NodeProcess[] = [];
        const rounds = Math.round(8 * scale);
        for (let i = 0; i < rounds; i++) {
          if (i % 2 === 0) extra.push(await startNode(`churn-${i}`));
          else await extra.shift()!.terminate();
          await sleep(1000);
        }
      },
    },
    {
      name: 'a node with its clock shifted by a quarter period',
      nodes: 3,
      jobCount: jobs,
      clockShiftMs: 250,
      durationMs: duration(8000),
      async fault({ sleep }) {
        await sleep(1000);
      },
    },
    {
      name: 'jobs slower than their period, one per overlap policy; the busiest node crashes',
      nodes: 3,
      jobs: slowJobs(),
      durationMs: duration(12000),
      async fault({ nodes }) {
        const busiest = nodes.reduce((a, b) => (a.runs().length >= b.runs().length ? a : b));
        await busiest.kill();
      },
    },
  ];
}

/** The invariants a scenario result must meet, as one comparable object (all zero or empty). */
export function violations(scenario: Scenario, result: ScenarioResult) {
  return {
    doubled: result.doubled,
    missed: result.missed,
    late: result.late,
    tokenRegressions: result.tokenRegressions,
    overlaps: result.overlaps,
    staleActs: result.staleActs,
    noCatchup: scenario.expectsCatchup === true && result.catchups === 0,
    problems: result.problems,
    divergentViews: result.divergentViews,
  };
}

export const NO_VIOLATIONS = {
  doubled: 0,
  missed: 0,
  late: 0,
  tokenRegressions: 0,
  overlaps: 0,
  staleActs: 0,
  noCatchup: false,
  problems: [],
  divergentViews: [],
};

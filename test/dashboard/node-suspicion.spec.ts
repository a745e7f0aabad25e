import { describe, expect, it } from '@jest/globals';
import { ClusterEventLog } from '../../lib/dashboard/cluster-event-log.js';
import { findSuspects, heartbeatMargin } from '../../lib/dashboard/node-suspicion.js';
import { TakeoverTracker } from '../../lib/dashboard/takeover-tracker.js';
import type { JobRunRecord } from '../../lib/jobs/distributed-job.interface.js';

const TIMING = { heartbeatInterval: 5000, heartbeatTTL: 15_000 };
const NOW = 1_000_000;

/** A claimed run of tick `tick` (s) by `nodeId`, started 100 ms after it. */
function run(tick: number, nodeId: string): JobRunRecord {
  const at = tick * 1000;
  return { tick: at, nodeId, startedAt: at + 100, delay: 100, token: tick, status: 'claimed' };
}

/** Newest first, as `DistributedJobs.recentRuns()` answers. */
const newestFirst = (...runs: JobRunRecord[]) => runs.sort((a, b) => b.tick - a.tick);

describe('which nodes the cluster page calls suspect', () => {
  it('a node whose last beat (deadline - TTL) is more than an interval and a margin ago', () => {
    const overdue = TIMING.heartbeatInterval + heartbeatMargin(TIMING.heartbeatInterval);
    expect(heartbeatMargin(5000)).toBe(2500);
    expect(heartbeatMargin(200)).toBe(500);
    const beatAt = (ago: number) => NOW - ago + TIMING.heartbeatTTL;
    const deadlines = new Map([
      ['late', beatAt(overdue + 1)],
      ['on-time', beatAt(overdue)],
      ['expired', NOW - 1],
    ]);
    expect(
      findSuspects(['expired', 'late', 'on-time', 'unread'], deadlines, [], TIMING, NOW),
    ).toEqual([
      { nodeId: 'expired', reason: 'heartbeat', since: NOW - 1 - TIMING.heartbeatTTL },
      { nodeId: 'late', reason: 'heartbeat', since: NOW - overdue - 1 },
    ]);
  });

  it('an owner whose tick ran elsewhere, unless its heartbeat says more; the earliest such tick', () => {
    const standIns = [
      { job: 'b', owner: 'o', standIn: { nodeId: 'x', tick: 5000, startedAt: 5100 } },
      { job: 'a', owner: 'o', standIn: { nodeId: 'y', tick: 4000, startedAt: 4100 } },
      { job: 'c', owner: 'p', standIn: { nodeId: 'x', tick: 4000, startedAt: 4100 } },
    ];
    const deadlines = new Map([
      ['o', NOW + TIMING.heartbeatTTL],
      ['p', NOW - 1],
    ]);
    expect(findSuspects(['o', 'p', 'q'], deadlines, standIns, TIMING, NOW)).toEqual([
      { nodeId: 'o', reason: 'tick', since: 4100, job: 'a', ranOn: 'y' },
      { nodeId: 'p', reason: 'heartbeat', since: NOW - 1 - TIMING.heartbeatTTL },
    ]);
    // Without deadlines (Redis could not be read), the ticks still tell.
    expect(findSuspects(['p'], undefined, standIns, TIMING, NOW)).toEqual([
      { nodeId: 'p', reason: 'tick', since: 4100, job: 'c', ranOn: 'x' },
    ]);
  });
});

describe('TakeoverTracker', () => {
  it('keeps the first tick another node ran after the owner last did, while the window slides on', () => {
    const tracker = new TakeoverTracker();
    tracker.observe('job', 'o', newestFirst(run(1, 'o'), run(2, 'o'), run(3, 'o')), true, 3500);
    expect(tracker.standIn('job', 'o')).toBeUndefined();
    tracker.observe('job', 'o', newestFirst(run(2, 'o'), run(3, 'o'), run(4, 'x')), true, 4500);
    const first = { nodeId: 'x', tick: 4000, startedAt: 4100 };
    expect(tracker.standIn('job', 'o')).toEqual(first);
    // Ticks 3 and 4 fall out of the window: still the first stand-in, not the oldest one left.
    tracker.observe('job', 'o', newestFirst(run(5, 'x'), run(6, 'x'), run(7, 'x')), true, 7500);
    expect(tracker.standIn('job', 'o')).toEqual(first);
    expect(tracker.standIn('job', 'x')).toBeUndefined();
    // The owner runs a tick again: it was only late.
    tracker.observe('job', 'o', newestFirst(run(6, 'x'), run(7, 'x'), run(8, 'o')), true, 8500);
    expect(tracker.standIn('job', 'o')).toBeUndefined();
  });

  it('counts nothing while the pool is not steady, and after an owner change only later ticks', () => {
    const tracker = new TakeoverTracker();
    tracker.observe('job', 'o', newestFirst(run(1, 'o'), run(2, 'x')), false, 2500);
    expect(tracker.standIn('job', 'o')).toBeUndefined();
    // Steady again: tick 2 came before, while views were settling.
    tracker.observe('job', 'o', newestFirst(run(1, 'o'), run(2, 'x')), true, 2600);
    expect(tracker.standIn('job', 'o')).toBeUndefined();
    // The ring gives the job to n at 3.5 s: o's tick 3 is not n's miss; x's tick 4 is.
    tracker.observe('job', 'n', newestFirst(run(2, 'x'), run(3, 'o')), true, 3500);
    expect(tracker.standIn('job', 'n')).toBeUndefined();
    tracker.observe('job', 'n', newestFirst(run(3, 'o'), run(4, 'x')), true, 4500);
    expect(tracker.standIn('job', 'n')).toEqual({ nodeId: 'x', tick: 4000, startedAt: 4100 });
    // Skipped or buffered ticks are not runs.
    tracker.observe('job', 'm', [], true, 4600);
    tracker.observe('job', 'm', [{ ...run(5, 'x'), status: 'overlap' }], true, 5500);
    expect(tracker.standIn('job', 'm')).toBeUndefined();
  });
});

describe('a failover in the event log', () => {
  it('is dated when another node first ran the tick, below the later removal of the old owner', () => {
    const log = new ClusterEventLog(10);
    log.checkOwners([{ name: 'job', owner: 'o' }], ['o', 'x'], 1000);
    log.record({
      type: 'NODE_DEREGISTERED',
      reason: 'expired',
      timestamp: 16_000,
      nodeId: 'o',
      serviceName: 'pool',
      address: 'o:1',
      services: [],
      metadata: {},
    });
    const standIn = { nodeId: 'x', tick: 4000, startedAt: 4100 };
    log.checkOwners([{ name: 'job', owner: 'x' }], ['x'], 16_000, (job, owner) =>
      job === 'job' && owner === 'o' ? standIn : undefined,
    );
    expect(log.list()).toEqual([
      expect.objectContaining({ kind: 'left', at: 16_000, nodeId: 'o' }),
      {
        kind: 'owner',
        at: 4100,
        job: 'job',
        from: 'o',
        to: 'x',
        failover: true,
        takenOver: { by: 'x', tick: 4000 },
      },
    ]);
  });
});

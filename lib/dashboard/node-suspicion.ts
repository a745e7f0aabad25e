// Which nodes of the pool look down before the registry removes them (which takes up to
// `heartbeatTTL`): a heartbeat overdue, read from the deadlines in Redis, or a tick run elsewhere.
import type { SuspectView } from './cluster-state.js';
import type { StandIn } from './takeover-tracker.js';

/** The heartbeat settings nodes are judged by: this node's, which the pool should share. */
export interface HeartbeatTiming {
  heartbeatInterval: number;
  heartbeatTTL: number;
}

/**
 * How late past `heartbeatInterval` a beat may be before its node is suspect: half an interval,
 * between 0.5 and 2.5 s (a loaded event loop or a slow round trip delays a healthy beat).
 */
export function heartbeatMargin(interval: number): number {
  return Math.min(2500, Math.max(500, interval / 2));
}

/**
 * The suspects among `poolNodes`, by node id. A node's last beat is its deadline minus the TTL;
 * without its deadline (not read, or not offering a service that was read) only its jobs tell.
 */
export function findSuspects(
  poolNodes: readonly string[],
  deadlines: ReadonlyMap<string, number> | undefined,
  standIns: ReadonlyArray<{ job: string; owner: string | undefined; standIn: StandIn }>,
  timing: HeartbeatTiming,
  now: number,
): SuspectView[] {
  const overdueAfter = timing.heartbeatInterval + heartbeatMargin(timing.heartbeatInterval);
  const suspects: SuspectView[] = [];
  for (const nodeId of poolNodes) {
    const deadline = deadlines?.get(nodeId);
    const lastBeat = deadline === undefined ? undefined : deadline - timing.heartbeatTTL;
    if (lastBeat !== undefined && now - lastBeat > overdueAfter) {
      suspects.push({ nodeId, reason: 'heartbeat', since: lastBeat });
      continue;
    }
    const missed = standIns
      .filter(({ owner }) => owner === nodeId)
      .sort((a, b) => a.standIn.startedAt - b.standIn.startedAt)[0];
    if (missed) {
      const { job, standIn } = missed;
      suspects.push({
        nodeId,
        reason: 'tick',
        since: standIn.startedAt,
        job,
        ranOn: standIn.nodeId,
      });
    }
  }
  return suspects;
}

// What the live cluster page shows, as the JSON of `GET <path>/state`: nodes by service, the pool
// and its ring, the jobs with their recent runs, and recent events. Nothing secret goes in here.
import type { JobSkips } from '../jobs/distributed-job.interface.js';

/** A node as listed under one of its services. */
export interface NodeView {
  nodeId: string;
  /** The node's version of this service. */
  version: string | undefined;
  address: string;
  /** The pool the node shares jobs in (its `serviceName`). */
  pool: string;
  metadata: Record<string, string>;
  /** The node serving the page. */
  self: boolean;
}

export interface ServiceView {
  name: string;
  nodes: NodeView[];
}

/** A stretch of the hash ring, as fractions of the circle: keys in (from, to] go to `nodeId`. */
export interface RingArc {
  from: number;
  to: number;
  nodeId: string;
}

export interface PoolView {
  name: string;
  state: 'steady' | 'upgrading';
  /** Sorted node ids of the pool. */
  nodes: string[];
  /** When the membership last changed (this node's clock, ms). */
  changedAt: number | undefined;
  ring: RingArc[];
  /** Nodes of the pool that look down before the registry removes them, sorted by node id. */
  suspects: SuspectView[];
}

/**
 * A node of the pool that may be down: its heartbeat is overdue (more than `heartbeatInterval`
 * and a margin since its last beat), or another node ran a tick of a job it owns.
 */
export interface SuspectView {
  nodeId: string;
  reason: 'heartbeat' | 'tick';
  /** Redis time, ms: the last heartbeat (`heartbeat`), or when the tick ran elsewhere (`tick`). */
  since: number;
  /** With `tick`: the job whose tick ran elsewhere and the node that ran it. */
  job?: string;
  ranOn?: string;
}

/** One run of a job anywhere in the pool, as Redis recorded its claim. */
export interface RunView {
  /** The tick and the start, Redis time in ms. */
  tick: number;
  startedAt: number;
  /** ms from the tick to the start. */
  delay: number;
  nodeId: string;
  token: number;
}

export interface JobView {
  name: string;
  schedule: 'cron' | 'interval' | 'timeout' | 'manual';
  period: number;
  owner: string | undefined;
  /** Where the job's name falls on the ring (fraction of the circle). */
  ringAt: number;
  /** The counters below are this node's. */
  running: boolean;
  runs: number;
  skips: number;
  /** `skips` by reason: `claimedElsewhere` is normal on every node but the one that ran a tick. */
  skipped: JobSkips;
  errors: number;
  /** This node's clock, ms. */
  lastRun: number | undefined;
  lastDuration: number | undefined;
  lastStartDelay: number | undefined;
  /** Newest first; undefined while no run history can be read. */
  recentRuns: RunView[] | undefined;
  /** The job as `DistributedJobs.describe()` shows it; undefined while it cannot be read. */
  operated: OperatedView | undefined;
}

/** Pause state, next fire times, the history and the cluster-wide totals of a job. */
export interface OperatedView {
  paused: boolean;
  pauseReason: string | undefined;
  pausedBy: string | undefined;
  /** The next (up to) 3 times a tick is due (Redis ms). */
  nextFireTimes: number[];
  /** Newest first, at most `recentRuns`. */
  history: Array<{
    tick: number;
    node: string;
    token: number;
    end: number;
    outcome: string;
    attempt: number;
    kind: string;
  }>;
  totals: { runs: number; ok: number; error: number; skippedPaused: number; triggered: number };
}

export type ClusterEvent =
  | { kind: 'joined'; at: number; nodeId: string; pool: string; resynced: boolean }
  | {
      kind: 'left';
      at: number;
      nodeId: string;
      pool: string;
      reason: 'shutdown' | 'expired';
      resynced: boolean;
    }
  | { kind: 'updated'; at: number; nodeId: string; pool: string; changes: string[] }
  /**
   * The ring gave a job to another node: a failover when the old owner left the pool. `at` is when
   * the ring changed, or for a failover (`takenOver`), when another node first ran a tick of the
   * job after the old owner's last run (Redis time), which comes first when a node crashed.
   */
  | {
      kind: 'owner';
      at: number;
      job: string;
      from: string | undefined;
      to: string | undefined;
      failover: boolean;
      /** With a failover: the node that first ran the job's ticks instead, if seen. */
      takenOver?: { by: string; tick: number };
    };

export interface ClusterState {
  /** The node serving the page. */
  nodeId: string;
  /** Redis time when the state was read, ms. */
  now: number;
  services: ServiceView[];
  pool: PoolView;
  jobs: JobView[];
  /** Newest first. */
  events: ClusterEvent[];
  /** The page may pause, resume and trigger jobs (option `actions`). */
  actions: boolean;
}

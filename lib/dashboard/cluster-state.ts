// What the live cluster page shows, as the JSON of `GET <path>/state`: nodes by service, the pool
// and its ring, the jobs with their recent runs, and recent events. Nothing secret goes in here.

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
  errors: number;
  /** This node's clock, ms. */
  lastRun: number | undefined;
  lastDuration: number | undefined;
  lastStartDelay: number | undefined;
  /** Newest first; undefined while no run history can be read. */
  recentRuns: RunView[] | undefined;
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
  /** The ring gave a job to another node: a failover when the old owner left the pool. */
  | {
      kind: 'owner';
      at: number;
      job: string;
      from: string | undefined;
      to: string | undefined;
      failover: boolean;
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
}

/** Options of one `@DistributedJob()`. */
export interface DistributedJobOptions {
  /** Job name, unique in the pool. Default `ClassName.methodName`. */
  name?: string;
  /**
   * Length of one tick in ms: what "the same tick" means across nodes. Default: read from the
   * method's `@Interval`, `@Cron` or `@Timeout`; 1000 when the method has none.
   */
  period?: number;
}

/** What a running job can read about its run: `getJobContext()` inside the method returns it. */
export interface JobContext {
  jobName: string;
  /** The scheduled time this run stands for (Redis server time). */
  tick: Date;
  /**
   * Fencing token: strictly increasing per job across the cluster. A sink that remembers the
   * highest token it accepted and refuses lower ones is safe from a stale run.
   */
  token: number;
  /** Aborted when this node loses its claim (lease ran out) or shutdown gave up waiting. */
  signal: AbortSignal;
}

/** One job as `DistributedJobs.list()` reports it. */
export interface JobStatus {
  name: string;
  /** ms per tick. */
  period: number;
  /** Node that owns the job on the ring now. */
  owner: string | undefined;
  running: boolean;
  runs: number;
  /** Ticks this node did not run: taken by another node, skipped while stopping, or a Redis error. */
  skips: number;
  errors: number;
  lastRun: Date | undefined;
  /** ms of the last finished run. */
  lastDuration: number | undefined;
  lastToken: number | undefined;
  lastError: string | undefined;
}

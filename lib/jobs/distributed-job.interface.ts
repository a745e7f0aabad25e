// The public shapes of distributed jobs: the decorator's options, what a run can read about
// itself (JobContext) and what `DistributedJobs.list()` / `recentRuns()` report.

/**
 * What happens when a tick comes while the previous run of the same job is still running on any
 * node (Temporal Schedules' overlap policies):
 * - `allow` (default): every tick runs, runs may overlap (one run per tick, whatever is running);
 * - `skip`: the tick is skipped;
 * - `bufferOne`: the tick waits and starts when the running one ends; while one waits, further
 *   ticks are skipped;
 * - `cancelOther`: the tick starts at once and the running one's `signal` is aborted (at once on
 *   the same node, within one `heartbeatInterval` on another).
 */
export type OverlapPolicy = 'allow' | 'skip' | 'bufferOne' | 'cancelOther';

/** Which missed ticks a catch-up runs: only the latest, or every one inside the window (oldest first). */
export type CatchupMode = 'one' | 'all';

/** Options of one `@DistributedJob()`. */
export interface DistributedJobOptions {
  /** Job name, unique in the pool. Default `ClassName.methodName`. */
  name?: string;
  /**
   * Length of one tick in ms, for ticks that are windows of Redis time: `@Interval` (default: its
   * interval), `@Timeout` (default: the timeout, at least 60 s; the job runs once per pool per
   * this long) and direct calls (default 1000). Refused beside `@Cron`: a cron's ticks are its
   * occurrences.
   */
  period?: number;
  /**
   * How late (ms after the tick is due, in Redis time) a tick may still start; a claim after that
   * is refused and the tick is skipped. Default `jobs.startingDeadline`, else half the gap to the
   * next tick, at most 10 s. A cron tick is due at its time; an @Interval tick at the end of its
   * window. For a cron it is also the clock tolerance: a claim more than this before the tick is
   * due (a node whose wall clock is that far ahead of Redis time) is refused too.
   */
  startingDeadline?: number;
  /** See `OverlapPolicy`. Default `allow`. */
  overlap?: OverlapPolicy;
  /**
   * Run ticks that nobody claimed (a Redis outage, every node down) when the next tick is claimed,
   * if they are at most this many ms old. Default 0: missed ticks are skipped.
   */
  catchupWindow?: number;
  /** With `catchupWindow`: run the latest missed tick (`one`, default) or all of them (`all`, at most 100). */
  catchup?: CatchupMode;
}

/** What a running job can read about its run: `getJobContext()` inside the method returns it. */
export interface JobContext {
  jobName: string;
  /** The node running it: this process's `nodeId` option (a random UUID by default). */
  nodeId: string;
  /** The tick this run stands for (Redis time): a cron occurrence, or the start of an interval window. */
  tick: Date;
  /**
   * Fencing token: strictly increasing per job, in the order Redis granted the claims. A sink that
   * remembers the highest token it accepted and refuses lower ones is safe from a stale run.
   */
  token: number;
  /**
   * Aborted when this node's lease runs out, the run is cancelled (`cancelOther`) or shutdown gave
   * up waiting. Reading `signal.aborted` checks the lease first, so it is true as soon as a stalled
   * process resumes past its lease, before any timer of the lease could fire.
   */
  signal: AbortSignal;
  /** True when this run catches up a missed tick (`catchupWindow`). */
  catchup: boolean;
  /**
   * Whether this node still holds its lease, from the monotonic clock against the lease its last
   * heartbeat won: no round trip, exact after a stall. Check it right before each side effect.
   */
  isLeaseValid(): boolean;
  /** Throws `LeaseLostError` (and aborts `signal`) when the lease is gone. */
  assertLease(): void;
}

/** Why a node did not run a tick it was asked to run. */
export interface JobSkips {
  /** Another node claimed the tick (normal on every node but the one that ran it). */
  claimedElsewhere: number;
  /** The claim came after the tick's starting deadline (Redis outage, stalled node). */
  deadline: number;
  /** The overlap policy skipped it (a run was in progress). */
  overlap: number;
  /** The claim failed: Redis unreachable or an error. */
  redisError: number;
  /** This node had no valid lease (not registered yet, or its lease ran out). */
  noLease: number;
  /** The node was shutting down (or is a client). */
  stopping: number;
  /**
   * A cron claim came earlier than the tick's clock tolerance before it was due (Redis time):
   * this node's wall clock is ahead of Redis time by more than the job tolerates.
   */
  clockSkew: number;
  /**
   * The tick could be claimed before Redis was found to have lost data (a claim found a lower
   * fencing token than its node saw: a restore, a failover to a lagging replica): it may have
   * run, its record lost with the rest, so no node runs it.
   */
  dataLoss: number;
  /**
   * This node's timer never fired for the tick before its starting deadline (the event loop was
   * busy, the timer drifted past a window, cron skipped it): counted when the next firing comes.
   */
  missed: number;
  /**
   * The timer fired again for a tick this node already handled (the `cron` package fires
   * repeatedly for about an hour after the southern autumn DST change): skipped without a claim.
   */
  duplicate: number;
}

/** One job as `DistributedJobs.list()` reports it (counters are this node's). */
export interface JobStatus {
  name: string;
  /**
   * ms per tick: the window of an @Interval, @Timeout or direct-call job; for a cron, the gap from
   * its latest occurrence to the next (a cron's gaps may vary).
   */
  period: number;
  schedule: 'cron' | 'interval' | 'timeout' | 'manual';
  /** The cron expression and its zone, for a cron job. */
  cron: { expression: string; timeZone?: string; utcOffset?: number } | undefined;
  /** The tick after the current one: the next occurrence of a cron, the next window otherwise. */
  nextTick: Date | undefined;
  /** The starting deadline of the current tick (ms); for a cron, also its clock tolerance. */
  startingDeadline: number;
  overlap: OverlapPolicy;
  catchupWindow: number;
  /** Node that owns the job on the ring now. */
  owner: string | undefined;
  running: boolean;
  runs: number;
  /** Runs of missed ticks (catch-up), included in `runs`. */
  catchups: number;
  /** Ticks this node ran as a stand-in: another node owned the job on the ring (it was late or gone). */
  failovers: number;
  /** Ticks put on hold by `bufferOne` on this node's claim. */
  buffered: number;
  /**
   * Ticks granted to this node that it gave back unrun (its lease ran out, shutdown began, or
   * the grant came past the tick's deadline), so that a peer could still claim them in time.
   */
  givenBack: number;
  /** Ticks this node did not run, all reasons. */
  skips: number;
  skipped: JobSkips;
  errors: number;
  lastRun: Date | undefined;
  /** ms from the last run's tick to its start (Redis time). */
  lastStartDelay: number | undefined;
  /** ms of the last finished run. */
  lastDuration: number | undefined;
  lastToken: number | undefined;
  lastError: string | undefined;
}

/** A run of a job anywhere in the pool, as Redis recorded its claim (`DistributedJobs.recentRuns()`). */
export interface JobRunRecord {
  /** The tick (Redis time, ms). */
  tick: number;
  nodeId: string;
  /** When the claim was granted (Redis time, ms): the run started right after. */
  startedAt: number;
  /** `startedAt - tick`. */
  delay: number;
  token: number;
  /**
   * `claimed` ran (or runs); `granted`: claimed, not (yet) confirmed by its node, so not started
   * (a peer takes it over if it stays so); `buffered` waits for the running one; `overlap` was
   * skipped; `lost`: refused, it could be claimed before Redis was found to have lost data.
   */
  status: 'granted' | 'claimed' | 'buffered' | 'overlap' | 'lost';
}

/**
 * What a `@DistributedJob()` method returns when called, whatever it was declared with: a promise
 * of its result, or of `undefined` when this node did not run the tick (another node claimed it,
 * the deadline passed, the lease was gone, shutdown). Declare methods with it so callers see that
 * case: `async report(): JobResult<Report> { ... }`.
 */
export type JobResult<T> = Promise<T | undefined>;

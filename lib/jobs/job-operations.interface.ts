// The public shapes of operating jobs: pause and resume, trigger, what `describe()` shows, and the
// spec of a job added at runtime (`DistributedJobs.add()`).
import type {
  JobTotals,
  RunHistoryEntry,
  RunKind,
  RunOutcome,
} from '../storage/job-operations.interface.js';
import type { DistributedJobOptions } from './distributed-job.interface.js';

export type { JobTotals, RunHistoryEntry, RunKind, RunOutcome };

export interface PauseOptions {
  /** Why, shown by `describe()` and the cluster page (at most 500 characters). */
  reason?: string;
}

/** What a pause or resume changed. */
export interface PauseChange {
  paused: boolean;
  /** Whether the job was paused before the call. */
  wasPaused: boolean;
}

export interface TriggerOptions {
  /**
   * Let this trigger run beside another run of an `overlap: 'allow'` job (two triggers from two
   * nodes then run twice). Default false: a trigger holds the job's run marker, and a trigger
   * while another one runs is refused (`overlap`). Other policies always apply.
   */
  concurrent?: boolean;
}

/** What `trigger()` did: ran here (with its token and how it ended), or why it did not. */
export type TriggerResult =
  | {
      status: 'ran';
      tick: Date;
      token: number;
      outcome: RunOutcome;
      /** The method's return value (with `ok`). */
      value: unknown;
      /** What the last attempt threw (with `error`, `aborted`, `cancelled`). */
      error: unknown;
    }
  | {
      status: 'refused';
      /**
       * `paused`: the job is paused; `overlap`: a run holds the job (its policy, or another
       * trigger); `noLease` / `stopping`: this node may not run jobs now.
       */
      reason: 'paused' | 'overlap' | 'noLease' | 'stopping';
      /** With `paused`: who paused it; with `overlap`: the node of the run in progress. */
      holder?: string;
    };

/** A job as `DistributedJobs.describe()` shows it: one round trip to Redis. */
export interface JobDescription {
  name: string;
  /** Added at runtime (`add()`) rather than by `@DistributedJob()`. */
  runtime: boolean;
  paused: boolean;
  /** While paused: why, since when and by which node. */
  pauseReason: string | undefined;
  pausedAt: Date | undefined;
  pausedBy: string | undefined;
  schedule: {
    kind: 'cron' | 'interval' | 'timeout' | 'manual';
    cron: { expression: string; timeZone?: string; utcOffset?: number } | undefined;
    /** ms of a window (interval, timeout, manual). */
    period: number | undefined;
  };
  /** When the next (up to) 10 ticks are due; none for @Timeout and direct-call jobs. */
  nextFireTimes: Date[];
  /** The node that owns the job on the ring now. */
  owner: string | undefined;
  /** Runs of the cluster's history, newest first (at most `jobs.historyLimit`). */
  runs: RunHistoryEntry[];
  /** Cluster-wide totals, kept in Redis: they survive every node. */
  totals: JobTotals;
  /** Runs in a row whose last attempt failed (`pauseAfterFailures`). */
  failuresInRow: number;
}

/** A job added at runtime: a cron or an interval, with the options of `@DistributedJob()`. */
export interface RuntimeJobSpec extends Omit<DistributedJobOptions, 'name' | 'period'> {
  name: string;
  /** A cron expression (as `@Cron` takes it, seconds optional). */
  cron?: string;
  /** The cron's IANA time zone. Default: the system's. */
  timeZone?: string;
  /** An interval in ms (as `@Interval` takes it): ticks are windows of this long. */
  interval?: number;
}

export interface BackfillOptions {
  /** The range's start (included), a Date or ms. */
  from: Date | number;
  /** The range's end (excluded), a Date or ms; at most now: only ticks already due are run. */
  to: Date | number;
  /** The most ticks the range may hold: 1 to 1000, default 100 (more is refused, not cut). */
  limit?: number;
}

/** What `backfill()` did: the ticks it ran here, oldest first, and those it skipped, and why. */
export interface BackfillResult {
  ran: Array<{ tick: Date; token: number; outcome: RunOutcome }>;
  /**
   * `recorded`: the schedule claimed it (Redis still holds its record); `ran`: the history has a
   * run of it; `backfilled`: another backfill claimed it; `lost`: it came before Redis was found to
   * have lost data, so it may have run (its record lost with the rest).
   */
  skipped: Array<{ tick: Date; reason: 'recorded' | 'ran' | 'backfilled' | 'lost' }>;
  /** Why it stopped before the end: the job was paused, or this node may not run jobs now. */
  stopped: 'paused' | 'noLease' | 'stopping' | undefined;
}

// What operating a job needs from a backend beyond its claims: the pause state every claim obeys,
// a run claimed now (trigger), the run history with its cluster-wide totals, and the one read that
// shows them. Part of `JobClaimStore`; each call is one round trip on the job's own slot.
import type { OverlapPolicyName } from './job-claim-store.interface.js';

/** Pauses or resumes a job (`JobClaimStore.setPaused`). */
export interface PauseRequest {
  jobKey: string;
  paused: boolean;
  /** Why (kept with the state while paused); '' when none was given. */
  reason: string;
  nodeId: string;
  /** The job's `paused` option: its state until a pause or resume sets one. */
  initiallyPaused: boolean;
}

export interface PauseResult {
  serverTime: number;
  /** Whether the job was paused before this call. */
  wasPaused: boolean;
}

/** Claims one run now for `nodeId`, outside the schedule (`JobClaimStore.trigger`). */
export interface TriggerRequest {
  jobKey: string;
  /** The caller's Redis time: names the run's record `t:<tick>`. */
  tick: number;
  nodeId: string;
  signature: string;
  requestId: string;
  overlap: OverlapPolicyName;
  runLease: number;
  tokenFloor?: number;
  initiallyPaused: boolean;
  /** With `allow`: hold the run marker, so that a concurrent trigger is refused (`overlap`). */
  exclusive: boolean;
}

export interface TriggerResult {
  /** `taken`: a record of that very tick exists (ask again with another tick). */
  status: 'claimed' | 'paused' | 'overlap' | 'taken';
  tick: number;
  token: number;
  /** The node that runs it (claimed), that runs the blocking run (overlap), that paused (paused). */
  holder: string;
  serverTime: number;
  /** Token of the run this trigger cancelled (`cancelOther`). */
  cancelled: number | undefined;
  /** The run holds the job's run marker: release it at its end. */
  holdsMarker: boolean;
}

export type RunOutcome = 'ok' | 'error' | 'aborted' | 'cancelled';
export type RunKind = 'schedule' | 'catchup' | 'trigger' | 'backfill';

/** One finished attempt of a run, as the history keeps it. */
export interface RunHistoryEntry {
  tick: number;
  node: string;
  token: number;
  /** Redis time (ms) the attempt started, as its node estimated it. */
  start: number;
  /** Redis time (ms) the history was written: when the attempt ended. */
  end: number;
  outcome: RunOutcome;
  /** With `error`: the error's class and its message (truncated). */
  error?: { class: string; message: string };
  /** 1 for the first attempt, then 2, 3... (`retry`). */
  attempt: number;
  kind: RunKind;
}

/** Writes a finished attempt into the history (`JobClaimStore.recordRun`). */
export interface RecordRunRequest {
  jobKey: string;
  /** Runs the history keeps (newest first); older ones are trimmed by the same call. */
  limit: number;
  /** Pause the job once this many runs in a row failed (0: never). */
  pauseAfterFailures: number;
  entry: Omit<RunHistoryEntry, 'end'>;
  /** The run's last attempt (its outcome counts in the totals). */
  final: boolean;
}

export interface RecordRunResult {
  serverTime: number;
  failuresInRow: number;
  /** This write paused the job (`pauseAfterFailures` reached). */
  paused: boolean;
}

/** Cluster-wide counts of a job, kept in Redis (they survive every node). */
export interface JobTotals {
  /** Runs started (first attempts). */
  runs: number;
  ok: number;
  /** Runs whose last attempt threw. */
  error: number;
  aborted: number;
  cancelled: number;
  /** Attempts after the first (`retry`). */
  retries: number;
  /** Runs claimed by `trigger()`. */
  triggered: number;
  /** Ticks claimed by `backfill()`. */
  backfilled: number;
  /** Ticks skipped, each counted once for the cluster. */
  skipped: { paused: number; overlap: number };
}

export const TOTAL_FIELDS = [
  'runs',
  'ok',
  'error',
  'aborted',
  'cancelled',
  'retries',
  'triggered',
  'backfilled',
  'skip:paused',
  'skip:overlap',
] as const;

/** A job's state, totals and newest runs (`JobClaimStore.describe`). */
export interface JobSnapshot {
  serverTime: number;
  paused: boolean;
  /** While paused: why, since when (Redis ms) and who paused it (a node id). */
  pauseReason: string | undefined;
  pausedAt: number | undefined;
  pausedBy: string | undefined;
  failuresInRow: number;
  totals: JobTotals;
  /** Newest first. */
  runs: RunHistoryEntry[];
}

/** Claims the oldest of `ticks` that never ran, for a backfill (`JobClaimStore.backfill`). */
export interface BackfillRequest {
  jobKey: string;
  nodeId: string;
  /** Past ticks, oldest first, with their signatures. */
  ticks: Array<{ tick: number; signature: string }>;
  requestId: string;
  tokenFloor?: number;
  initiallyPaused: boolean;
  /** The job's history limit: a full history cannot tell whether older ticks ran. */
  historyLimit: number;
}

export type BackfillSkip = 'recorded' | 'ran' | 'backfilled' | 'lost';

export interface BackfillClaim {
  /**
   * `claimed`: run `tick` with `token`; `none`: every tick was skipped; `paused`; `unknown`: the
   * history is full and older than the oldest tick asked for (`oldestKnown`): nothing claimed.
   */
  status: 'claimed' | 'none' | 'paused' | 'unknown';
  serverTime: number;
  tick: number | undefined;
  token: number | undefined;
  /** The oldest tick the history holds (with `unknown`). */
  oldestKnown: number | undefined;
  /** Ticks skipped before the claimed one (or all, with `none`), oldest first. */
  skipped: Array<{ tick: number; reason: BackfillSkip }>;
}

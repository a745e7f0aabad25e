// What distributed jobs need from a backend: one tick claimed once, grants confirmed or given
// back, run markers of the overlap policies, and the tick records; one contract for Redis (one
// script call per request) and memory. Operating a job (pause, trigger, history): see
// job-operations.interface.ts.
import type {
  BackfillClaim,
  BackfillRequest,
  JobSnapshot,
  PauseRequest,
  PauseResult,
  RecordRunRequest,
  RecordRunResult,
  TriggerRequest,
  TriggerResult,
} from './job-operations.interface.js';

/** Job claims of one namespace. Each call is one round trip on the keys of one job (one slot). */
export interface JobClaimStore {
  /** Claims a tick of a job (see `ClaimRequest`). */
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /**
   * Confirms grants made with `confirm: true` before their runs start: after this, no other claim
   * can take them over. A grant already taken over is refused (`false`): it must not run.
   */
  confirm(request: ConfirmRequest): Promise<ConfirmResult>;
  /** Removes a grant this node will not run, so that another node can still claim the tick. */
  giveBack(request: GiveBackRequest): Promise<boolean>;
  /**
   * Ends a run that holds the job's run marker (overlap policies other than `allow`). With a tick
   * waiting (`bufferOne`) and `takeNext`, that tick is claimed for `nodeId` at once and returned;
   * without, the next claim of the job runs it.
   */
  release(request: ReleaseRequest): Promise<ReleaseResult>;
  /** Extends the run marker of `token` by `runLease` ms; false when the marker is no longer its own. */
  renew(request: RenewRequest): Promise<boolean>;
  /** The newest tick records of a job (claimed, buffered or skipped by overlap), newest first. */
  recent(jobKey: string, limit: number): Promise<TickRecord[]>;
  /** Pauses or resumes a job for every node: claims of a paused job are refused (`paused`). */
  setPaused(request: PauseRequest): Promise<PauseResult>;
  /** Claims one run of a job now, outside its schedule, obeying pause and overlap. */
  trigger(request: TriggerRequest): Promise<TriggerResult>;
  /** Writes a finished attempt into the job's history (trimmed in the same call) and totals. */
  recordRun(request: RecordRunRequest): Promise<RecordRunResult>;
  /** Claims the oldest given past tick that never ran, for a backfill; each tick once. */
  backfill(request: BackfillRequest): Promise<BackfillClaim>;
  /** The job's pause state, totals and newest `limit` runs. */
  describe(jobKey: string, limit: number, initiallyPaused: boolean): Promise<JobSnapshot>;
  /**
   * The record of one tick as stored (`t:<tick>`), with the job's retention, token and `lostAt`: a
   * plain read (no script), what a node that is not the job's owner reads before it claims a tick
   * the owner has likely taken.
   */
  record(jobKey: string, tick: number): Promise<StoredTick>;
}

export type OverlapPolicyName = 'allow' | 'skip' | 'bufferOne' | 'cancelOther';

/** What a node asks of Redis to run one tick of a job. */
export interface ClaimRequest {
  jobKey: string;
  tick: number;
  nodeId: string;
  /** HMAC of the claim (`signingKey`), stored with it; '' without a key. */
  signature: string;
  /**
   * Identifies this claim: the same request sent again (ioredis resends a command whose reply was
   * lost with the connection) gets the same answer instead of `taken`.
   */
  requestId: string;
  /** Redis time (ms) after which the claim is refused: the tick's starting deadline. */
  notAfter: number;
  /**
   * Redis time (ms) before which the claim is refused (`early`): a clock too far ahead. 0 or
   * absent: no such bound.
   */
  notBefore?: number;
  /**
   * ms: the claim is refused (`taken`) while the job's newest record was claimed less than this
   * long ago (a @Timeout job runs once per this long). 0 or absent: no such rule.
   */
  cooldown?: number;
  /**
   * How long (ms, Redis time) a tick's record is kept; older ones are dropped as claims come. The
   * job keeps the largest retention any claimer asked for, and uses that.
   */
  retention: number;
  overlap: OverlapPolicyName;
  /** Lifetime of the run marker (ms) when `overlap` is not `allow`; renewed while the run goes on. */
  runLease: number;
  /**
   * The highest fencing token this node has seen for the job: new tokens are above it. A store
   * holding a lower token lost data: from then on (`dataLostAt`), a tick claimable before that
   * moment and without a record is refused (`lost`, and recorded so), and none is caught up.
   */
  tokenFloor?: number;
  /**
   * The grant must be confirmed (`JobClaimStore.confirm`) before its run starts; until then a
   * claim of another node takes it over once it is `takeoverAfter` ms old. Without, it is final.
   */
  confirm?: boolean;
  takeoverAfter?: number;
  /**
   * A record found forged (it does not verify under any key): the exact record that blocks the
   * tick (`record`), or the record the run marker names (`marker`), is disregarded.
   */
  override?: { kind: 'record' | 'marker'; value: string };
  /**
   * Missed ticks to claim too, oldest first: those of `ticks` later than the last tick with a
   * record, at most `window` ms old and not past their own `notAfter` (Redis time).
   */
  catchup?: {
    window: number;
    ticks: Array<{ tick: number; notAfter: number; signature: string }>;
  };
  /** The job's `paused` option: its state until a pause or resume sets one. */
  initiallyPaused?: boolean;
}

export type ClaimStatus =
  'claimed' | 'taken' | 'late' | 'early' | 'lost' | 'overlap' | 'buffered' | 'paused';

export interface ClaimResult {
  /**
   * `claimed`: run `tick` with `token`; `taken`: another claim holds the tick; `late`: past its
   * starting deadline; `early`: before its clock tolerance; `lost`: claimable before the store
   * was found to have lost data (it may have run, its record lost); `overlap`: skipped, a run is in
   * progress; `buffered`: waits for that run; `paused`: the job is paused (`holder`: who paused).
   */
  status: ClaimStatus;
  /** The tick to run: the one asked for, or (`bufferOne`) a tick that waited for a run that died. */
  tick: number;
  /** Fencing token of the tick's claim (when claimed, or the holder's when taken). */
  token: number;
  /**
   * Node that holds the tick (this one when claimed); with `overlap` / `buffered`, the node of
   * the run in progress.
   */
  holder: string;
  /** Signature of the holding record ('' when none): the tick's, or the running tick's. */
  signature: string;
  /** The holding record as stored (with `taken`, `overlap`, `buffered`), to override it if forged. */
  record: string;
  /** With `overlap` / `buffered`: the tick of the run in progress (what `signature` signs). */
  markerTick: number | undefined;
  serverTime: number;
  /** Missed ticks claimed with this one, oldest first; run before `tick`. */
  catchup: Array<{ tick: number; token: number }>;
  /** Token of the run this claim cancelled (`cancelOther`). */
  cancelled: number | undefined;
  /** With `taken`: what holds the tick (a claim, a tick waiting, or a tick skipped by overlap). */
  takenAs: TickRecord['status'] | undefined;
  /** The node whose unconfirmed grant of this tick this claim took over. */
  tookOver: string | undefined;
  /** The retention the job keeps (ms): the largest any claimer asked for. */
  retention: number;
  /** The stored token was too far ahead to be genuine, or the run marker named no claim of it. */
  forgedToken: boolean;
  forgedMarker: boolean;
  /** When the store was found to have lost data (a claim's floor above its token), if ever. */
  dataLostAt: number | undefined;
}

/** Confirms grants before their runs start (`JobClaimStore.confirm`). */
/** A tick's record as stored, if any, with what a claim reads of the job before it. */
export interface StoredTick {
  record: string | undefined;
  /** The job's retention (0: none kept yet). */
  retention: number;
  /** The job's stored fencing token (0: none). */
  token: number;
  /** When the store was found to have lost data, if ever. */
  lostAt: number | undefined;
}

export interface ConfirmRequest {
  jobKey: string;
  nodeId: string;
  grants: Array<{ tick: number; token: number }>;
}

export interface ConfirmResult {
  serverTime: number;
  /** Per grant, in order: still this node's (now final), or taken over (must not run). */
  confirmed: boolean[];
}

/** Gives back a grant (`JobClaimStore.giveBack`). */
export interface GiveBackRequest {
  jobKey: string;
  nodeId: string;
  tick: number;
  token: number;
}

/** Ends a run that holds the run marker (`JobClaimStore.release`). */
export interface ReleaseRequest {
  jobKey: string;
  /** The token of the run (its marker). */
  token: number;
  nodeId: string;
  /** Lifetime of the marker of a tick that waited and starts now (ms). */
  runLease: number;
  /** How long (ms) a tick's record is kept: a tick that waited longer is not started. */
  retention: number;
  /** Start a tick that waited for this run (false while shutting down or without a lease). */
  takeNext: boolean;
  /** The highest fencing token this node has seen for the job. */
  tokenFloor?: number;
  /** The job's `paused` option: a paused job's waiting tick does not start. */
  initiallyPaused?: boolean;
}

/** Renews a run marker (`JobClaimStore.renew`). */
export interface RenewRequest {
  jobKey: string;
  token: number;
  runLease: number;
}

export interface ReleaseResult {
  /** False when the marker was no longer this run's (cancelled, or it expired). */
  held: boolean;
  serverTime: number;
  /** A tick that waited (`bufferOne`), now claimed for the releasing node. */
  next: { tick: number; token: number } | undefined;
}

/** One tick's record in Redis. */
export interface TickRecord {
  tick: number;
  /**
   * `granted`: claimed, its run not yet confirmed by its node; `lost`: refused because the store
   * lost data before it (it may have run); `paused`: skipped, the job paused.
   */
  status: 'granted' | 'claimed' | 'buffered' | 'overlap' | 'lost' | 'paused';
  token: number;
  nodeId: string;
  /** Redis time (ms) of the record (for a claim: when it was granted). */
  at: number;
}

// What distributed jobs need from a backend: one tick claimed once, run markers of the overlap
// policies, and the tick records; one contract for Redis (one script call per request) and memory.

/** Job claims of one namespace. Each call is one round trip on the keys of one job (one slot). */
export interface JobClaimStore {
  /** Claims a tick of a job (see `ClaimRequest`). */
  claim(request: ClaimRequest): Promise<ClaimResult>;
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
}

/** What a node asks of Redis to run one tick of a job. */
export interface ClaimRequest {
  jobKey: string;
  tick: number;
  nodeId: string;
  /** HMAC of the claim (`signingKey`), stored with it; '' without a key. */
  signature: string;
  /** Redis time (ms) after which the claim is refused: the tick's starting deadline. */
  notAfter: number;
  /**
   * Redis time (ms) before which the claim is refused (`early`): a cron tick's due time minus its
   * clock tolerance. 0 or absent: no such bound.
   */
  notBefore?: number;
  /**
   * ms: the claim is refused (`taken`) while the job's newest record was claimed less than this
   * long ago (a @Timeout job runs once per this long). 0 or absent: no such rule.
   */
  cooldown?: number;
  /** How long (ms, Redis time) a tick's record is kept; older ones are dropped as claims come. */
  retention: number;
  overlap: 'allow' | 'skip' | 'bufferOne' | 'cancelOther';
  /** Lifetime of the run marker (ms) when `overlap` is not `allow`; renewed while the run goes on. */
  runLease: number;
  /**
   * Missed ticks to claim too, oldest first: those of `ticks` later than the last tick with a record
   * and at most `window` ms old (Redis time).
   */
  catchup?: { window: number; ticks: Array<{ tick: number; signature: string }> };
  /** A record found forged (its signature): it is disregarded. */
  override?: string;
}

export type ClaimStatus = 'claimed' | 'taken' | 'late' | 'early' | 'overlap' | 'buffered';

export interface ClaimResult {
  /**
   * `claimed`: run `tick` with `token`; `taken`: another claim holds the tick; `late`: past its
   * starting deadline; `early`: before its clock tolerance; `overlap`: skipped, a run is in
   * progress; `buffered`: waits for that run.
   */
  status: ClaimStatus;
  /** The tick to run: the one asked for, or (`bufferOne`) a tick that waited for a run that died. */
  tick: number;
  /** Fencing token of the tick's claim (when claimed, or the holder's when taken). */
  token: number;
  /** Node that holds the tick (this one when claimed). */
  holder: string;
  /** Signature stored with the holding claim ('' when none). */
  signature: string;
  serverTime: number;
  /** Missed ticks claimed with this one, oldest first; run before `tick`. */
  catchup: Array<{ tick: number; token: number }>;
  /** Token of the run this claim cancelled (`cancelOther`). */
  cancelled: number | undefined;
  /** With `taken`: what holds the tick (a claim, a tick waiting, or a tick skipped by overlap). */
  takenAs: TickRecord['status'] | undefined;
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
  /** A tick that waited (`bufferOne`), now claimed for the releasing node. */
  next: { tick: number; token: number } | undefined;
}

/** One tick's record in Redis. */
export interface TickRecord {
  tick: number;
  status: 'claimed' | 'buffered' | 'overlap';
  token: number;
  nodeId: string;
  /** Redis time (ms) of the record (for a claim: when it was granted). */
  at: number;
}

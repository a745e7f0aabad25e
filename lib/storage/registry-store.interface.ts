// What the discovery and job layers need from a registry backend, with its requests and replies:
// one contract for both implementations, Redis (the product) and in memory (a single process).

/**
 * Records travel as raw JSON strings: the store keeps them verbatim and the discovery layer parses
 * and validates whatever it reads back.
 */
export interface RegistryStore {
  readonly kind: 'redis' | 'memory';
  /** Where the registry lives, for messages (`host:port`, sentinels, cluster nodes). */
  readonly address: string;
  /** The last connection error seen, if any (for messages). */
  readonly lastConnectionError: string | undefined;

  /**
   * Registers or renews `nodeId` until server time + `ttl`, and reaps expired peers on the way.
   * `tag` is `recordTag(record)`: a beat whose tag Redis already holds leaves the record out of the
   * call. `scope` names the digest fields of a partial view, returned in `scopes`.
   * Throws `DuplicateNodeIdError`.
   */
  beat(beat: BeatRequest): Promise<BeatResult>;
  /** Removes the node if `instance` still owns it and announces it; false when there was nothing to remove. */
  deregister(nodeId: string, instance: string): Promise<boolean>;
  /** Removes every node whose deadline has passed and announces each once, cluster-wide. */
  reap(scope?: string[]): Promise<ReapResult>;
  /**
   * Every node alive at `now` (Redis time), page by page: `onPage` gets each page's records and
   * their tags. Pages are not one atomic read: changes made meanwhile come as events. Resolves
   * with the registry's state after the last page.
   */
  snapshot(
    now: number,
    onPage: (records: string[], tags: string[]) => void,
    scope?: string[],
  ): Promise<RegistryVersion>;
  /** The live nodes of one service (`svc`) or pool (`pool`), with tags and the registry's state. */
  fetchScope(kind: 'svc' | 'pool', name: string, scope?: string[]): Promise<ScopeRead>;
  /** The nodes that offer `serviceName` with their deadlines (cost: that service's nodes). */
  fetchService(serviceName: string): Promise<FetchResult>;
  /** The record of `nodeId` if it is alive, read from the backend. */
  fetchNode(nodeId: string): Promise<string | undefined>;
  /** The registry's epoch, version and digests, to notice missed events. */
  version(scope?: string[]): Promise<RegistryVersion>;

  /** Delivers every raw event message; `onResubscribed` runs after a lost subscription came back. */
  subscribe(
    onMessage: (message: string) => void,
    onResubscribed: () => void,
  ): Promise<() => Promise<void>>;

  /** Claims a tick of a job (see `ClaimRequest`); one round trip. */
  claimTick(request: ClaimRequest): Promise<ClaimResult>;
  /**
   * Ends a run that holds the job's run marker (overlap policies other than `allow`). With a tick
   * waiting (`bufferOne`) and `takeNext`, that tick is claimed for `nodeId` at once and returned;
   * without, the next claim of the job runs it.
   */
  releaseRun(
    jobKey: string,
    token: number,
    nodeId: string,
    runLease: number,
    retention: number,
    takeNext: boolean,
  ): Promise<ReleaseResult>;
  /** Extends the run marker of `token` by `runLease` ms; false when the marker is no longer its own. */
  renewRun(jobKey: string, token: number, runLease: number): Promise<boolean>;
  /** The newest tick records of a job (claimed, buffered or skipped by overlap), newest first. */
  recentClaims(jobKey: string, limit: number): Promise<TickRecord[]>;

  /** Closes what the store owns (connections it opened). */
  close(): Promise<void>;
}

export interface BeatRequest {
  nodeId: string;
  /** Identifies the process that owns `nodeId`, so a second process with the same id is refused. */
  instance: string;
  /** The record as stored, and `recordTag(record)`. */
  record: string;
  tag: string;
  /** The node's pool (`serviceName`) and the names of the services it offers. */
  pool: string;
  services: string[];
  ttl: number;
  /** Digest fields of a partial view (`d:<service>`, `p:<pool>`). */
  scope?: string[];
}

export interface RegistryVersion {
  /** Identity of the registry's data: a new epoch means the data was lost and rebuilt. */
  epoch: string;
  version: number;
  /** Sum (mod 2^48) of the tags of every stored record (see registry-digest.ts). */
  digest: number;
  /** The digests of the fields a partial view asked for (`d:<service>`, `p:<pool>`). */
  scopes: Record<string, number>;
  /** Redis server time (ms) when the reply was made. */
  serverTime: number;
}

export interface ReapResult extends RegistryVersion {
  removed: string[];
  /** The earliest deadline still in the registry, or null when it is empty. */
  nextDeadline: number | null;
}

export interface BeatResult extends ReapResult {
  outcome: 'unchanged' | 'registered' | 'updated';
  /** Server time until which this node is alive. */
  deadline: number;
}

export interface ScopeRead extends RegistryVersion {
  records: string[];
  /** The tag Redis keeps for each of `records`. */
  tags: string[];
}

export interface FetchResult {
  records: string[];
  /** Each record's deadline (Redis time, ms): alive while it is ahead of Redis time. */
  deadlines: number[];
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

// What discovery needs from a registry backend, with its requests and replies: one contract for
// both implementations, Redis (the product) and in memory (a single process).

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
  /** Whether a connection to the registry was ever up: a command sent may have reached it. */
  readonly reachedRedis: boolean;

  /**
   * Registers or renews `nodeId` until server time + `ttl`, and reaps expired peers on the way.
   * `tag` is `recordTag(record)`: a beat whose tag Redis already holds leaves the record out of the
   * call. `scope` names the digest fields of a partial view, returned in `scopes`.
   * Throws `DuplicateNodeIdError` (another live process holds the id) and
   * `NodeDeregisteredError` (this instance deregistered it: a late beat).
   */
  beat(beat: BeatRequest): Promise<BeatResult>;
  /**
   * Removes the node if `instance` still owns it and announces it (false when there was nothing
   * to remove), and leaves a tombstone for `ttl` ms that refuses every later beat of `instance`.
   */
  deregister(nodeId: string, instance: string, ttl: number): Promise<boolean>;
  /**
   * Adds every digest up again from what the registry holds (one pass over it): the repair of a
   * digest that went wrong. Resolves with the state after it and how many fields were wrong (-1:
   * skipped, another recount ran less than `minGap` ms ago).
   */
  recount(scope?: string[], minGap?: number): Promise<RecountResult>;
  /**
   * Removes every node whose deadline has passed and announces each once, cluster-wide; unless
   * `ownDeadline` (the asking node's, as its last beat reply said) has passed too: it was away, or
   * Redis stood still, and it cannot tell who is gone (see reap-expired.lua).
   */
  reap(scope?: string[], ownDeadline?: number): Promise<ReapResult>;
  /**
   * Every node alive at `now` (Redis time), page by page: `onPage` gets each page's records and
   * their tags, and how many live records it left out (no valid signed lease). Pages are not one
   * atomic read: changes made meanwhile come as events. Resolves with the state after the last page.
   */
  snapshot(
    now: number,
    onPage: (records: string[], tags: string[], skipped: number) => void,
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
  /**
   * With a signing key: until when (Redis time, ms, as this node estimates it) the beat vouches
   * for the record, signed into a lease that readers check (undefined: no lease).
   */
  leaseUntil?: number;
  /** Digest fields of a partial view (`d:<service>`, `p:<pool>`). */
  scope?: string[];
}

export interface RegistryVersion {
  /** Identity of the registry's data: a new epoch means the data was lost and rebuilt. */
  epoch: string;
  version: number;
  /** Sum (mod 2^48) of the tags of every stored record (see registry-digest.ts). */
  digest: number;
  /** How many nodes hold a deadline (Redis's own count, whoever wrote them; expired ones too until reaped). */
  count: number;
  /** The digests of the fields a partial view asked for (`d:<service>`, `p:<pool>`). */
  scopes: Record<string, number>;
  /** Redis server time (ms) when the reply was made. */
  serverTime: number;
}

export interface RecountResult extends RegistryVersion {
  /** How many digest fields were wrong (and are now right). */
  wrong: number;
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

/**
 * What the discovery and job layers need from a registry backend. Two implementations: Redis (the
 * product) and in-memory (a single process). Records travel as raw JSON strings: the store keeps
 * them verbatim and the discovery layer parses and validates whatever it reads back.
 */
export interface RegistryStore {
  readonly kind: 'redis' | 'memory';

  /**
   * Registers or renews `nodeId` until server time + `ttl`, and reaps expired peers on the way.
   * Throws `DuplicateNodeIdError`.
   */
  beat(
    nodeId: string,
    instance: string,
    record: string,
    services: string[],
    ttl: number,
  ): Promise<BeatResult>;
  /** Removes the node if `instance` still owns it and announces it; false when there was nothing to remove. */
  deregister(nodeId: string, instance: string): Promise<boolean>;
  /** Removes every node whose deadline has passed and announces each once, cluster-wide. */
  reap(): Promise<ReapResult>;
  /** Every live node, with the registry's epoch and version. */
  snapshot(): Promise<RegistrySnapshot>;
  /** The live nodes that offer `serviceName`, read from the backend (cost: that service's nodes). */
  fetchService(serviceName: string): Promise<FetchResult>;
  /** The record of `nodeId` if it is alive, read from the backend. */
  fetchNode(nodeId: string): Promise<string | undefined>;
  /** The registry's epoch and version, to notice missed events. */
  version(): Promise<RegistryVersion>;

  /** Delivers every raw event message; `onResubscribed` runs after a lost subscription came back. */
  subscribe(
    onMessage: (message: string) => void,
    onResubscribed: () => void,
  ): Promise<() => Promise<void>>;

  /**
   * Claims `tick` of a job for `nodeId` if no equal or later tick was claimed. `signature` is
   * stored with the claim; `override` names a claim found forged, which is then disregarded.
   */
  claimTick(
    jobKey: string,
    tick: number,
    nodeId: string,
    signature?: string,
    override?: { tick: number; signature: string },
  ): Promise<ClaimResult>;

  /** Closes what the store owns (connections it opened). */
  close(): Promise<void>;
}

export interface RegistryVersion {
  /** Identity of the registry's data: a new epoch means the data was lost and rebuilt. */
  epoch: string;
  version: number;
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

export interface RegistrySnapshot extends RegistryVersion {
  records: string[];
}

export interface FetchResult {
  records: string[];
  serverTime: number;
}

export interface ClaimResult {
  claimed: boolean;
  /** Fencing token of the winning claim (this one if claimed), strictly increasing per job. */
  token: number;
  /** Node that holds the latest claim. */
  holder: string;
  /** Tick of the latest claim. */
  tick: number;
  /** Signature stored with the latest claim ('' when none). */
  signature: string;
  serverTime: number;
}

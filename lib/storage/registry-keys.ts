// The Redis key layout of a namespace: all registry keys share the hash tag `{<keyPrefix>}` (one
// slot, so scripts run on Cluster); job claim keys carry their own tag to spread over shards.

export interface RegistryKeys {
  /** HASH nodeId -> record JSON */
  nodes: string;
  /** ZSET nodeId -> deadline (Redis server time, ms) */
  deadlines: string;
  /**
   * HASH epoch, version, digests, and `o:<nodeId>` -> each node's owner ('<instance> <tag>
   * <pool> <services>'), or its tombstone ('gone <instance>')
   */
  meta: string;
  /** ZSET nodeId -> when its tombstone lapses (Redis server time, ms) */
  gone: string;
  /** SET per service name of nodeIds: `<service>` is appended */
  servicePrefix: string;
  /** SET per pool name of nodeIds: `<pool>` is appended */
  poolPrefix: string;
  channel: string;
}

export function registryKeys(keyPrefix: string, channel: string): RegistryKeys {
  const tag = `{${keyPrefix}}`;
  return {
    nodes: `${tag}:nodes`,
    deadlines: `${tag}:deadlines`,
    meta: `${tag}:meta`,
    gone: `${tag}:gone`,
    servicePrefix: `${tag}:svc:`,
    poolPrefix: `${tag}:pool:`,
    channel,
  };
}

export function jobKey(keyPrefix: string, pool: string, jobName: string): string {
  return `${keyPrefix}:job:{${pool}:${jobName}}`;
}

/** The two keys of a job's claims: its hash and the sorted set of its ticks (one hash slot). */
export function jobKeys(jobKey: string): [string, string] {
  return [jobKey, `${jobKey}:ticks`];
}

/** The job's two keys and its run history (a list, newest first): all in the job's slot. */
export function jobHistoryKeys(jobKey: string): [string, string, string] {
  return [jobKey, `${jobKey}:ticks`, `${jobKey}:runs`];
}

/** The job's keys a backfill reads and writes: its own three and the ticks backfills claimed. */
export function jobBackfillKeys(jobKey: string): [string, string, string, string] {
  return [...jobHistoryKeys(jobKey), `${jobKey}:backfilled`];
}

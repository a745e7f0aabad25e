/**
 * Key layout. Every registry key of a namespace shares the hash tag `{<keyPrefix>}`, so each
 * registry script touches one slot and runs unchanged on Redis Cluster. Job claim keys carry their
 * own tag (pool + job), so jobs spread over the shards of a cluster.
 */
export interface RegistryKeys {
  /** HASH nodeId -> record JSON */
  nodes: string;
  /** ZSET nodeId -> deadline (Redis server time, ms) */
  deadlines: string;
  /** HASH epoch, version */
  meta: string;
  /** HASH nodeId -> instance id of the owning process */
  owners: string;
  /** SET per service name of nodeIds: `<service>` is appended */
  servicePrefix: string;
  channel: string;
}

export function registryKeys(keyPrefix: string, channel: string): RegistryKeys {
  const tag = `{${keyPrefix}}`;
  return {
    nodes: `${tag}:nodes`,
    deadlines: `${tag}:deadlines`,
    meta: `${tag}:meta`,
    owners: `${tag}:owners`,
    servicePrefix: `${tag}:svc:`,
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

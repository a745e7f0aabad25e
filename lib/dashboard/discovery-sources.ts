// Finds what the page reads, the app's ServiceDiscovery, NodePool and DistributedJobs, wherever
// DiscoveryModule was imported (global or not), so the page needs no import wiring.
import type { ModuleRef } from '@nestjs/core';
import { DiscoveryError } from '../common/errors.js';
import { DISCOVERY_OPTIONS } from '../discovery.constants.js';
import { ServiceDiscovery } from '../discovery/service-discovery.service.js';
import { DistributedJobs } from '../jobs/distributed-jobs.service.js';
import { NodePool } from '../node-pool/node-pool.service.js';
import type { ResolvedDiscoveryOptions } from '../options/discovery-options.interface.js';
import type { HeartbeatTiming } from './node-suspicion.js';

export interface DiscoverySources {
  discovery: ServiceDiscovery;
  pool: NodePool;
  jobs: DistributedJobs;
  /** Virtual nodes per node (option `hashReplicas`), to draw the ring as the pool builds it. */
  hashReplicas: number;
  /** This node's heartbeat settings, by which the pool's heartbeats are judged overdue. */
  heartbeat: HeartbeatTiming;
}

export function findDiscoverySources(moduleRef: ModuleRef): DiscoverySources {
  const options = only<ResolvedDiscoveryOptions>(moduleRef, DISCOVERY_OPTIONS);
  return {
    discovery: only(moduleRef, ServiceDiscovery),
    pool: only(moduleRef, NodePool),
    jobs: only(moduleRef, DistributedJobs),
    hashReplicas: options.hashReplicas,
    heartbeat: {
      heartbeatInterval: options.heartbeatInterval,
      heartbeatTTL: options.heartbeatTTL,
    },
  };
}

function only<T>(moduleRef: ModuleRef, token: symbol | (abstract new (...args: never[]) => T)): T {
  let found: T[] = [];
  try {
    found = moduleRef.get<T, T>(token as never, { strict: false, each: true });
  } catch {
    // not provided anywhere: reported below
  }
  if (found.length === 1) return found[0];
  throw new DiscoveryError(
    found.length === 0
      ? 'DiscoveryDashboardModule needs DiscoveryModule.forRoot() or forRootAsync() in the same app'
      : `DiscoveryDashboardModule found ${found.length} DiscoveryModules in the app; it can show only one`,
  );
}

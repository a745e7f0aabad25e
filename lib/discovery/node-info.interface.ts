// The public shapes of discovery: a node as peers see it (NodeInfo), the change events and their
// handlers, and the counters of `DiscoveryStats`.
import type { ServiceDescriptor } from '../options/discovery-options.interface.js';

/** A node as peers see it. */
export interface NodeInfo {
  nodeId: string;
  /** The pool the node shares jobs in (option `serviceName`). */
  serviceName: string;
  address: string;
  services: ServiceDescriptor[];
  metadata: Record<string, string>;
}

export type DiscoveryEventType = 'NODE_REGISTERED' | 'NODE_UPDATED' | 'NODE_DEREGISTERED';

/** Why a node left: it shut down cleanly, or its heartbeats stopped and its lease ran out. */
export type DeregistrationReason = 'shutdown' | 'expired';

export interface DiscoveryEvent extends NodeInfo {
  type: DiscoveryEventType;
  /** Redis server time of the change, in ms. */
  timestamp: number;
  /** Set on `NODE_DEREGISTERED`. */
  reason?: DeregistrationReason;
  /**
   * True when the event was not received but derived from a resync after missed messages; its
   * `timestamp` is then when the change was noticed and a missed removal reads as `expired`.
   */
  resynced?: boolean;
}

export type DiscoveryEventHandler = (event: DiscoveryEvent) => void | Promise<void>;

/** Counters of what the service skipped or recovered from; they only grow. */
export interface DiscoveryStats {
  heartbeats: number;
  heartbeatFailures: number;
  reRegistrations: number;
  /** Times the view was replaced by a snapshot (missed events, rollbacks, divergences). */
  resyncs: number;
  /**
   * Times Redis answered with a lower version than the view had already applied: Redis lost
   * writes (a failover, a restore), or an event claimed a version Redis never reached.
   */
  rollbacks: number;
  /** Times the view's digest differed from Redis's at the same version (a forged or lost event). */
  divergences: number;
  /** Change events received on the channel (well-formed; applied, confirmed or not). */
  eventsReceived: number;
  malformedEvents: number;
  malformedRecords: number;
  /** Records, events and job claims that failed signature verification (with `signingKey`). */
  unverified: number;
  handlerErrors: number;
  /**
   * ms this node's wall clock (`Date.now()`, which fires `@Cron`) is ahead of Redis time
   * (negative: behind), as of the last heartbeat; undefined before the first.
   */
  clockOffset: number | undefined;
}

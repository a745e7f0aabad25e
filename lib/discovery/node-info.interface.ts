// The public shapes of discovery: a node as peers see it (NodeInfo), the change events and their
// handlers.
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

import {
  addressRule,
  isPlainObject,
  metadataRule,
  nameRule,
  servicesRule,
} from '../common/field-rules.js';
import type { ServiceDescriptor } from '../options/discovery-options.interface.js';
import type { DeregistrationReason, DiscoveryEventType, NodeInfo } from './node-info.interface.js';

/** Largest record or event accepted from Redis; anything larger is garbage or an attack. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * Serializes a node with a fixed key order: the Redis script compares the stored string with the
 * new one to tell a plain heartbeat (no event) from a change.
 */
export function encodeRecord(node: NodeInfo): string {
  return JSON.stringify({
    nodeId: node.nodeId,
    serviceName: node.serviceName,
    address: node.address,
    services: node.services.map(({ name, version }) =>
      version === undefined ? { name } : { name, version },
    ),
    metadata: node.metadata,
  });
}

/** Parses a record read from Redis; undefined when it is not a well-formed node. */
export function decodeRecord(raw: string): NodeInfo | undefined {
  if (raw.length > MAX_MESSAGE_BYTES) return undefined;
  return toNode(parse(raw));
}

export interface WireEvent {
  type: DiscoveryEventType;
  epoch: string;
  version: number;
  timestamp: number;
  reason?: DeregistrationReason;
  node: NodeInfo;
}

const TYPES: ReadonlySet<string> = new Set([
  'NODE_REGISTERED',
  'NODE_UPDATED',
  'NODE_DEREGISTERED',
]);

/** Parses a message from the events channel; undefined when it is not one of ours, well formed. */
export function decodeEvent(raw: unknown): WireEvent | undefined {
  if (typeof raw !== 'string' || raw.length > MAX_MESSAGE_BYTES) return undefined;
  const value = parse(raw);
  if (!isPlainObject(value)) return undefined;
  const { type, epoch, version, timestamp, reason } = value;
  if (typeof type !== 'string' || !TYPES.has(type)) return undefined;
  if (typeof epoch !== 'string' || epoch.length === 0 || epoch.length > 64) return undefined;
  if (!Number.isSafeInteger(version) || (version as number) < 0) return undefined;
  if (!Number.isSafeInteger(timestamp)) return undefined;
  if (
    type === 'NODE_DEREGISTERED'
      ? reason !== 'shutdown' && reason !== 'expired'
      : reason !== undefined
  ) {
    return undefined;
  }
  const node = toNode(value.node);
  if (!node) return undefined;
  return {
    type: type as DiscoveryEventType,
    epoch,
    version: version as number,
    timestamp: timestamp as number,
    ...(reason === undefined ? {} : { reason: reason as DeregistrationReason }),
    node,
  };
}

function toNode(value: unknown): NodeInfo | undefined {
  if (!isPlainObject(value)) return undefined;
  const { nodeId, serviceName, address, services, metadata } = value;
  if (nameRule(nodeId) || nameRule(serviceName) || addressRule(address)) return undefined;
  if (servicesRule(services) || metadataRule(metadata)) return undefined;
  return {
    nodeId: nodeId as string,
    serviceName: serviceName as string,
    address: address as string,
    services: (services as ServiceDescriptor[]).map((s) => ({ ...s })),
    metadata: { ...(metadata as Record<string, string>) },
  };
}

function parse(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

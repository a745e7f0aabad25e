// The wire format of nodes: records and events as Redis stores and publishes them, written in one
// canonical key order (signed with a key) and checked on the way back, as Redis may hold garbage.
import { addressRule, isPlainObject, nameRule } from '../../common/field-rules.js';
import {
  canonicalRecord,
  MAX_EVENT_BYTES,
  MAX_RECORD_BYTES,
  overBytes,
} from '../../common/record-size.js';
import type { RecordSigner } from '../../common/record-signer.js';
import type { DeregistrationReason, DiscoveryEventType, NodeInfo } from '../node-info.interface.js';
import { RecordInterner } from './record-interner.js';

/** Why a record or event was not accepted. */
export type Rejection = 'malformed' | 'unverified';

/**
 * Serializes a node with a fixed key order: the Redis script compares the stored string with the
 * new one to tell a plain heartbeat (no event) from a change. With a signer, the record carries an
 * HMAC of that canonical form.
 */
export function encodeRecord(node: NodeInfo, signer?: RecordSigner): string {
  const canonical = canonicalRecord(node);
  return signer
    ? `${canonical.slice(0, -1)},"sig":${JSON.stringify(signer.sign(canonical))}}`
    : canonical;
}

/** Parses (and, with a signer, verifies) a record read from Redis. */
export function decodeRecord(raw: string, signer?: RecordSigner): NodeInfo | Rejection {
  if (overBytes(raw, MAX_RECORD_BYTES)) return 'malformed';
  return toNode(parse(raw), signer);
}

export interface WireEvent {
  type: DiscoveryEventType;
  epoch: string;
  version: number;
  timestamp: number;
  reason?: DeregistrationReason;
  node: NodeInfo;
  /** The record as Redis stored it: the scripts embed it verbatim as the last field. */
  record: string;
}

const TYPES: ReadonlySet<string> = new Set([
  'NODE_REGISTERED',
  'NODE_UPDATED',
  'NODE_DEREGISTERED',
]);

/** Parses a message from the events channel (verifying its node with a signer). */
export function decodeEvent(raw: unknown, signer?: RecordSigner): WireEvent | Rejection {
  if (typeof raw !== 'string' || overBytes(raw, MAX_EVENT_BYTES)) return 'malformed';
  const value = parse(raw);
  if (!isPlainObject(value)) return 'malformed';
  const { type, epoch, version, timestamp, reason } = value;
  if (typeof type !== 'string' || !TYPES.has(type)) return 'malformed';
  if (typeof epoch !== 'string' || epoch.length === 0 || epoch.length > 64) return 'malformed';
  if (!Number.isSafeInteger(version) || (version as number) < 0) return 'malformed';
  if (!Number.isSafeInteger(timestamp)) return 'malformed';
  if (
    type === 'NODE_DEREGISTERED'
      ? reason !== 'shutdown' && reason !== 'expired'
      : reason !== undefined
  ) {
    return 'malformed';
  }
  const node = toNode(value.node, signer);
  if (typeof node === 'string') return node;
  // The first `"node":` is the key: no earlier field can hold an unescaped quote.
  const at = raw.indexOf('"node":');
  return {
    type: type as DiscoveryEventType,
    epoch,
    version: version as number,
    timestamp: timestamp as number,
    ...(reason === undefined ? {} : { reason: reason as DeregistrationReason }),
    node,
    record: raw.slice(at + 7, raw.length - 1),
  };
}

const RECORD_KEYS = new Set(['nodeId', 'serviceName', 'address', 'services', 'metadata', 'sig']);
const interner = new RecordInterner();

/**
 * Checks a parsed record and returns it as a NodeInfo: the parsed object itself (frozen) when it
 * has only the record's keys, as records written by this library do, with its service list and
 * metadata shared with other records that have the same ones (see RecordInterner).
 */
function toNode(value: unknown, signer: RecordSigner | undefined): NodeInfo | Rejection {
  if (!isPlainObject(value)) return 'malformed';
  const { nodeId, serviceName, address } = value;
  if (nameRule(nodeId) || nameRule(serviceName) || addressRule(address)) return 'malformed';
  const services = interner.services(value.services);
  const metadata = interner.metadata(value.metadata);
  if (!services || !metadata) return 'malformed';
  const sig = value.sig;
  let node: NodeInfo;
  if (Object.keys(value).every((key) => RECORD_KEYS.has(key))) {
    // `sig` is the last key written, so deleting it keeps the object's fast shape.
    if ('sig' in value) delete value.sig;
    value.services = services;
    value.metadata = metadata;
    node = value as unknown as NodeInfo;
  } else {
    node = {
      nodeId: nodeId as string,
      serviceName: serviceName as string,
      address: address as string,
      services,
      metadata,
    };
  }
  if (signer && !signer.verify(canonicalRecord(node), sig)) return 'unverified';
  return Object.freeze(node);
}

/** Nodes are handed to callers without copies, so they are read-only. */
export function freezeNode(node: NodeInfo): NodeInfo {
  for (const service of node.services) Object.freeze(service);
  Object.freeze(node.services);
  Object.freeze(node.metadata);
  return Object.freeze(node);
}

function parse(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

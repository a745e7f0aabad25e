// The one size limit of a node's record, held the same by the option rules, the update calls and
// the decoder of what peers read back: a record peers would skip as oversized is refused where it
// is made, with an error naming the field and the size.
/** Largest record (bytes of UTF-8, signature included) a node writes and a peer accepts. */
export const MAX_RECORD_BYTES = 64 * 1024;
/** Largest event accepted from the channel: a record and the envelope around it. */
export const MAX_EVENT_BYTES = MAX_RECORD_BYTES + 512;
/** What a signature adds to a record: `,"sig":"<43 base64url characters>"`. */
const SIGNATURE_BYTES = 52;

export interface RecordFields {
  nodeId: string;
  serviceName: string;
  address: string;
  services: Array<{ name: string; version?: string }>;
  metadata: Record<string, string>;
}

/** A node's record before signing: one canonical key order (see node-record.codec.ts). */
export function canonicalRecord(node: RecordFields): string {
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

/** Whether a string read from Redis is over `max` bytes (cheap when it is far under). */
export function overBytes(raw: string, max: number): boolean {
  if (raw.length > max) return true;
  return raw.length * 3 > max && Buffer.byteLength(raw) > max;
}

/**
 * Why a record with these fields would be too large (completing "<field> ..."), or undefined.
 * `field` names the part being set: its own size is given beside the record's.
 */
export function recordSizeProblem(
  node: RecordFields,
  field: keyof RecordFields,
): string | undefined {
  const bytes = Buffer.byteLength(canonicalRecord(node)) + SIGNATURE_BYTES;
  if (bytes <= MAX_RECORD_BYTES) return undefined;
  const own = Buffer.byteLength(JSON.stringify(node[field]));
  return `(${own} bytes as JSON) would make this node's record ${bytes} bytes, over the ${MAX_RECORD_BYTES}-byte limit of a record (peers skip larger ones)`;
}

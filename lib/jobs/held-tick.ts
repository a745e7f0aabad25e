// A tick a peer already holds, read without a claim: what a node that is not the job's owner
// checks first, when the owner has most likely taken the tick, so that its refusal costs Redis a
// plain HMGET instead of a claim script. Only a record the claim script would refuse the same way
// counts; anything else (no record, a grant still unconfirmed, garbage, a signature that does not
// verify) goes to the claim, which decides.
import type { RecordSigner } from '../common/record-signer.js';
import type { ClaimResult, StoredTick } from '../storage/job-claim-store.interface.js';
import { parseTickRecord } from '../storage/tick-record.js';

/**
 * The answer `claim-2.lua` gives for a tick stored as `stored` ('taken', by a confirmed claim, a
 * buffered tick or an overlap skip, with the larger of the job's retention and this node's), or
 * undefined when only the claim can tell: an unconfirmed grant may be taken over, and a record a
 * signer does not verify is overridden.
 */
export function heldTick(
  jobKey: string,
  tick: number,
  stored: StoredTick,
  retention: number,
  signer: RecordSigner | undefined,
): ClaimResult | undefined {
  const raw = stored.record;
  if (raw === undefined) return undefined;
  const record = parseTickRecord(tick, raw);
  if (!record || record.status === 'granted') return undefined;
  const signature = raw.split(' ')[4] ?? '';
  if (signer && !signer.verify(`${jobKey}\n${tick}`, signature)) return undefined;
  return {
    status: 'taken',
    tick,
    token: record.token,
    holder: record.nodeId,
    signature,
    record: raw,
    markerTick: undefined,
    serverTime: NaN, // no TIME read: the clock learns nothing from it
    catchup: [],
    cancelled: undefined,
    takenAs: record.status,
    tookOver: undefined,
    retention: Math.max(retention, stored.retention),
    forgedToken: false,
    forgedMarker: false,
  };
}

// A tick a peer already holds, read without a claim: what a node that is not the job's owner
// checks first, when the owner has most likely taken the tick, so that its refusal costs Redis a
// plain HMGET instead of a claim script. Only a record the claim script would refuse the same way
// counts; anything else (no record, a grant still unconfirmed, garbage, a signature that does not
// verify) goes to the claim, which decides.
import type { RecordSigner } from '../common/record-signer.js';
import type {
  ClaimResult,
  JobClaimStore,
  StoredTick,
} from '../storage/job-claim-store.interface.js';
import { parseTickRecord } from '../storage/tick-record.js';
import type { JobState } from './job-state.js';

/** What the claim would have sent: the tick, and the claimer's retention, token floor and key. */
export interface HeldTickQuery {
  jobKey: string;
  tick: number;
  retention: number;
  tokenFloor: number;
  signer: RecordSigner | undefined;
}

/**
 * The answer `claim-2.lua` gives for a tick stored as `stored` ('taken', by a confirmed claim, a
 * buffered tick, an overlap skip or a tick lost with Redis data, with the larger retention and
 * the store's `lostAt`), or undefined when only the claim can tell: an unconfirmed grant may be
 * taken over, a record a signer does not verify is overridden, and a token floor above the
 * stored token means Redis lost data, which the claim records.
 */
export function heldTick(stored: StoredTick, query: HeldTickQuery): ClaimResult | undefined {
  const { jobKey, tick, signer } = query;
  const raw = stored.record;
  if (raw === undefined || query.tokenFloor > stored.token) return undefined;
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
    retention: Math.max(query.retention, stored.retention),
    forgedToken: false,
    forgedMarker: false,
    dataLostAt: stored.lostAt,
  };
}

/** Reads `tick` of `job` from the store (one plain read) and tells whether a peer holds it. */
export async function readHeldTick(
  claims: JobClaimStore,
  job: JobState,
  tick: number,
  signer: RecordSigner | undefined,
): Promise<ClaimResult | undefined> {
  const { key, retention } = job.definition;
  const stored = await claims.record(key, tick);
  return heldTick(stored, { jobKey: key, tick, retention, tokenFloor: job.highestToken, signer });
}

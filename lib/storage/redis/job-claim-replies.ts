// Reads the replies of the job-claim scripts (`claim-2.lua`, `confirm-2.lua`, `release-run-2.lua`,
// `recent-claims-2.lua`), one decoder per script, field by field as each script's header lists them.
import type {
  ClaimResult,
  ConfirmResult,
  ReleaseResult,
  TickRecord,
} from '../job-claim-store.interface.js';
import { parseTickRecord } from '../tick-record.js';
import type { ScriptReply } from './redis-script.js';

/**
 * {status, tick, token, holder, signature, now, cancelled, taken as, took over, retention, flags,
 * marker tick, record, data lost at, caught tick, token...}
 */
export function decodeClaim(reply: ScriptReply): ClaimResult {
  const [
    status,
    tick,
    token,
    holder,
    signature,
    serverTime,
    cancelled,
    takenAs,
    tookOver,
    retention,
    flags,
    markerTick,
    record,
    lostAt,
    ...caught
  ] = reply;
  const catchup: ClaimResult['catchup'] = [];
  for (let i = 0; i + 1 < caught.length; i += 2) {
    catchup.push({ tick: Number(caught[i]), token: Number(caught[i + 1]) });
  }
  const flagged = String(flags ?? '').split(',');
  return {
    status: String(status) as ClaimResult['status'],
    tick: Number(tick),
    token: Number(token),
    holder: String(holder ?? ''),
    signature: String(signature ?? ''),
    record: String(record ?? ''),
    markerTick: markerTick ? Number(markerTick) : undefined,
    serverTime: Number(serverTime),
    catchup,
    cancelled: cancelled ? Number(cancelled) : undefined,
    takenAs: takenAs ? (String(takenAs) as ClaimResult['takenAs']) : undefined,
    tookOver: tookOver ? String(tookOver) : undefined,
    retention: Number(retention),
    forgedToken: flagged.includes('forgedToken'),
    forgedMarker: flagged.includes('forgedMarker'),
    dataLostAt: lostAt ? Number(lostAt) : undefined,
  };
}

/** {now, 1|0 per grant} */
export function decodeConfirm([serverTime, ...flags]: ScriptReply): ConfirmResult {
  return { serverTime: Number(serverTime), confirmed: flags.map((flag) => Number(flag) === 1) };
}

/** {held 0|1, now, next tick, next token} */
export function decodeRelease([held, serverTime, tick, token]: ScriptReply): ReleaseResult {
  return {
    held: Number(held) === 1,
    serverTime: Number(serverTime),
    next: tick === undefined ? undefined : { tick: Number(tick), token: Number(token) },
  };
}

/** {tick, record, ...}: records that do not parse are left out. */
export function decodeRecentClaims(reply: ScriptReply): TickRecord[] {
  const records: TickRecord[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const record = parseTickRecord(Number(reply[i]), String(reply[i + 1]));
    if (record) records.push(record);
  }
  return records;
}

// Reads the replies of the scripts that operate a job (`pause-2.lua`, `trigger-2.lua`,
// `record-run-3.lua`, `describe-3.lua`), field by field as each script's header lists them.
import {
  TOTAL_FIELDS,
  type BackfillClaim,
  type BackfillSkip,
  type JobSnapshot,
  type PauseResult,
  type RecordRunResult,
  type TriggerResult,
} from '../job-operations.interface.js';
import { parseHistoryEntry, totalsOf } from '../run-history.js';
import type { ScriptReply } from './redis-script.js';

/** {now, was paused 1|0} */
export function decodePause([serverTime, was]: ScriptReply): PauseResult {
  return { serverTime: Number(serverTime), wasPaused: Number(was) === 1 };
}

/** {status, tick, token, holder, now, cancelled, holds marker 1|0} */
export function decodeTrigger(reply: ScriptReply): TriggerResult {
  const [status, tick, token, holder, serverTime, cancelled, holds] = reply;
  return {
    status: String(status) as TriggerResult['status'],
    tick: Number(tick),
    token: Number(token),
    holder: String(holder ?? ''),
    serverTime: Number(serverTime),
    cancelled: cancelled ? Number(cancelled) : undefined,
    holdsMarker: Number(holds) === 1,
  };
}

/** {now, failures in a row, paused 1|0} */
export function decodeRecordRun([serverTime, inRow, paused]: ScriptReply): RecordRunResult {
  return {
    serverTime: Number(serverTime),
    failuresInRow: Number(inRow),
    paused: Number(paused) === 1,
  };
}

/** {now, paused, reason, paused at, paused by, failures in a row, totals..., entries...} */
export function decodeDescribe(reply: ScriptReply): JobSnapshot {
  const [serverTime, paused, reason, at, by, inRow] = reply;
  const counts = reply.slice(6, 6 + TOTAL_FIELDS.length).map(Number);
  const isPaused = Number(paused) === 1;
  return {
    serverTime: Number(serverTime),
    paused: isPaused,
    pauseReason: isPaused ? String(reason ?? '') : undefined,
    pausedAt: isPaused && at ? Number(at) : undefined,
    pausedBy: isPaused && by ? String(by) : undefined,
    failuresInRow: Number(inRow),
    totals: totalsOf(counts),
    runs: reply
      .slice(6 + TOTAL_FIELDS.length)
      .flatMap((raw) => parseHistoryEntry(String(raw)) ?? []),
  };
}

/** {status, now, tick (or oldest known), token, skipped tick, why...} */
export function decodeBackfill(reply: ScriptReply): BackfillClaim {
  const [status, serverTime, tick, token, ...rest] = reply;
  const skipped: BackfillClaim['skipped'] = [];
  for (let i = 0; i + 1 < rest.length; i += 2) {
    skipped.push({ tick: Number(rest[i]), reason: String(rest[i + 1]) as BackfillSkip });
  }
  const claimed = status === 'claimed';
  return {
    status: String(status) as BackfillClaim['status'],
    serverTime: Number(serverTime),
    tick: claimed ? Number(tick) : undefined,
    token: claimed ? Number(token) : undefined,
    oldestKnown: status === 'unknown' ? Number(tick) : undefined,
    skipped,
  };
}

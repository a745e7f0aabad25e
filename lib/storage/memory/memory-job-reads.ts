// The plain reads of the in-memory job claims (no rule applied): the newest tick records, and one
// tick's record with what a claim reads of the job before it.
import type { StoredTick, TickRecord } from '../job-claim-store.interface.js';
import { parseTickRecord } from '../tick-record.js';
import type { JobClaims } from './memory-job-state.js';

/** The newest `limit` tick records of `job`, newest first (those that do not parse left out). */
export function recentRecords(job: JobClaims, limit: number): TickRecord[] {
  return [...job.ticks.entries()]
    .sort(([a], [b]) => b - a)
    .slice(0, limit)
    .flatMap(([tick, raw]) => parseTickRecord(tick, raw) ?? []);
}

/** `tick`'s record as stored, with the job's retention, token and `lostAt` (a job never seen: none). */
export function storedTick(job: JobClaims | undefined, tick: number): StoredTick {
  return {
    record: job?.ticks.get(tick),
    retention: job?.retention ?? 0,
    token: job?.token ?? 0,
    lostAt: job?.lostAt,
  };
}

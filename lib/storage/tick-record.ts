// The record Redis keeps for each claimed tick of a job (`t:<tick>` in the job hash), as the claim
// scripts write it, and its parser for what is read back (Redis may hold anything).
import type { TickRecord } from './job-claim-store.interface.js';

/** Parses a `t:<tick>` record of the job hash; undefined for anything else. */
export function parseTickRecord(tick: number, record: string): TickRecord | undefined {
  const match = /^(granted|claimed|buffered|overlap|lost) (\d+) (\S+) (\d+)/.exec(record);
  if (!match || !Number.isFinite(tick)) return undefined;
  return {
    tick,
    status: match[1] as TickRecord['status'],
    token: Number(match[2]),
    nodeId: match[3],
    at: Number(match[4]),
  };
}

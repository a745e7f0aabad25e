// The run history as both stores keep it (JSON entries, as record-run-3.lua writes them) and the
// totals in the order the stores read them; entries that do not parse (Redis may hold anything)
// are left out.
import { TOTAL_FIELDS, type JobTotals, type RunHistoryEntry } from './job-operations.interface.js';

/** Totals from counts in the order of TOTAL_FIELDS. */
export function totalsOf(counts: number[]): JobTotals {
  const n = (field: (typeof TOTAL_FIELDS)[number]) => counts[TOTAL_FIELDS.indexOf(field)] || 0;
  return {
    runs: n('runs'),
    ok: n('ok'),
    error: n('error'),
    aborted: n('aborted'),
    cancelled: n('cancelled'),
    retries: n('retries'),
    triggered: n('triggered'),
    backfilled: n('backfilled'),
    skipped: { paused: n('skip:paused'), overlap: n('skip:overlap') },
  };
}

const OUTCOMES = new Set(['ok', 'error', 'aborted', 'cancelled']);
const KINDS = new Set(['schedule', 'catchup', 'trigger', 'backfill']);

/** A history entry as record-run-3.lua writes it; undefined for anything else. */
export function parseHistoryEntry(raw: string): RunHistoryEntry | undefined {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { tick, node, token, start, end, outcome, attempt, kind, error } = value;
  const numbers = [tick, token, start, end, attempt];
  if (!numbers.every((n) => typeof n === 'number' && Number.isFinite(n))) return undefined;
  if (typeof node !== 'string' || !OUTCOMES.has(outcome as string) || !KINDS.has(kind as string))
    return undefined;
  const entry: RunHistoryEntry = {
    tick: tick as number,
    node,
    token: token as number,
    start: start as number,
    end: end as number,
    outcome: outcome as RunHistoryEntry['outcome'],
    attempt: attempt as number,
    kind: kind as RunHistoryEntry['kind'],
  };
  const failure = error as { class?: unknown; message?: unknown } | undefined;
  if (failure && typeof failure.class === 'string' && typeof failure.message === 'string') {
    entry.error = { class: failure.class, message: failure.message };
  }
  return entry;
}

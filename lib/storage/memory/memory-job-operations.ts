// Operating a job in memory, by the rules of `pause-2.lua`, `trigger-2.lua`, `record-run-3.lua`,
// `backfill-4.lua` and `describe-3.lua`: the pause state claims obey, a run claimed now, the
// bounded history and the job's totals, ticks of the past claimed once.
import {
  TOTAL_FIELDS,
  type BackfillClaim,
  type BackfillRequest,
  type JobSnapshot,
  type PauseRequest,
  type PauseResult,
  type RecordRunRequest,
  type RecordRunResult,
  type TriggerRequest,
  type TriggerResult,
} from '../job-operations.interface.js';
import { parseHistoryEntry, totalsOf } from '../run-history.js';
import {
  activeRun,
  isPaused,
  nextToken,
  noteDataLoss,
  parse,
  tally,
  type JobClaims,
} from './memory-job-state.js';

/** The operations of `MemoryJobClaimStore` (its jobs by key, its clock). */
export abstract class MemoryJobOperations {
  protected abstract readonly now: () => number;
  protected abstract job(key: string): JobClaims;

  async setPaused(request: PauseRequest): Promise<PauseResult> {
    return setPaused(this.job(request.jobKey), request, this.now());
  }

  async trigger(request: TriggerRequest): Promise<TriggerResult> {
    return trigger(this.job(request.jobKey), request, this.now());
  }

  async recordRun(request: RecordRunRequest): Promise<RecordRunResult> {
    return recordRun(this.job(request.jobKey), request, this.now());
  }

  async backfill(request: BackfillRequest): Promise<BackfillClaim> {
    return backfill(this.job(request.jobKey), request, this.now());
  }

  async describe(key: string, limit: number, paused: boolean): Promise<JobSnapshot> {
    return describeJob(this.job(key), limit, paused, this.now());
  }
}

const BACKFILLED_FOR = 86_400_000;

function backfill(job: JobClaims, request: BackfillRequest, now: number): BackfillClaim {
  const answer = (status: BackfillClaim['status'], extra: Partial<BackfillClaim> = {}) => ({
    status,
    serverTime: now,
    tick: undefined,
    token: undefined,
    oldestKnown: undefined,
    skipped: [],
    ...extra,
  });
  if (isPaused(job, request.initiallyPaused)) return answer('paused');
  const ran = new Set(job.history.flatMap((raw) => parseHistoryEntry(raw)?.tick ?? []));
  const oldest = ran.size > 0 ? Math.min(...ran) : undefined;
  const first = request.ticks[0]?.tick;
  if (job.history.length >= request.historyLimit && oldest !== undefined && first < oldest) {
    return answer('unknown', { oldestKnown: oldest });
  }
  const lostAt = noteDataLoss(job, request.tokenFloor, now);
  for (const [tick, at] of job.backfilled)
    if (at < now - BACKFILLED_FOR) job.backfilled.delete(tick);
  const skipped: BackfillClaim['skipped'] = [];
  for (const { tick, signature } of request.ticks) {
    const reason =
      lostAt !== undefined && tick <= lostAt
        ? 'lost'
        : job.ticks.has(tick)
          ? 'recorded'
          : ran.has(tick)
            ? 'ran'
            : job.backfilled.has(tick)
              ? 'backfilled'
              : undefined;
    if (reason) {
      skipped.push({ tick, reason });
      continue;
    }
    const token = nextToken(job, now, request.tokenFloor).token;
    job.ticks.set(
      tick,
      `claimed ${token} ${request.nodeId} ${now} ${signature} ${request.requestId}`,
    );
    job.backfilled.set(tick, now);
    tally(job, 'backfilled');
    return answer('claimed', { tick, token, skipped });
  }
  return answer('none', { skipped });
}

function setPaused(job: JobClaims, request: PauseRequest, now: number): PauseResult {
  const wasPaused = isPaused(job, request.initiallyPaused);
  job.state = { paused: request.paused, reason: request.reason, at: now, by: request.nodeId };
  return { serverTime: now, wasPaused };
}

function trigger(job: JobClaims, request: TriggerRequest, now: number): TriggerResult {
  const { tick, nodeId, overlap, runLease } = request;
  const answer = (status: TriggerResult['status'], extra: Partial<TriggerResult> = {}) => ({
    status,
    tick,
    token: 0,
    holder: '',
    serverTime: now,
    cancelled: undefined,
    holdsMarker: false,
    ...extra,
  });
  if (isPaused(job, request.initiallyPaused)) {
    return answer('paused', { holder: job.state?.by ?? '' });
  }
  if (job.ticks.has(tick)) return answer('taken');
  const holds = overlap !== 'allow' || request.exclusive;
  let cancelled: number | undefined;
  if (holds) {
    const run = activeRun(job, now, runLease);
    if (run && run !== 'forged' && overlap === 'cancelOther') cancelled = run.token;
    else if (run && run !== 'forged') {
      return answer('overlap', { holder: parse(run.tick, run.record)?.nodeId ?? '' });
    }
  }
  const token = nextToken(job, now, request.tokenFloor).token;
  job.ticks.set(
    tick,
    `claimed ${token} ${nodeId} ${now} ${request.signature} ${request.requestId}`,
  );
  if (holds) job.run = { token, tick, until: now + runLease };
  tally(job, 'triggered');
  return answer('claimed', { token, holder: nodeId, cancelled, holdsMarker: holds });
}

function recordRun(job: JobClaims, request: RecordRunRequest, now: number): RecordRunResult {
  const { entry, final } = request;
  const whole = (n: number) => (Number.isInteger(n) && n >= 0 ? n : 0);
  const attempt = whole(entry.attempt);
  const written: Record<string, unknown> = {
    tick: whole(entry.tick),
    node: entry.node,
    token: whole(entry.token),
    start: whole(Math.round(entry.start)),
    end: now,
    outcome: entry.outcome,
    attempt,
    kind: entry.kind,
  };
  if (entry.error && entry.error.class !== '') written.error = { ...entry.error };
  job.history.unshift(JSON.stringify(written));
  job.history.length = Math.min(job.history.length, Math.max(1, request.limit));
  tally(job, attempt <= 1 ? 'runs' : 'retries');
  let paused = false;
  if (final) {
    tally(job, entry.outcome);
    if (entry.outcome === 'error') job.failuresInRow += 1;
    else if (entry.outcome === 'ok') job.failuresInRow = 0;
    const limit = request.pauseAfterFailures;
    const inRow = job.failuresInRow;
    if (entry.outcome === 'error' && limit > 0 && inRow >= limit && !job.state?.paused) {
      const reason =
        `${inRow} failures in a row (pauseAfterFailures), the last: ` +
        `${entry.error?.class ?? ''}: ${entry.error?.message ?? ''}`;
      job.state = { paused: true, reason, at: now, by: entry.node };
      paused = true;
    }
  }
  return { serverTime: now, failuresInRow: job.failuresInRow, paused };
}

function describeJob(
  job: JobClaims,
  limit: number,
  initiallyPaused: boolean,
  now: number,
): JobSnapshot {
  const paused = isPaused(job, initiallyPaused);
  const state = paused ? job.state : undefined;
  return {
    serverTime: now,
    paused,
    pauseReason: paused ? (state?.reason ?? '') : undefined,
    pausedAt: state?.at,
    pausedBy: state?.by,
    failuresInRow: job.failuresInRow,
    totals: totalsOf(TOTAL_FIELDS.map((field) => job.totals.get(field) ?? 0)),
    runs: job.history.slice(0, limit).flatMap((raw) => parseHistoryEntry(raw) ?? []),
  };
}

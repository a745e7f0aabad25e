// The state of one job's claims in memory, kept as Redis keeps it (records as the same strings),
// and the reads the claim rules share: a record parsed, the run marker that counts.
import type {
  ConfirmRequest,
  ConfirmResult,
  GiveBackRequest,
  ReleaseRequest,
  ReleaseResult,
  RenewRequest,
  TickRecord,
} from '../job-claim-store.interface.js';
import { parseTickRecord } from '../tick-record.js';

/** A stored token this far ahead of the clock was not made by a claim (claim-2.lua: TOKEN_AHEAD). */
export const TOKEN_AHEAD = 1_000_000_000;

export interface JobClaims {
  token: number;
  /** pause-state.lua: undefined until a pause or resume sets it (the job's option holds then). */
  state: { paused: boolean; reason: string; at: number; by: string } | undefined;
  /** `n:<what>` counts of the job's hash. */
  totals: Map<string, number>;
  failuresInRow: number;
  /** History entries (JSON as record-run-3.lua writes them), newest first. */
  history: string[];
  /** backfilled.lua: tick -> when a backfill claimed it. */
  backfilled: Map<number, number>;
  /** tick -> '<status> <token> <node> <at> <signature> <request>' */
  ticks: Map<number, string>;
  run: { token: number; tick: number; until: number } | undefined;
  buffered: number | undefined;
  retention: number;
  /** When a claim found the store holding a lower token than it saw (data lost), if ever. */
  lostAt?: number;
}

export function newJobClaims(): JobClaims {
  return {
    token: 0,
    state: undefined,
    totals: new Map(),
    failuresInRow: 0,
    history: [],
    backfilled: new Map(),
    ticks: new Map(),
    run: undefined,
    buffered: undefined,
    retention: 0,
  };
}

/** pause-state.lua's isPaused: the state set, else the job's option. */
export function isPaused(job: JobClaims, initially: boolean | undefined): boolean {
  return job.state ? job.state.paused : initially === true;
}

export function tally(job: JobClaims, what: string, by = 1): void {
  job.totals.set(what, (job.totals.get(what) ?? 0) + by);
}

export interface Parsed {
  status: TickRecord['status'];
  token: number;
  nodeId: string;
  at: number;
  signature: string;
  request: string;
}

export function parse(tick: number, record: string | undefined): Parsed | undefined {
  if (record === undefined) return undefined;
  const base = parseTickRecord(tick, record);
  if (!base) return undefined;
  const [, , , , signature = '', request = ''] = record.split(' ');
  return { ...base, signature, request };
}

/** The run marker while active and naming a claim of its token; 'forged' when it names none. */
export function activeRun(
  job: JobClaims,
  now: number,
  lease: number,
): { token: number; tick: number; record: string } | 'forged' | undefined {
  const run = job.run;
  if (!run || run.until <= now) return undefined;
  if (run.until > now + 2 * lease) return 'forged';
  const record = job.ticks.get(run.tick);
  const parsed = parse(run.tick, record);
  if (parsed?.token !== run.token || (parsed.status !== 'claimed' && parsed.status !== 'granted')) {
    return 'forged';
  }
  return { token: run.token, tick: run.tick, record: record! };
}

/** Ends the run of `request.token` (release-run-2.lua): a tick that waited may start for its node. */
export function releaseRun(job: JobClaims, request: ReleaseRequest, now: number): ReleaseResult {
  const { token, nodeId, runLease, takeNext } = request;
  if (job.run?.token !== token) return { held: false, serverTime: now, next: undefined };
  const retention = Math.max(request.retention, job.retention);
  const waitingTick = job.buffered;
  const waiting =
    waitingTick === undefined || !takeNext
      ? undefined
      : parse(waitingTick, job.ticks.get(waitingTick));
  if (waitingTick !== undefined && isPaused(job, request.initiallyPaused)) {
    // Paused: the waiting tick does not start; it is recorded as skipped.
    job.buffered = undefined;
    const raw = job.ticks.get(waitingTick);
    if (parse(waitingTick, raw)?.status === 'buffered') {
      job.ticks.set(waitingTick, raw!.replace(/^buffered/, 'paused'));
      tally(job, 'skip:paused');
    }
    job.run = undefined;
    return { held: true, serverTime: now, next: undefined };
  }
  if (takeNext && waitingTick !== undefined) job.buffered = undefined;
  if (waiting?.status === 'buffered' && waitingTick! >= now - retention) {
    const next = nextToken(job, now, request.tokenFloor).token;
    job.ticks.set(
      waitingTick!,
      `claimed ${next} ${nodeId} ${now} ${waiting.signature} ${waiting.request}`,
    );
    job.run = { token: next, tick: waitingTick!, until: now + runLease };
    return { held: true, serverTime: now, next: { tick: waitingTick!, token: next } };
  }
  job.run = undefined;
  return { held: true, serverTime: now, next: undefined };
}

/**
 * The next fencing token (fencing-token.lua): above the stored one, Redis time and the claimer's
 * floor; a stored token too far ahead is disregarded (`forged`).
 */
export function nextToken(
  job: JobClaims,
  now: number,
  floor = 0,
): { token: number; forged: boolean } {
  const forged = job.token > now + TOKEN_AHEAD;
  job.token = Math.max((forged ? 0 : job.token) + 1, now, floor + 1);
  return { token: job.token, forged };
}

/**
 * A token below the claimer's floor means the store lost data (claim-2.lua): ticks claimable
 * before now may have run, their records lost with the rest. Returns when that was found.
 */
export function noteDataLoss(job: JobClaims, floor = 0, now: number): number | undefined {
  if (floor > job.token) {
    job.lostAt = now;
    job.token = floor;
  }
  return job.lostAt;
}

/** Removes a grant its node will not run (give-back-2.lua), with its run marker. */
export function giveBackGrant(job: JobClaims, { nodeId, tick, token }: GiveBackRequest): boolean {
  const record = parse(tick, job.ticks.get(tick));
  if (record?.token !== token || record.nodeId !== nodeId) return false;
  if (record.status !== 'granted' && record.status !== 'claimed') return false;
  job.ticks.delete(tick);
  if (job.run?.token === token) job.run = undefined;
  return true;
}

/** Extends the run marker of `token` (renew-run-2.lua); false when it is no longer its own. */
export function renewRun(job: JobClaims, { token, runLease }: RenewRequest, now: number): boolean {
  if (job.run?.token !== token) return false;
  job.run.until = now + runLease;
  return true;
}

/** confirm-2.lua: grants still this node's become final; those taken over are refused. */
export function confirmGrants(
  job: JobClaims,
  { nodeId, grants }: ConfirmRequest,
  now: number,
): ConfirmResult {
  const confirmed = grants.map(({ tick, token }) => {
    const raw = job.ticks.get(tick);
    const record = parse(tick, raw);
    const ours = record?.token === token && record.nodeId === nodeId;
    if (ours && record.status === 'granted')
      job.ticks.set(tick, raw!.replace(/^granted/, 'claimed'));
    return ours && (record.status === 'granted' || record.status === 'claimed');
  });
  return { serverTime: now, confirmed };
}

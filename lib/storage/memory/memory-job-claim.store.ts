// Job claims of the in-memory registry, by the rules of the Redis claim scripts (one claim per
// tick, deadlines both ways, takeover of unconfirmed grants, cooldown, fencing tokens, overlap
// markers, catch-up), for one process. Records are kept as the same strings Redis keeps.
import type {
  ClaimRequest,
  ClaimResult,
  ConfirmRequest,
  ConfirmResult,
  GiveBackRequest,
  JobClaimStore,
  ReleaseRequest,
  ReleaseResult,
  RenewRequest,
  TickRecord,
} from '../job-claim-store.interface.js';
import { memoryNow } from './memory-clock.js';
import { MemoryJobOperations } from './memory-job-operations.js';
import { recentRecords, storedTick } from './memory-job-reads.js';
import {
  activeRun,
  confirmGrants,
  giveBackGrant,
  isPaused,
  newJobClaims,
  nextToken,
  noteDataLoss,
  parse,
  releaseRun,
  renewRun,
  tally,
  type JobClaims,
} from './memory-job-state.js';

/**
 * Apps in the same process that use the same `keyPrefix` share one set of job claims, the way
 * replicas share a Redis.
 */
export class MemoryJobClaimStore extends MemoryJobOperations implements JobClaimStore {
  private static readonly namespaces = new Map<string, Map<string, JobClaims>>();
  private readonly jobs: Map<string, JobClaims>;

  constructor(
    namespace: string,
    protected readonly now: () => number = memoryNow,
  ) {
    super();
    let jobs = MemoryJobClaimStore.namespaces.get(namespace);
    if (!jobs) MemoryJobClaimStore.namespaces.set(namespace, (jobs = new Map()));
    this.jobs = jobs;
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const now = this.now();
    const job = this.job(request.jobKey);
    const { tick, nodeId, signature, requestId } = request;
    const first: TickRecord['status'] = request.confirm ? 'granted' : 'claimed';
    let forgedToken = false;
    let forgedMarker = false;
    const lostAt = noteDataLoss(job, request.tokenFloor, now);
    let tookOver: string | undefined;
    job.retention = Math.max(job.retention, request.retention);
    const retention = job.retention;
    const result = (status: ClaimResult['status'], extra: Partial<ClaimResult> = {}) => ({
      status,
      tick,
      token: 0,
      holder: '',
      signature: '',
      record: '',
      markerTick: undefined,
      serverTime: now,
      catchup: [],
      cancelled: undefined,
      takenAs: undefined,
      tookOver,
      retention,
      forgedToken,
      forgedMarker,
      dataLostAt: lostAt,
      ...extra,
    });
    const next = () => {
      const made = nextToken(job, now, request.tokenFloor);
      forgedToken ||= made.forged;
      return made.token;
    };
    const put = (status: TickRecord['status'], at: number, token: number, sig: string) =>
      job.ticks.set(at, `${status} ${token} ${nodeId} ${now} ${sig} ${requestId}`);

    const raw = job.ticks.get(tick);
    const existing = parse(tick, raw);
    // The claim sent again to override the run marker that refused it: its own record gives way.
    const same = existing?.nodeId === nodeId && existing.request === requestId && requestId !== '';
    const retried =
      same &&
      request.override?.kind === 'marker' &&
      (existing.status === 'overlap' || existing.status === 'buffered');
    if (retried && job.buffered === tick) job.buffered = undefined;
    if (raw !== undefined && !retried) {
      if (same) {
        const status = existing.status === 'granted' ? 'claimed' : existing.status;
        return result(status, {
          token: existing.token,
          holder: nodeId,
          signature: existing.signature,
        });
      }
      const forged = request.override?.kind === 'record' && request.override.value === raw;
      const abandoned =
        existing?.status === 'granted' &&
        existing.at + (request.takeoverAfter ?? 0) <= now &&
        now <= request.notAfter &&
        existing.nodeId !== nodeId;
      if (!forged && !abandoned) {
        return result('taken', {
          token: existing?.token ?? 0,
          holder: existing?.nodeId ?? '',
          signature: existing?.signature ?? '',
          record: raw,
          takenAs: existing?.status,
        });
      }
      if (abandoned) tookOver = existing.nodeId;
    }
    if (now > request.notAfter) return result('late');
    if (request.notBefore && now < request.notBefore) return result('early');
    if (lostAt !== undefined && (request.notBefore || tick) <= lostAt) {
      put('lost', tick, 0, signature);
      return result('lost');
    }
    if (isPaused(job, request.initiallyPaused)) {
      put('paused', tick, 0, signature);
      tally(job, 'skip:paused');
      return result('paused', { holder: job.state?.by ?? '' });
    }
    if (request.cooldown) {
      // The newest record of the job (by tick) holds it while younger than the cooldown.
      const newestTick = Math.max(-Infinity, ...job.ticks.keys());
      const newestRaw = job.ticks.get(newestTick);
      const newest = parse(newestTick, newestRaw);
      const forged = request.override?.kind === 'record' && request.override.value === newestRaw;
      if (newest && newest.status !== 'paused' && !forged && newest.at >= now - request.cooldown) {
        return result('taken', {
          tick: newestTick,
          token: newest.token,
          holder: newest.nodeId,
          signature: newest.signature,
          record: newestRaw,
          takenAs: newest.status,
        });
      }
    }

    let runTick = tick;
    let runSignature = signature;
    let cancelled: number | undefined;
    if (request.overlap !== 'allow') {
      let run = activeRun(job, now, request.runLease);
      if (run === 'forged') {
        forgedMarker = true;
        run = undefined;
      }
      if (run && request.override?.kind === 'marker' && request.override.value === run.record) {
        run = undefined;
      }
      if (run && tookOver !== undefined && run.tick === tick) run = undefined;
      if (run && request.overlap !== 'cancelOther') {
        const marker = parse(run.tick, run.record);
        const holding = {
          holder: marker?.nodeId ?? '',
          signature: marker?.signature ?? '',
          record: run.record,
          markerTick: run.tick,
        };
        if (request.overlap === 'bufferOne' && job.buffered === undefined) {
          put('buffered', tick, 0, signature);
          job.buffered = tick;
          return result('buffered', holding);
        }
        put('overlap', tick, 0, signature);
        tally(job, 'skip:overlap');
        return result('overlap', holding);
      }
      if (run) cancelled = run.token;
      if (!run && job.buffered !== undefined) {
        // The run a tick waited for ended without releasing it: the waiting tick runs now.
        const waitingTick = job.buffered;
        const waiting = parse(waitingTick, job.ticks.get(waitingTick));
        job.buffered = undefined;
        if (waiting?.status === 'buffered' && waitingTick >= now - retention) {
          put('buffered', tick, 0, signature);
          job.buffered = tick;
          runTick = waitingTick;
          runSignature = waiting.signature;
        }
      }
    }

    const catchup: ClaimResult['catchup'] = [];
    if (request.catchup && runTick === tick) {
      const previous = Math.max(-Infinity, ...[...job.ticks.keys()].filter((t) => t < tick));
      const since = Math.max(now - request.catchup.window, previous + 1);
      for (const candidate of request.catchup.ticks) {
        if (previous === -Infinity || candidate.tick < since || candidate.tick >= tick) continue;
        if (now > candidate.notAfter || job.ticks.has(candidate.tick)) continue;
        if (lostAt !== undefined && candidate.tick <= lostAt) continue;
        const token = next();
        put(first, candidate.tick, token, candidate.signature);
        catchup.push({ tick: candidate.tick, token });
      }
    }
    const token = next();
    put(runTick === tick ? first : 'claimed', runTick, token, runSignature);
    if (request.overlap !== 'allow') {
      job.run = { token, tick: runTick, until: now + request.runLease };
    }
    for (const old of job.ticks.keys()) {
      if (old < now - retention) job.ticks.delete(old);
    }
    return result('claimed', {
      tick: runTick,
      token,
      holder: nodeId,
      signature: runSignature,
      catchup,
      cancelled,
    });
  }

  async confirm(request: ConfirmRequest): Promise<ConfirmResult> {
    return confirmGrants(this.job(request.jobKey), request, this.now());
  }

  async giveBack(request: GiveBackRequest): Promise<boolean> {
    return giveBackGrant(this.job(request.jobKey), request);
  }

  async release(request: ReleaseRequest): Promise<ReleaseResult> {
    return releaseRun(this.job(request.jobKey), request, this.now());
  }

  async renew(request: RenewRequest): Promise<boolean> {
    return renewRun(this.job(request.jobKey), request, this.now());
  }

  async recent(jobKey: string, limit: number): Promise<TickRecord[]> {
    return recentRecords(this.job(jobKey), limit);
  }

  async record(jobKey: string, tick: number) {
    return storedTick(this.jobs.get(jobKey), tick);
  }

  protected job(key: string): JobClaims {
    let job = this.jobs.get(key);
    if (!job) this.jobs.set(key, (job = newJobClaims()));
    return job;
  }
}

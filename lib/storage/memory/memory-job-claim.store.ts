// Job claims of the in-memory registry, by the rules of the Redis claim scripts (one claim per
// tick, deadlines both ways, cooldown, fencing tokens, overlap markers, catch-up), for one process.
import type {
  ClaimRequest,
  ClaimResult,
  JobClaimStore,
  ReleaseRequest,
  ReleaseResult,
  RenewRequest,
  TickRecord,
} from '../job-claim-store.interface.js';
import { memoryNow } from './memory-clock.js';

interface JobClaims {
  token: number;
  ticks: Map<number, TickRecord & { signature: string }>;
  run: { token: number; until: number } | undefined;
  buffered: number | undefined;
}

/**
 * Apps in the same process that use the same `keyPrefix` share one set of job claims, the way
 * replicas share a Redis.
 */
export class MemoryJobClaimStore implements JobClaimStore {
  private static readonly namespaces = new Map<string, Map<string, JobClaims>>();
  private readonly jobs: Map<string, JobClaims>;

  constructor(
    namespace: string,
    private readonly now: () => number = memoryNow,
  ) {
    let jobs = MemoryJobClaimStore.namespaces.get(namespace);
    if (!jobs) MemoryJobClaimStore.namespaces.set(namespace, (jobs = new Map()));
    this.jobs = jobs;
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const now = this.now();
    const job = this.job(request.jobKey);
    const { tick, nodeId, signature } = request;
    const result = (status: ClaimResult['status'], extra: Partial<ClaimResult> = {}) => ({
      status,
      tick,
      token: 0,
      holder: '',
      signature: '',
      serverTime: now,
      catchup: [],
      cancelled: undefined,
      takenAs: undefined,
      ...extra,
    });
    const existing = job.ticks.get(tick);
    if (existing && (!request.override || existing.signature !== request.override)) {
      return result('taken', {
        token: existing.token,
        holder: existing.nodeId,
        signature: existing.signature,
        takenAs: existing.status,
      });
    }
    if (now > request.notAfter) return result('late');
    if (request.notBefore && now < request.notBefore) return result('early');
    if (request.cooldown) {
      // The newest record of the job (by tick) holds it while younger than the cooldown.
      let newest: (TickRecord & { signature: string }) | undefined;
      for (const record of job.ticks.values()) {
        if (!newest || record.tick > newest.tick) newest = record;
      }
      const forged = request.override !== undefined && newest?.signature === request.override;
      if (newest && !forged && newest.at >= now - request.cooldown) {
        return result('taken', {
          tick: newest.tick,
          token: newest.token,
          holder: newest.nodeId,
          signature: newest.signature,
          takenAs: newest.status,
        });
      }
    }

    let runTick = tick;
    let runSignature = signature;
    let cancelled: number | undefined;
    if (request.overlap !== 'allow') {
      const active = job.run !== undefined && job.run.until > now;
      if (active && request.overlap !== 'cancelOther') {
        if (request.overlap === 'bufferOne' && job.buffered === undefined) {
          this.put(job, 'buffered', tick, 0, nodeId, signature, now);
          job.buffered = tick;
          return result('buffered', { holder: nodeId, signature });
        }
        this.put(job, 'overlap', tick, 0, nodeId, signature, now);
        return result('overlap', { holder: nodeId, signature });
      }
      if (active) cancelled = job.run!.token;
      if (!active && job.buffered !== undefined) {
        // The run a tick waited for ended without releasing it: the waiting tick runs now.
        const waiting = job.ticks.get(job.buffered);
        job.buffered = undefined;
        if (waiting?.status === 'buffered' && waiting.tick >= now - request.retention) {
          this.put(job, 'buffered', tick, 0, nodeId, signature, now);
          job.buffered = tick;
          runTick = waiting.tick;
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
        if (job.ticks.has(candidate.tick)) continue;
        const token = this.nextToken(job, now);
        this.put(job, 'claimed', candidate.tick, token, nodeId, candidate.signature, now);
        catchup.push({ tick: candidate.tick, token });
      }
    }
    const token = this.nextToken(job, now);
    this.put(job, 'claimed', runTick, token, nodeId, runSignature, now);
    if (request.overlap !== 'allow') job.run = { token, until: now + request.runLease };
    for (const old of job.ticks.keys()) {
      if (old < now - request.retention) job.ticks.delete(old);
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

  async release(request: ReleaseRequest): Promise<ReleaseResult> {
    const { jobKey, token, nodeId, runLease, retention, takeNext } = request;
    const now = this.now();
    const job = this.job(jobKey);
    if (job.run?.token !== token) return { held: false, next: undefined };
    const waiting =
      job.buffered === undefined || !takeNext ? undefined : job.ticks.get(job.buffered);
    if (waiting) job.buffered = undefined;
    if (waiting?.status === 'buffered' && waiting.tick >= now - retention) {
      const next = this.nextToken(job, now);
      this.put(job, 'claimed', waiting.tick, next, nodeId, waiting.signature, now);
      job.run = { token: next, until: now + runLease };
      return { held: true, next: { tick: waiting.tick, token: next } };
    }
    job.run = undefined;
    return { held: true, next: undefined };
  }

  async renew({ jobKey, token, runLease }: RenewRequest): Promise<boolean> {
    const job = this.job(jobKey);
    if (job.run?.token !== token) return false;
    job.run.until = this.now() + runLease;
    return true;
  }

  async recent(jobKey: string, limit: number): Promise<TickRecord[]> {
    return [...this.job(jobKey).ticks.values()]
      .sort((a, b) => b.tick - a.tick)
      .slice(0, limit)
      .map(({ tick, status, token, nodeId, at }) => ({ tick, status, token, nodeId, at }));
  }

  private job(key: string): JobClaims {
    let job = this.jobs.get(key);
    if (!job) {
      job = { token: 0, ticks: new Map(), run: undefined, buffered: undefined };
      this.jobs.set(key, job);
    }
    return job;
  }

  private nextToken(job: JobClaims, now: number): number {
    job.token = Math.max(job.token + 1, now);
    return job.token;
  }

  private put(
    job: JobClaims,
    status: TickRecord['status'],
    tick: number,
    token: number,
    nodeId: string,
    signature: string,
    at: number,
  ): void {
    job.ticks.set(tick, { tick, status, token, nodeId, at, signature });
  }
}

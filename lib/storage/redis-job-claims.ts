// Job claims on Redis: each call is one script run on the two keys of one job (one hash slot);
// the rules live in job-scripts.ts.
import {
  CLAIM_SCRIPT,
  RECENT_CLAIMS_SCRIPT,
  RELEASE_RUN_SCRIPT,
  RENEW_RUN_SCRIPT,
  parseTickRecord,
} from './job-scripts.js';
import type { RedisClient } from './redis-client.js';
import { RedisScript } from './redis-script.js';
import { jobKeys } from './registry-keys.js';
import type {
  ClaimRequest,
  ClaimResult,
  ReleaseResult,
  TickRecord,
} from './registry-store.interface.js';

const claim = new RedisScript(CLAIM_SCRIPT);
const releaseRun = new RedisScript(RELEASE_RUN_SCRIPT);
const renewRun = new RedisScript(RENEW_RUN_SCRIPT);
const recentClaims = new RedisScript(RECENT_CLAIMS_SCRIPT);

export class RedisJobClaims {
  constructor(private readonly client: RedisClient) {}

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const candidates = request.catchup?.ticks.flatMap((c) => [c.tick, c.signature]) ?? [];
    const reply = await claim.list(this.client, jobKeys(request.jobKey), [
      request.tick,
      request.nodeId,
      request.signature,
      request.notAfter,
      request.retention,
      request.overlap,
      request.runLease,
      request.override ?? '',
      request.catchup ? Math.max(0, Math.round(request.catchup.window)) : '',
      request.notBefore ?? 0,
      request.cooldown ?? 0,
      ...candidates,
    ]);
    const [status, tick, token, holder, signature, serverTime, cancelled, takenAs, ...caught] =
      reply;
    const catchup: ClaimResult['catchup'] = [];
    for (let i = 0; i + 1 < caught.length; i += 2) {
      catchup.push({ tick: Number(caught[i]), token: Number(caught[i + 1]) });
    }
    return {
      status: String(status) as ClaimResult['status'],
      tick: Number(tick),
      token: Number(token),
      holder: String(holder),
      signature: String(signature ?? ''),
      serverTime: Number(serverTime),
      catchup,
      cancelled: cancelled ? Number(cancelled) : undefined,
      takenAs: takenAs ? (String(takenAs) as ClaimResult['takenAs']) : undefined,
    };
  }

  async release(
    jobKey: string,
    token: number,
    nodeId: string,
    runLease: number,
    retention: number,
    takeNext: boolean,
  ): Promise<ReleaseResult> {
    const [held, tick, next] = await releaseRun.list(this.client, jobKeys(jobKey), [
      token,
      nodeId,
      runLease,
      retention,
      takeNext ? 1 : 0,
    ]);
    return {
      held: Number(held) === 1,
      next: tick === undefined ? undefined : { tick: Number(tick), token: Number(next) },
    };
  }

  async renew(jobKey: string, token: number, runLease: number): Promise<boolean> {
    return Number(await renewRun.run(this.client, jobKeys(jobKey), [token, runLease])) === 1;
  }

  async recent(jobKey: string, limit: number): Promise<TickRecord[]> {
    const reply = await recentClaims.list(this.client, jobKeys(jobKey), [limit]);
    const records: TickRecord[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const record = parseTickRecord(Number(reply[i]), String(reply[i + 1]));
      if (record) records.push(record);
    }
    return records;
  }
}

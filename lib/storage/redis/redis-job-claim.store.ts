// Job claims on Redis: each call is one script run on the two keys of one job (one hash slot), but
// for `record`, a plain HMGET; the rules live in `lua/claim-2.lua`, `confirm-2.lua`,
// `give-back-2.lua` and the run scripts.
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
  StoredTick,
  TickRecord,
} from '../job-claim-store.interface.js';
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
import { jobBackfillKeys, jobHistoryKeys, jobKeys } from '../registry-keys.js';
import {
  decodeClaim,
  decodeConfirm,
  decodeRecentClaims,
  decodeRelease,
} from './job-claim-replies.js';
import {
  decodeBackfill,
  decodeDescribe,
  decodePause,
  decodeRecordRun,
  decodeTrigger,
} from './job-operation-replies.js';
import type { RedisClient } from './redis-client.js';
import { RedisScript } from './redis-script.js';

const claimScript = new RedisScript('claim-2');
const confirmScript = new RedisScript('confirm-2');
const giveBackScript = new RedisScript('give-back-2');
const releaseRunScript = new RedisScript('release-run-2');
const renewRunScript = new RedisScript('renew-run-2');
const recentClaimsScript = new RedisScript('recent-claims-2');
const pauseScript = new RedisScript('pause-2');
const triggerScript = new RedisScript('trigger-2');
const recordRunScript = new RedisScript('record-run-3');
const describeScript = new RedisScript('describe-3');
const backfillScript = new RedisScript('backfill-4');
const flag = (value: boolean | undefined) => (value ? 1 : 0);

export class RedisJobClaimStore implements JobClaimStore {
  constructor(private readonly client: RedisClient) {}

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const candidates =
      request.catchup?.ticks.flatMap((c) => [c.tick, c.notAfter, c.signature]) ?? [];
    const reply = await claimScript.list(this.client, jobKeys(request.jobKey), [
      request.tick,
      request.nodeId,
      request.signature,
      request.requestId,
      request.notBefore ?? 0,
      request.notAfter,
      request.retention,
      request.overlap,
      request.runLease,
      request.tokenFloor ?? 0,
      request.confirm ? 1 : 0,
      request.takeoverAfter ?? 0,
      request.override?.kind ?? '',
      request.override?.value ?? '',
      request.cooldown ?? 0,
      flag(request.initiallyPaused),
      request.catchup ? Math.max(0, Math.round(request.catchup.window)) : '',
      ...candidates,
    ]);
    return decodeClaim(reply);
  }

  async confirm({ jobKey, nodeId, grants }: ConfirmRequest): Promise<ConfirmResult> {
    const pairs = grants.flatMap((grant) => [grant.tick, grant.token]);
    return decodeConfirm(
      await confirmScript.list(this.client, jobKeys(jobKey), [nodeId, ...pairs]),
    );
  }

  async giveBack({ jobKey, nodeId, tick, token }: GiveBackRequest): Promise<boolean> {
    const reply = await giveBackScript.run(this.client, jobKeys(jobKey), [nodeId, tick, token]);
    return Number(reply) === 1;
  }

  async release(request: ReleaseRequest): Promise<ReleaseResult> {
    const { jobKey, token, nodeId, runLease, retention, takeNext, tokenFloor } = request;
    const paused = flag(request.initiallyPaused);
    const reply = await releaseRunScript.list(this.client, jobKeys(jobKey), [
      token,
      nodeId,
      runLease,
      retention,
      takeNext ? 1 : 0,
      tokenFloor ?? 0,
      paused,
    ]);
    return decodeRelease(reply);
  }

  async renew({ jobKey, token, runLease }: RenewRequest): Promise<boolean> {
    return Number(await renewRunScript.run(this.client, jobKeys(jobKey), [token, runLease])) === 1;
  }

  async recent(jobKey: string, limit: number): Promise<TickRecord[]> {
    return decodeRecentClaims(await recentClaimsScript.list(this.client, jobKeys(jobKey), [limit]));
  }

  async setPaused(request: PauseRequest): Promise<PauseResult> {
    const { jobKey, paused, reason, nodeId, initiallyPaused } = request;
    const args = [paused ? 'paused' : 'active', reason, nodeId, flag(initiallyPaused)];
    return decodePause(await pauseScript.list(this.client, jobKeys(jobKey), args));
  }

  async trigger(request: TriggerRequest): Promise<TriggerResult> {
    const reply = await triggerScript.list(this.client, jobKeys(request.jobKey), [
      request.tick,
      request.nodeId,
      request.signature,
      request.requestId,
      request.overlap,
      request.runLease,
      request.tokenFloor ?? 0,
      flag(request.initiallyPaused),
      flag(request.exclusive),
    ]);
    return decodeTrigger(reply);
  }

  async recordRun({
    jobKey,
    limit,
    pauseAfterFailures,
    entry,
    final,
  }: RecordRunRequest): Promise<RecordRunResult> {
    const reply = await recordRunScript.list(this.client, jobHistoryKeys(jobKey), [
      limit,
      pauseAfterFailures,
      entry.tick,
      entry.node,
      entry.token,
      Math.round(entry.start),
      entry.outcome,
      entry.error?.class ?? '',
      entry.error?.message ?? '',
      entry.attempt,
      flag(final),
      entry.kind,
    ]);
    return decodeRecordRun(reply);
  }

  async backfill(request: BackfillRequest): Promise<BackfillClaim> {
    const reply = await backfillScript.list(this.client, jobBackfillKeys(request.jobKey), [
      request.nodeId,
      request.tokenFloor ?? 0,
      flag(request.initiallyPaused),
      request.requestId,
      request.historyLimit,
      ...request.ticks.flatMap(({ tick, signature }) => [tick, signature]),
    ]);
    return decodeBackfill(reply);
  }

  async describe(jobKey: string, limit: number, initiallyPaused: boolean): Promise<JobSnapshot> {
    const args = [limit, flag(initiallyPaused), ...TOTAL_FIELDS];
    return decodeDescribe(await describeScript.list(this.client, jobHistoryKeys(jobKey), args));
  }

  async record(jobKey: string, tick: number): Promise<StoredTick> {
    const [record, retention, token, lostAt] = await this.client.hmget(
      jobKeys(jobKey)[0],
      `t:${tick}`,
      'retention',
      'token',
      'lostAt',
    );
    return {
      record: record ?? undefined,
      retention: Number(retention ?? 0) || 0,
      token: Number(token ?? 0) || 0,
      lostAt: lostAt ? Number(lostAt) : undefined,
    };
  }
}

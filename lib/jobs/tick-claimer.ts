// Sends this node's claims of a job's ticks to the store and reads the answers: signs them, adds the
// missed ticks a catch-up may take, follows Redis time from every reply, keeps the token floor, and
// overrides what blocks a tick but does not verify; confirms and gives back grants.
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { errorMessage } from '../common/error-message.js';
import type { RecordSigner } from '../common/record-signer.js';
import { ServerClock } from '../common/server-clock.js';
import type { Telemetry } from '../common/telemetry/telemetry.js';
import type {
  ClaimRequest,
  ClaimResult,
  JobClaimStore,
} from '../storage/job-claim-store.interface.js';
import type { RunKind } from '../storage/job-operations.interface.js';
import { catchupCandidates } from './catchup-candidates.js';
import type { JobState } from './job-state.js';
import { readHeldTick } from './held-tick.js';

/** A tick granted to this node, and what its start is judged by (see JobRunner's gate). */
export interface Grant {
  tick: number;
  token: number;
  catchup: boolean;
  /** Redis time after which it must not start (its starting deadline; Infinity: none). */
  notAfter: number;
  /** How the run came (for its history): by default `catchup` or `schedule`. */
  kind?: RunKind;
}

/** A claim's answer, with the grants it made to this node (catch-ups first, oldest first). */
export interface ClaimOutcome {
  result: ClaimResult;
  grants: Grant[];
}

export interface TickClaimerDeps {
  claims: JobClaimStore;
  nodeId: string;
  signer: RecordSigner | undefined;
  clock: ServerClock;
  telemetry: Telemetry;
  /** Lifetime of a run marker (`heartbeatTTL`): a crashed runner's marker lapses with its lease. */
  runLease: number;
}

export class TickClaimer {
  private readonly logger = new Logger('DistributedJobs');
  private readonly instance = randomUUID().slice(0, 8);
  private requests = 0;

  constructor(private readonly deps: TickClaimerDeps) {}

  /**
   * Claims `tick`. With `confirm`, the grants must be confirmed before they run (several nodes:
   * a grant whose reply is lost can then be taken over by a peer). `lastSeen` is the newest tick
   * this node saw recorded since it started: catch-up candidates come after it only. With
   * `readFirst` (not the job's owner), a tick a peer holds is refused on a plain read of its record.
   */
  async claim(
    job: JobState,
    tick: number,
    serverNow: number,
    confirm: boolean,
    readFirst = false,
  ): Promise<ClaimOutcome> {
    const { definition } = job;
    if (readFirst) {
      const held = await readHeldTick(this.deps.claims, job, tick, this.deps.signer);
      if (held) {
        this.noteReply(job, held);
        return { result: held, grants: [] };
      }
    }
    const due = definition.dueOf(tick);
    const deadline = definition.deadlineOf(tick);
    const notAfter = due + deadline;
    const request: ClaimRequest = {
      jobKey: definition.key,
      tick,
      nodeId: this.deps.nodeId,
      signature: this.sign(definition.key, tick),
      requestId: this.requestId(),
      notAfter,
      notBefore: definition.notBeforeOf(tick),
      cooldown: definition.cooldown,
      retention: definition.retention,
      overlap: definition.overlap,
      runLease: this.deps.runLease,
      tokenFloor: job.highestToken,
      confirm,
      takeoverAfter: Math.max(1, Math.floor(definition.graceOf(tick) / 2)),
      catchup: catchupCandidates(job, tick, serverNow, (missed) =>
        this.sign(definition.key, missed),
      ),
      initiallyPaused: definition.initiallyPaused,
    };
    let sent = await this.send(request);
    const override = this.forged(job, sent.result);
    if (override) {
      this.deps.telemetry.count('unverified');
      this.logger.warn(
        `Job ${definition.name}: ${override.kind === 'record' ? 'the record of this tick' : 'the run marker'} in Redis is not signed by a peer; overriding it`,
      );
      sent = await this.send({ ...request, override });
    }
    const { result } = sent;
    this.noteReply(job, result);
    if (result.status !== 'claimed') return { result, grants: [] };
    const catchupNotAfter = new Map(request.catchup?.ticks.map((c) => [c.tick, c.notAfter]));
    const grants: Grant[] = result.catchup.map((c) => ({
      ...c,
      catchup: true,
      notAfter: catchupNotAfter.get(c.tick) ?? notAfter,
    }));
    // A tick that waited for a run that died (`bufferOne`) starts when it can, as that policy says.
    const waited = result.tick !== tick;
    grants.push({
      tick: result.tick,
      token: result.token,
      catchup: false,
      notAfter: waited ? Infinity : notAfter,
    });
    return { result, grants };
  }

  /** Confirms `grants`: those still this node's are returned, the others (taken over) dropped. */
  async confirm(job: JobState, grants: Grant[]): Promise<Grant[]> {
    const sentAt = ServerClock.local();
    const reply = await this.deps.claims.confirm({
      jobKey: job.definition.key,
      nodeId: this.deps.nodeId,
      grants: grants.map(({ tick, token }) => ({ tick, token })),
    });
    const latestNow = this.observe(reply.serverTime, sentAt);
    return grants.filter((_, i) => reply.confirmed[i]).map((grant) => ({ ...grant, latestNow }));
  }

  /** Gives back a grant this node will not run; a failure only means a peer cannot take it. */
  async giveBack(job: JobState, grant: Grant): Promise<void> {
    try {
      await this.deps.claims.giveBack({
        jobKey: job.definition.key,
        nodeId: this.deps.nodeId,
        tick: grant.tick,
        token: grant.token,
      });
      job.givenBack += 1;
    } catch (error) {
      this.logger.warn(
        `Job ${job.definition.name}: could not give a tick back: ${errorMessage(error)}`,
      );
    }
  }

  /** A new id for a request of this node (a resent request is told apart from a new one). */
  requestId(): string {
    return `${this.instance}.${(this.requests += 1)}`;
  }

  /** Follows Redis time from a reply's TIME (see ServerClock). */
  observe(serverTime: number, sentAt: number): void {
    this.deps.clock.observe(serverTime, sentAt, ServerClock.local());
  }

  /** Signs the tick of the job, not the node: a tick that waited may be run by another node. */
  sign(jobKey: string, tick: number): string {
    return this.deps.signer?.sign(`${jobKey}\n${tick}`) ?? '';
  }

  private async send(request: ClaimRequest): Promise<{ result: ClaimResult }> {
    const sentAt = ServerClock.local();
    const result = await this.deps.claims.claim(request);
    this.observe(result.serverTime, sentAt);
    return { result };
  }

  /**
   * With a signing key, what blocks the claim must verify: the record holding the tick (`taken`),
   * or the record the run marker names (`overlap`, `buffered`). Anything else was written by a
   * writer without the key, and is overridden, exactly as it stands.
   */
  private forged(job: JobState, result: ClaimResult): ClaimRequest['override'] {
    const { signer } = this.deps;
    if (!signer) return undefined;
    const key = job.definition.key;
    const holding = result.status === 'overlap' || result.status === 'buffered';
    // A marker that names no tick (the token-only form of older versions) cannot be verified:
    // kept alive by a writer, it would hold the job for good.
    if (holding && result.markerTick === undefined && result.record === '') {
      return { kind: 'marker', value: '' };
    }
    if (result.record === '') return undefined;
    if (result.status === 'taken') {
      // A cooldown refusal names the tick whose record holds the job (`result.tick`).
      return signer.verify(`${key}\n${result.tick}`, result.signature)
        ? undefined
        : { kind: 'record', value: result.record };
    }
    if (holding && result.markerTick !== undefined) {
      return signer.verify(`${key}\n${result.markerTick}`, result.signature)
        ? undefined
        : { kind: 'marker', value: result.record };
    }
    return undefined;
  }

  /** The token floor, and what a reply says of the job's state that the logs should say too. */
  private noteReply(job: JobState, result: ClaimResult): void {
    const { definition } = job;
    if (result.dataLostAt !== undefined) {
      job.dataLostAt = Math.max(job.dataLostAt ?? -Infinity, result.dataLostAt);
    }
    if (result.status === 'claimed') {
      job.highestToken = Math.max(
        job.highestToken,
        result.token,
        ...result.catchup.map((c) => c.token),
      );
    } else if (result.status === 'taken' && result.token > 0) {
      // Only tokens a peer was granted (verified with a key) raise the floor.
      const genuine = !this.deps.signer || this.forged(job, result) === undefined;
      if (genuine) job.highestToken = Math.max(job.highestToken, result.token);
    }
    if (result.forgedToken || result.forgedMarker) {
      this.deps.telemetry.count('unverified');
      this.logger.warn(
        `Job ${definition.name}: Redis holds a ${result.forgedToken ? 'fencing token' : 'run marker'} no claim wrote; disregarded`,
      );
    }
    if (result.retention > definition.retention && !job.warnedRetention) {
      job.warnedRetention = true;
      this.logger.warn(
        `Job ${definition.name}: another replica keeps tick records longer (${result.retention} ms, here ${definition.retention} ms): its settings differ (a rolling deploy?); the longer one is used`,
      );
    }
  }
}

// This node's membership in the registry: its record, registration, the heartbeat that keeps its
// lease, duplicate-id refusal, and deregistration; what the job runner and health probes ask about.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { backoffDelay } from '../common/backoff.js';
import { DuplicateNodeIdError, RegistryUnavailableError } from '../common/errors.js';
import type { RecordSigner } from '../common/record-signer.js';
import { ServerClock } from '../common/server-clock.js';
import {
  DISCOVERY_OPTIONS,
  DISCOVERY_STATS,
  RECORD_SIGNER,
  REGISTRY_STORE,
} from '../discovery.constants.js';
import type {
  ResolvedDiscoveryOptions,
  ServiceDescriptor,
} from '../options/discovery-options.interface.js';
import { recordTag } from '../storage/registry-digest.js';
import type { RegistryStore } from '../storage/registry-store.interface.js';
import type { DiscoveryStats, NodeInfo } from './node-info.interface.js';
import { NodeLease } from './node-lease.js';
import { encodeRecord } from './node-record.codec.js';
import { RegistrySync } from './registry-sync.service.js';
import { errorMessage } from '../common/error-message.js';

/** What the health indicator and the job runner need to know about this node's lease. */
export interface LeaseStatus {
  registered: boolean;
  /** The lease has not run out (see `NodeLease`). */
  valid: boolean;
  /** ms since the last successful heartbeat; undefined before the first. */
  lastHeartbeatAge: number | undefined;
  consecutiveFailures: number;
  /** A heartbeat is overdue: sent but unanswered (a stalled server), or not sent at all. */
  stalled: boolean;
  /** ms since heartbeats stopped succeeding on time; 0 while they do. */
  failingFor: number;
}

@Injectable()
export class NodeMembership {
  readonly nodeId: string;
  /** This node's lease, judged by its own heartbeats only. */
  readonly lease = new NodeLease();
  private readonly logger = new Logger('ServiceDiscovery');
  /** Identifies this process as the owner of `nodeId`, so a second process with the same id is refused. */
  private readonly instance = randomUUID();
  private address: string;
  private services: ServiceDescriptor[];
  private metadata: Record<string, string>;

  private started: Promise<void> | undefined;
  private stopping = false;
  private shuttingDown = false;
  /** Every write to Redis goes through this chain: heartbeats never overlap, updates serialize. */
  private writes: Promise<unknown> = Promise.resolve();
  private registered = false;
  private lastBeatAt: number | undefined;
  private consecutiveFailures = 0;
  private failingSince = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastEncoded: { record: string; tag: string } | undefined;

  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly clock: ServerClock,
    @Inject(DISCOVERY_STATS) private readonly stats: DiscoveryStats,
    @Inject(RECORD_SIGNER) private readonly signer: RecordSigner | undefined,
    private readonly sync: RegistrySync,
  ) {
    this.nodeId = options.nodeId;
    this.address = options.address ?? hostname();
    this.services = options.services.map((s) => ({ ...s }));
    this.metadata = { ...options.metadata };
  }

  /** This node as peers see it. */
  get self(): NodeInfo {
    return {
      nodeId: this.nodeId,
      serviceName: this.options.serviceName,
      address: this.address,
      services: this.services.map((s) => ({ ...s })),
      metadata: { ...this.metadata },
    };
  }

  /**
   * Starts the view and registers, waiting up to `startupTimeout` for Redis to answer; then keeps
   * beating. Resolves after the first registration (a client: once the view is up). Idempotent.
   */
  start(): Promise<void> {
    this.started ??= this.connect();
    return this.started;
  }

  /** Stops heartbeats and removes this node from the registry. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.lease.end();
    clearTimeout(this.heartbeatTimer);
    // Only a node that ever registered has something to remove: a start that never reached Redis
    // must not spend the TTL trying (an unanswered first beat expires by its TTL).
    if (!this.registered) return;
    // Sent after any in-flight heartbeat on the same connection, so Redis applies it last: once it
    // resolves no key of the node is left, even if that heartbeat was stalled.
    const deregistered = this.serialize(() => this.deregisterWithRetry());
    const bound = this.options.heartbeatTTL;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      deregistered.then(() => 'done' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, bound, 'timeout'))),
    ]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.logger.warn(
        `Could not deregister node ${this.nodeId} within ${bound} ms; it expires by its TTL`,
      );
    }
    this.sync.removeOwn(this.nodeId);
    this.registered = false;
  }

  /** Applies a change of this node's record and writes it (once registered). */
  update(change: {
    address?: string;
    services?: ServiceDescriptor[];
    metadata?: Record<string, string>;
  }): Promise<void> {
    if (this.stopping) {
      this.logger.warn('Update ignored: the discovery service has shut down');
      return Promise.resolve();
    }
    return this.serialize(async () => {
      if (change.address !== undefined) this.address = change.address;
      if (change.services) this.services = change.services.map((s) => ({ ...s }));
      if (change.metadata) this.metadata = { ...change.metadata };
      if (this.registered && !this.stopping) await this.beat();
    });
  }

  get addressNow(): string {
    return this.address;
  }

  get servicesNow(): ServiceDescriptor[] {
    return this.services.map((s) => ({ ...s }));
  }

  get metadataNow(): Record<string, string> {
    return { ...this.metadata };
  }

  /** Estimated Redis server time (ms): what ticks and deadlines are measured in. */
  serverNow(): number {
    return this.clock.now();
  }

  /** Like `serverNow()`, after one round trip if no reply has set the clock yet. */
  async syncedServerNow(): Promise<number> {
    if (!this.clock.synced) {
      const sentAt = ServerClock.local();
      const { serverTime } = await this.store.version();
      this.clock.observe(serverTime, sentAt, ServerClock.local());
    }
    return this.clock.now();
  }

  leaseStatus(): LeaseStatus {
    const now = ServerClock.local();
    const age = this.lastBeatAt === undefined ? undefined : now - this.lastBeatAt;
    // A stalled Redis fails no command: a beat that is two intervals late counts as failing.
    const lateBy = age === undefined ? 0 : age - 2 * this.options.heartbeatInterval;
    const failingFor = Math.max(
      this.consecutiveFailures === 0 ? 0 : now - this.failingSince,
      lateBy > 0 ? age! - this.options.heartbeatInterval : 0,
    );
    return {
      registered: this.registered,
      valid: this.registered && this.lease.isValid(),
      lastHeartbeatAge: age === undefined ? undefined : Math.round(age),
      consecutiveFailures: this.consecutiveFailures,
      stalled: lateBy > 0,
      failingFor: Math.round(failingFor),
    };
  }

  /** Shutdown has begun (jobs drain first): readiness should fail from now on. */
  get isShuttingDown(): boolean {
    return this.shuttingDown || this.stopping;
  }

  /** Called when shutdown begins, before jobs drain; heartbeats go on until `stop()`. */
  beginShutdown(): void {
    this.shuttingDown = true;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  // --- registration and heartbeats --------------------------------------------------------------

  private async connect(): Promise<void> {
    const { startupTimeout, retry, clientMode } = this.options;
    const startedAt = ServerClock.local();
    for (let attempt = 1; ; attempt++) {
      const left = startedAt + startupTimeout - ServerClock.local();
      try {
        await within(this.startOnce(), left);
        break;
      } catch (error) {
        if (!worthWaiting(error) || this.stopping) throw error;
        const waited = Math.round(ServerClock.local() - startedAt);
        const last = this.store.lastConnectionError ?? errorMessage(error);
        if (waited >= startupTimeout || error instanceof TimeoutError) {
          throw new RegistryUnavailableError(this.store.address, waited, last);
        }
        if (attempt === 1) {
          this.logger.warn(
            `Waiting for Redis at ${this.store.address} (${last}); trying for up to ${startupTimeout} ms (option startupTimeout)`,
          );
        }
        const pause = backoffDelay(attempt, retry.initialDelay, Math.min(retry.maxDelay, 2000));
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(pause, startupTimeout - waited)),
        );
      }
    }
    if (!clientMode) this.scheduleHeartbeat(this.options.heartbeatInterval);
  }

  /** One try: the view (subscription and first snapshot), then the first heartbeat. */
  private async startOnce(): Promise<void> {
    await this.sync.start();
    if (!this.options.clientMode) await this.serialize(() => this.beat());
  }

  private scheduleHeartbeat(delay: number): void {
    if (this.stopping) return;
    this.heartbeatTimer = setTimeout(async () => {
      try {
        await this.serialize(() => this.beat());
        this.scheduleHeartbeat(this.options.heartbeatInterval);
      } catch {
        const { initialDelay, maxDelay } = this.options.retry;
        this.scheduleHeartbeat(backoffDelay(this.consecutiveFailures, initialDelay, maxDelay));
      }
    }, delay);
  }

  /** One heartbeat: renews the lease, or writes the record when it changed or was lost. */
  private async beat(): Promise<void> {
    if (this.stopping) return;
    const node = this.self;
    const { record, tag } = this.encoded(node);
    const sent = this.sync.mark();
    const sentAt = ServerClock.local();
    let result;
    try {
      result = await this.store.beat({
        nodeId: this.nodeId,
        instance: this.instance,
        record,
        tag,
        pool: node.serviceName,
        services: [...new Set(node.services.map((s) => s.name))],
        ttl: this.options.heartbeatTTL,
        scope: this.sync.scope(),
      });
    } catch (error) {
      this.stats.heartbeatFailures += 1;
      if (this.consecutiveFailures++ === 0) this.failingSince = sentAt;
      if (error instanceof DuplicateNodeIdError) this.logger.error(error.message);
      else
        this.logger.warn(
          `Heartbeat failed (${this.consecutiveFailures} in a row): ${errorMessage(error)}`,
        );
      throw error;
    }
    const receivedAt = ServerClock.local();
    this.clock.observe(result.serverTime, sentAt, receivedAt);
    this.stats.heartbeats += 1;
    this.consecutiveFailures = 0;
    this.lastBeatAt = receivedAt;
    if (result.outcome === 'registered' && this.registered) {
      this.stats.reRegistrations += 1;
      this.lease.lose(
        `node ${this.nodeId} had lost its registration (expired or Redis lost data); registered again`,
      );
    }
    this.registered = true;
    this.sync.beating = true;
    this.lease.renewed(sentAt, this.options.heartbeatTTL);
    this.sync.ownRecord(node, result.version, tag);
    if (this.stopping) return;
    this.sync.observe(result, sent);
  }

  /** The record as stored and its tag, computed once per change of the record. */
  private encoded(node: NodeInfo): { record: string; tag: string } {
    const record = encodeRecord(node, this.signer);
    if (this.lastEncoded?.record !== record) this.lastEncoded = { record, tag: recordTag(record) };
    return this.lastEncoded;
  }

  private async deregisterWithRetry(): Promise<void> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await this.store.deregister(this.nodeId, this.instance);
        return;
      } catch (error) {
        this.logger.warn(`Deregistration attempt ${attempt} failed: ${errorMessage(error)}`);
        if (attempt < 3)
          await new Promise((r) => setTimeout(r, attempt * this.options.retry.initialDelay));
      }
    }
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writes.then(work, work);
    this.writes = run.catch(() => undefined);
    return run;
  }
}

class TimeoutError extends Error {}

/**
 * Whether a failed start may succeed by waiting: Redis unreachable, or answering that it is not
 * ready yet. A refusal (wrong password, no permission, a duplicate node id) fails at once.
 */
function worthWaiting(error: unknown): boolean {
  if (error instanceof DuplicateNodeIdError || !(error instanceof Error)) return false;
  if (error.name !== 'ReplyError') return true;
  return /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY)\b/.test(error.message);
}

/** `work`, or a TimeoutError once `ms` have passed (a command may wait in an offline queue). */
async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError('no answer')), Math.max(0, ms));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

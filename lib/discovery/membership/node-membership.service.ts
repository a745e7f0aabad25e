// This node's membership in the registry: its record, registration, the heartbeat that keeps its
// lease, duplicate-id refusal, and deregistration; what the job runner and health probes ask about.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { backoffDelay } from '../../common/backoff.js';
import { errorMessage } from '../../common/error-message.js';
import { DuplicateNodeIdError, NodeDeregisteredError } from '../../common/errors.js';
import type { RecordSigner } from '../../common/record-signer.js';
import { ServerClock } from '../../common/server-clock.js';
import {
  DISCOVERY_OPTIONS,
  RECORD_SIGNER,
  REGISTRY_STORE,
  TELEMETRY,
} from '../../discovery.constants.js';
import type { Telemetry } from '../../common/telemetry/telemetry.js';
import type { ResolvedDiscoveryOptions } from '../../options/discovery-options.interface.js';
import type { RegistryStore } from '../../storage/registry-store.interface.js';
import type { NodeInfo } from '../node-info.interface.js';
import { deregisterWithin } from './deregistration.js';
import { HeartbeatHealth, type LeaseStatus } from './heartbeat-health.js';
import { NodeLease } from './node-lease.js';
import { OwnRecord, type RecordChange } from './own-record.js';
import { RegistrySync } from '../view/registry-sync.service.js';
import { waitForRegistry } from './startup-wait.js';

export type { LeaseStatus } from './heartbeat-health.js';

@Injectable()
export class NodeMembership {
  readonly nodeId: string;
  /** This node's lease, judged by its own heartbeats only. */
  readonly lease = new NodeLease();
  private readonly logger = new Logger('ServiceDiscovery');
  /** Identifies this process as the owner of `nodeId`, so a second process with the same id is refused. */
  private readonly instance = randomUUID();
  private readonly record: OwnRecord;

  private started: Promise<void> | undefined;
  private shutdownDone: Promise<void> | undefined;
  private stopping = false;
  private shuttingDown = false;
  /** Every write to Redis goes through this chain: heartbeats never overlap, updates serialize. */
  private writes: Promise<unknown> = Promise.resolve();
  private registered = false;
  /** A heartbeat was sent (it may have registered the node even if no reply came). */
  private beatSent = false;
  /** When the last heartbeat left (local monotonic ms): the next one is due an interval later. */
  private lastSentAt: number | undefined;
  private readonly health: HeartbeatHealth;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly clock: ServerClock,
    @Inject(RECORD_SIGNER) signer: RecordSigner | undefined,
    private readonly sync: RegistrySync,
    @Inject(TELEMETRY) private readonly telemetry: Telemetry,
  ) {
    this.nodeId = options.nodeId;
    this.record = new OwnRecord(options, signer);
    this.health = new HeartbeatHealth(options.heartbeatInterval);
  }

  /** This node as peers see it. */
  get self(): NodeInfo {
    return this.record.node;
  }

  /**
   * Starts the view and registers, waiting up to `startupTimeout` for Redis to answer; then keeps
   * beating. Resolves after the first registration (a client: once the view is up). Idempotent.
   */
  start(): Promise<void> {
    this.started ??= this.connect();
    return this.started;
  }

  /**
   * Stops heartbeats, removes this node from the registry and ends the view's subscription (the
   * module's shutdown, and a failed start). Idempotent.
   */
  shutdown(): Promise<void> {
    this.shutdownDone ??= (async () => {
      this.sync.halt();
      await this.stop();
      await this.sync.close();
    })();
    return this.shutdownDone;
  }

  /** Stops heartbeats and removes this node from the registry. */
  private async stop(): Promise<void> {
    this.stopping = true;
    this.lease.end();
    clearTimeout(this.heartbeatTimer);
    // Nothing to remove without a beat that may have reached Redis (it must not spend the TTL
    // trying); a start that gave up with its first beat in flight may have registered.
    if (!this.registered && !(this.beatSent && this.store.reachedRedis)) return;
    // Sent at once, not behind a stalled heartbeat: on the same connection Redis applies it after
    // that beat, and its tombstone refuses any beat of this process that comes later still.
    await deregisterWithin({
      store: this.store,
      nodeId: this.nodeId,
      instance: this.instance,
      ttl: this.options.heartbeatTTL,
      bound: this.options.heartbeatTTL,
      retryDelay: this.options.retry.initialDelay,
      logger: this.logger,
    });
    this.sync.removeOwn(this.nodeId);
    this.registered = false;
  }

  /** Applies a change of this node's record and writes it (once registered). */
  update(change: RecordChange): Promise<void> {
    if (this.stopping) {
      this.logger.warn('Update ignored: the discovery service has shut down');
      return Promise.resolve();
    }
    return this.serialize(async () => {
      this.record.apply(change);
      if (this.registered && !this.stopping) await this.beat();
    });
  }

  /** Estimated Redis server time (ms): what ticks and deadlines are measured in. */
  serverNow(): number {
    return this.clock.now();
  }

  /**
   * ms this node's wall clock is ahead of Redis time (negative: behind), from the clock estimate;
   * undefined before any reply. `@Cron` fires by the wall clock, claims are judged in Redis time.
   */
  clockOffset(): number | undefined {
    return this.clock.synced ? Math.round(Date.now() - this.clock.now()) : undefined;
  }

  /** Like `serverNow()`, after one round trip if no reply has set the clock yet. */
  async syncedServerNow(): Promise<number> {
    return this.sync.serverNow();
  }

  leaseStatus(): LeaseStatus {
    return this.health.status(this.registered, this.lease.isValid());
  }

  /** Shutdown has begun (jobs drain first): readiness should fail from now on. */
  get isShuttingDown(): boolean {
    return this.shuttingDown || this.stopping;
  }

  /** Called when shutdown begins, before jobs drain; heartbeats go on until `stop()`. */
  beginShutdown(): void {
    this.shuttingDown = true;
  }

  // --- registration and heartbeats --------------------------------------------------------------

  private async connect(): Promise<void> {
    await waitForRegistry(() => this.startOnce(), {
      ...this.options,
      nodeId: this.nodeId,
      store: this.store,
      logger: this.logger,
      stopping: () => this.stopping,
    });
    if (!this.options.clientMode) this.scheduleHeartbeat(this.options.heartbeatInterval);
  }

  /** One try: the view (subscription and first snapshot), then the first heartbeat. */
  private async startOnce(): Promise<void> {
    await this.sync.start();
    if (!this.options.clientMode) await this.serialize(() => this.beat());
  }

  /** Heartbeats on a fixed schedule from their send times: a slow reply pushes no beat later. */
  private scheduleHeartbeat(delay: number): void {
    if (this.stopping) return;
    this.heartbeatTimer = setTimeout(async () => {
      try {
        await this.serialize(() => this.beat());
        const since = ServerClock.local() - (this.lastSentAt ?? ServerClock.local());
        this.scheduleHeartbeat(Math.max(0, this.options.heartbeatInterval - since));
      } catch (error) {
        if (this.stopping) return;
        if (error instanceof DuplicateNodeIdError) this.logger.error(error.message);
        const { initialDelay, maxDelay } = this.options.retry;
        this.scheduleHeartbeat(
          backoffDelay(this.health.consecutiveFailures, initialDelay, maxDelay),
        );
      }
    }, delay);
  }

  /** One heartbeat: renews the lease, or writes the record when it changed or was lost. */
  private async beat(): Promise<void> {
    if (this.stopping) return;
    const node = this.self;
    const { record, tag } = this.record.encoded(node);
    // Redis time for the lease (a round trip only before the clock is synced: a partial load).
    const leaseUntil = (await this.sync.serverNow()) + this.options.heartbeatTTL;
    const sent = this.sync.mark();
    const sentAt = ServerClock.local();
    this.lastSentAt = sentAt;
    this.beatSent = true;
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
        leaseUntil,
        scope: this.sync.scope(),
      });
    } catch (error) {
      // A late beat of a node that deregistered meanwhile: refused by its tombstone, as meant.
      if (error instanceof NodeDeregisteredError && this.stopping) throw error;
      this.telemetry.count('heartbeatFailures');
      this.health.failed(sentAt);
      if (!(error instanceof DuplicateNodeIdError))
        this.logger.warn(
          `Heartbeat failed (${this.health.consecutiveFailures} in a row): ${errorMessage(error)}`,
        );
      throw error;
    }
    const receivedAt = ServerClock.local();
    if (this.stopping) return; // a beat that was in flight at shutdown: nothing to act on
    this.telemetry.heartbeat(receivedAt - sentAt);
    this.clock.observe(result.serverTime, sentAt, receivedAt);
    this.telemetry.setClockOffset(this.clockOffset());
    this.health.succeeded(receivedAt);
    if (result.outcome === 'registered' && this.registered) {
      this.telemetry.count('reRegistrations');
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

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writes.then(work, work);
    this.writes = run.catch(() => undefined);
    return run;
  }
}

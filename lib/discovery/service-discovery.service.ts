import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { backoffDelay } from '../common/backoff.js';
import { DuplicateNodeIdError, InvalidArgumentError } from '../common/errors.js';
import {
  addressRule,
  metadataRule,
  nameRule,
  servicesRule,
  type Rule,
} from '../common/field-rules.js';
import { RecordSigner } from '../common/record-signer.js';
import { ServerClock } from '../common/server-clock.js';
import { ThrottledWarning } from '../common/throttled-warning.js';
import { DISCOVERY_OPTIONS, REGISTRY_STORE } from '../discovery.constants.js';
import type {
  ResolvedDiscoveryOptions,
  ServiceDescriptor,
} from '../options/discovery-options.interface.js';
import type { RegistryStore, RegistryVersion } from '../storage/registry-store.interface.js';
import type {
  DiscoveryEvent,
  DiscoveryEventHandler,
  DiscoveryStats,
  NodeInfo,
} from './node-info.interface.js';
import {
  decodeEvent,
  decodeRecord,
  encodeRecord,
  type Rejection,
  type WireEvent,
} from './node-record.codec.js';
import { NodeLease } from './node-lease.js';
import { RegistryView, type ViewChange } from './registry-view.js';
import { versionMatcher } from './version-match.js';

/** Lookups answer from the in-process view; `fresh` reads Redis instead (one round trip). */
export interface LookupOptions {
  fresh?: boolean;
}

/** What the health indicator and the job runner need to know about this node's lease. */
export interface LeaseStatus {
  registered: boolean;
  /** The lease (server time) has not run out. */
  valid: boolean;
  /** ms since the last successful heartbeat; undefined before the first. */
  lastHeartbeatAge: number | undefined;
  consecutiveFailures: number;
  /** A heartbeat is overdue: sent but unanswered (a stalled server), or not sent at all. */
  stalled: boolean;
  /** ms since heartbeats stopped succeeding on time; 0 while they do. */
  failingFor: number;
}

/** Parsed records kept for fresh lookups and resyncs; emptied when full. */
const DECODED_CACHE_SIZE = 10_000;

/** How long an event-less version mismatch may last before it counts as a missed event. */
const MISSED_EVENT_GRACE_MS = 150;

/**
 * This node's membership in the registry (register, heartbeat, deregister) and everyone's view of
 * the registry (lookups and change events).
 */
@Injectable()
export class ServiceDiscovery {
  readonly nodeId: string;
  readonly stats: DiscoveryStats = {
    heartbeats: 0,
    heartbeatFailures: 0,
    reRegistrations: 0,
    resyncs: 0,
    malformedEvents: 0,
    malformedRecords: 0,
    unverified: 0,
    handlerErrors: 0,
  };
  /** Signs this node's record and verifies everyone else's (option `signingKey`). */
  readonly signer: RecordSigner | undefined;

  private readonly logger = new Logger('ServiceDiscovery');
  private readonly badData = new ThrottledWarning(this.logger);
  /** Identifies this process as the owner of `nodeId`, so a second process with the same id is refused. */
  private readonly instance = randomUUID();
  private readonly view = new RegistryView();
  /** Raw record -> parsed node (read-only), for records read back from Redis. */
  private readonly decoded = new Map<string, NodeInfo>();
  private readonly clock = new ServerClock();
  private readonly handlers = new Set<DiscoveryEventHandler>();
  /** This node's lease, judged by its own heartbeats only. */
  readonly lease = new NodeLease();
  private currentAddress: string;
  private currentServices: ServiceDescriptor[];
  private currentMetadata: Record<string, string>;

  private viewStart: Promise<void> | undefined;
  private heartbeatStart: Promise<void> | undefined;
  private shutdownDone: Promise<void> | undefined;
  private stopping = false;
  private shuttingDown = false;
  /** Every write to Redis goes through this chain: heartbeats never overlap, updates serialize. */
  private writes: Promise<unknown> = Promise.resolve();
  private registered = false;
  private lastBeatAt: number | undefined;
  private consecutiveFailures = 0;
  private failingSince = 0;

  private syncing = false;
  private resyncWanted = false;
  private buffered: WireEvent[] = [];
  private confirmations: Promise<void> = Promise.resolve();
  private unsubscribe: (() => Promise<void>) | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private reapTimer: NodeJS.Timeout | undefined;
  private missedCheck: NodeJS.Timeout | undefined;

  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
  ) {
    this.nodeId = options.nodeId;
    this.signer =
      options.signingKey === undefined ? undefined : new RecordSigner(options.signingKey);
    this.currentAddress = options.address ?? hostname();
    this.currentServices = options.services.map((s) => ({ ...s }));
    this.currentMetadata = { ...options.metadata };
  }

  get address(): string {
    return this.currentAddress;
  }

  get services(): ServiceDescriptor[] {
    return this.currentServices.map((s) => ({ ...s }));
  }

  get metadata(): Record<string, string> {
    return { ...this.currentMetadata };
  }

  /** This node as peers see it. */
  get self(): NodeInfo {
    return {
      nodeId: this.nodeId,
      serviceName: this.options.serviceName,
      address: this.currentAddress,
      services: this.services,
      metadata: this.metadata,
    };
  }

  /**
   * Registers this node and keeps it alive. Resolves after the first successful registration;
   * idempotent. In client mode it only starts the view (lookups and events).
   */
  startHeartbeat(): Promise<void> {
    if (this.options.clientMode) return this.startView();
    this.heartbeatStart ??= this.register();
    return this.heartbeatStart;
  }

  /** Stops heartbeats and removes this node from the registry. Idempotent. */
  shutdown(): Promise<void> {
    this.shutdownDone ??= this.stop();
    return this.shutdownDone;
  }

  async getActiveNodes(options: LookupOptions = {}): Promise<NodeInfo[]> {
    if (options.fresh) {
      const snapshot = await this.store.snapshot();
      return this.decodeAll(snapshot.records);
    }
    await this.startView();
    return this.view.all();
  }

  /** Nodes offering `serviceName`, optionally at an exact `version` or inside a semver range. */
  async findNodesByService(
    serviceName: string,
    version?: string,
    options: LookupOptions = {},
  ): Promise<NodeInfo[]> {
    argument('serviceName', serviceName, nameRule);
    if (
      version !== undefined &&
      (typeof version !== 'string' || version.length === 0 || version.length > 256)
    ) {
      throw new InvalidArgumentError(
        'version must be a non-empty string of at most 256 characters',
      );
    }
    const matches = versionMatcher(version);
    if (!options.fresh) {
      await this.startView();
      return version === undefined
        ? this.view.offering(serviceName)
        : this.view.offeringMatching(serviceName, matches);
    }
    const candidates = this.decodeAll((await this.store.fetchService(serviceName)).records);
    if (version === undefined) return candidates;
    return candidates.filter((node) =>
      node.services.some((s) => s.name === serviceName && matches(s.version)),
    );
  }

  async isNodeActive(nodeId: string): Promise<boolean> {
    argument('nodeId', nodeId, nameRule);
    await this.startView();
    return this.view.get(nodeId) !== undefined;
  }

  /** The live nodes of a pool, from the view (no round trip); used by the node pool. */
  poolNodes(serviceName = this.options.serviceName): NodeInfo[] {
    return this.view.pool(serviceName);
  }

  updateServices(services: ServiceDescriptor[]): Promise<void> {
    argument('services', services, servicesRule);
    return this.update(() => (this.currentServices = services.map((s) => ({ ...s }))));
  }

  updateAddress(address: string): Promise<void> {
    argument('address', address, addressRule);
    return this.update(() => (this.currentAddress = address));
  }

  updateMetadata(metadata: Record<string, string>): Promise<void> {
    argument('metadata', metadata, metadataRule);
    return this.update(() => (this.currentMetadata = { ...metadata }));
  }

  /** Calls `handler` for every change; resolves with a function that stops it. */
  async subscribeToEvents(handler: DiscoveryEventHandler): Promise<() => Promise<void>> {
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function');
    this.handlers.add(handler);
    await this.startView();
    return async () => {
      this.handlers.delete(handler);
    };
  }

  /** Runs `listener` when this node loses its lease (expired, or re-registered after data loss). */
  onLeaseLost(listener: (reason: string) => void): () => void {
    return this.lease.onLost(listener);
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

  /** Grows whenever the view changes; lets the node pool skip work when nothing did. */
  get viewGeneration(): number {
    return this.view.generation;
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

  /** Called when shutdown begins, before jobs drain; heartbeats go on until `shutdown()`. */
  beginShutdown(): void {
    this.shuttingDown = true;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  // --- registration ---------------------------------------------------------------------------

  private async register(): Promise<void> {
    await this.startView();
    const giveUpAt = ServerClock.local() + this.options.heartbeatTTL;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.serialize(() => this.beat());
        break;
      } catch (error) {
        if (
          error instanceof DuplicateNodeIdError ||
          this.stopping ||
          ServerClock.local() > giveUpAt
        )
          throw error;
        await this.sleep(
          backoffDelay(attempt, this.options.retry.initialDelay, this.options.retry.maxDelay),
        );
      }
    }
    this.scheduleHeartbeat(this.options.heartbeatInterval);
  }

  private scheduleHeartbeat(delay: number): void {
    if (this.stopping) return;
    this.timer(delay, async () => {
      try {
        await this.serialize(() => this.beat());
        this.scheduleHeartbeat(this.options.heartbeatInterval);
      } catch {
        const { initialDelay, maxDelay } = this.options.retry;
        this.scheduleHeartbeat(backoffDelay(this.consecutiveFailures, initialDelay, maxDelay));
      }
    });
  }

  /** One heartbeat: renews the lease, or writes the record when it changed or was lost. */
  private async beat(): Promise<void> {
    if (this.stopping) return;
    const node = this.self;
    const canonical = encodeRecord(node);
    const record = this.signer ? encodeRecord(node, this.signer) : canonical;
    const sentAt = ServerClock.local();
    let result;
    try {
      result = await this.store.beat(
        this.nodeId,
        this.instance,
        record,
        node.services.map((s) => s.name),
        this.options.heartbeatTTL,
      );
    } catch (error) {
      this.stats.heartbeatFailures += 1;
      if (this.consecutiveFailures++ === 0) this.failingSince = sentAt;
      if (error instanceof DuplicateNodeIdError) this.logger.error(error.message);
      else
        this.logger.warn(
          `Heartbeat failed (${this.consecutiveFailures} in a row): ${message(error)}`,
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
    this.lease.renewed(sentAt, this.options.heartbeatTTL);
    this.view.upsert(node, canonical, result.version);
    if (this.stopping) return;
    this.noteVersion(result);
    this.planReap(result.nextDeadline);
  }

  private update(apply: () => void): Promise<void> {
    if (this.stopping) {
      this.logger.warn('Update ignored: the discovery service has shut down');
      return Promise.resolve();
    }
    return this.serialize(async () => {
      apply();
      if (this.registered && !this.stopping) await this.beat();
    });
  }

  private async stop(): Promise<void> {
    this.stopping = true;
    this.lease.end();
    for (const timer of [...this.timers]) this.clearTimer(timer);
    // Only a node that ever registered has something to remove: a start that never reached Redis
    // must not spend the TTL trying (an unanswered first beat expires by its TTL).
    if (this.registered) {
      // Sent after any in-flight heartbeat on the same connection, so Redis applies it last:
      // once it resolves no key of the node is left, even if that heartbeat was stalled.
      const deregistered = this.serialize(() => this.deregisterWithRetry());
      const bound = this.options.heartbeatTTL;
      const outcome = await Promise.race([
        deregistered.then(() => 'done' as const),
        new Promise<'timeout'>((resolve) => setTimeout(resolve, bound, 'timeout').unref()),
      ]);
      if (outcome === 'timeout') {
        this.logger.warn(
          `Could not deregister node ${this.nodeId} within ${bound} ms; it expires by its TTL`,
        );
      }
      this.view.remove(this.nodeId, Infinity);
      this.registered = false;
    }
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    await unsubscribe?.();
  }

  private async deregisterWithRetry(): Promise<void> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await this.store.deregister(this.nodeId, this.instance);
        return;
      } catch (error) {
        this.logger.warn(`Deregistration attempt ${attempt} failed: ${message(error)}`);
        if (attempt < 3)
          await new Promise((r) => setTimeout(r, attempt * this.options.retry.initialDelay));
      }
    }
  }

  // --- the view -------------------------------------------------------------------------------

  private startView(): Promise<void> {
    this.viewStart ??= (async () => {
      if (this.options.pubSubEnabled) {
        this.unsubscribe = await this.store.subscribe(
          (raw) => this.onMessage(raw),
          () => this.requestResync(),
        );
      }
      await this.resync(false);
      this.planReap(null, 0);
    })();
    return this.viewStart;
  }

  private onMessage(raw: string): void {
    const event = decodeEvent(raw, this.signer);
    if (typeof event === 'string') return this.reject(event, 'message on the events channel');
    if (this.signer) {
      // Events are built by Redis scripts, which cannot sign: with a signing key an event is only
      // a hint, and what counts is the signed record Redis holds for that node.
      this.confirmations = this.confirmations.then(() => this.confirm(event));
      return;
    }
    if (this.syncing) this.buffered.push(event);
    else this.applyEvent(event);
  }

  private async confirm(event: WireEvent): Promise<void> {
    let current: NodeInfo | Rejection | undefined;
    try {
      const record = await this.store.fetchNode(event.node.nodeId);
      current = record === undefined ? undefined : decodeRecord(record, this.signer);
    } catch (error) {
      this.logger.warn(`Could not confirm an event, resyncing: ${message(error)}`);
      return this.requestResync();
    }
    const alive = current !== undefined && typeof current !== 'string';
    const confirmed =
      event.type === 'NODE_DEREGISTERED'
        ? !alive
        : alive && encodeRecord(current as NodeInfo) === encodeRecord(event.node);
    if (!confirmed) {
      // Forged, or overtaken by a later change whose own event follows: skip either way.
      this.stats.unverified += 1;
      return;
    }
    if (this.syncing) this.buffered.push(event);
    else this.applyEvent(event);
  }

  private reject(reason: Rejection, what: string): void {
    if (reason === 'unverified') {
      this.stats.unverified += 1;
      this.badData.warn(`Skipped a ${what} that failed signature verification`);
    } else if (what.startsWith('message')) {
      this.stats.malformedEvents += 1;
      this.badData.warn(`Skipped a malformed ${what}`);
    } else {
      this.stats.malformedRecords += 1;
      this.badData.warn(`Skipped a malformed ${what}`);
    }
  }

  private applyEvent(event: WireEvent): void {
    if (event.epoch !== this.view.epoch) return this.requestResync();
    if (event.version <= this.view.version) return; // already in the view
    if (event.version > this.view.version + 1) return this.requestResync();
    this.view.version = event.version;
    const { node } = event;
    if (event.type === 'NODE_DEREGISTERED') {
      // Even about this node: its lease is judged by its own heartbeats, never by an event.
      this.view.remove(node.nodeId, event.version);
    } else {
      this.view.upsert(node, encodeRecord(node), event.version);
    }
    this.emit({
      ...node,
      type: event.type,
      timestamp: event.timestamp,
      ...(event.reason ? { reason: event.reason } : {}),
    });
  }

  /** A reply showed the registry's version: if events for it do not arrive soon, some were missed. */
  private noteVersion(seen: RegistryVersion): void {
    if (this.stopping) return;
    const behind = () => seen.epoch !== this.view.epoch || seen.version > this.view.version;
    if (!behind() || this.missedCheck) return;
    if (!this.options.pubSubEnabled) return this.requestResync();
    this.missedCheck = this.timer(MISSED_EVENT_GRACE_MS, () => {
      this.missedCheck = undefined;
      if (behind()) this.requestResync();
    });
  }

  private requestResync(): void {
    if (this.stopping) return;
    if (this.syncing) {
      this.resyncWanted = true;
      return;
    }
    this.resync(true).catch((error) => {
      this.logger.warn(`Resync failed, retrying: ${message(error)}`);
      this.timer(this.options.retry.initialDelay, () => this.requestResync());
    });
  }

  /** Replaces the view with a snapshot; with `announce`, emits what changed as resynced events. */
  private async resync(announce: boolean): Promise<void> {
    this.syncing = true;
    try {
      do {
        this.resyncWanted = false;
        const sentAt = ServerClock.local();
        const snapshot = await this.store.snapshot();
        this.clock.observe(snapshot.serverTime, sentAt, ServerClock.local());
        const nodes = this.decodeAll(snapshot.records).map((node) => ({
          node,
          raw: encodeRecord(node),
        }));
        const changes = this.view.replace(snapshot.epoch, snapshot.version, nodes);
        if (announce) {
          this.stats.resyncs += 1;
          for (const change of changes) this.emit(resyncedEvent(change, snapshot.serverTime));
        }
        const pending = this.buffered.sort((a, b) => a.version - b.version);
        this.buffered = [];
        for (const event of pending) this.applyEvent(event);
      } while (this.resyncWanted && !this.stopping);
    } finally {
      this.syncing = false;
    }
  }

  // --- expiry ---------------------------------------------------------------------------------

  /**
   * Expiry. Every heartbeat reaps expired peers and tells the earliest deadline left; a node
   * sets a timer only for a deadline due before its next heartbeat, so in a healthy cluster no
   * extra call is made. A client (no heartbeats) sweeps at least every interval. The scripts are
   * atomic: however many peers reap at once, each expiry is removed and announced exactly once.
   */
  private planReap(nextDeadline: number | null, delay?: number): void {
    if (this.stopping) return;
    if (this.reapTimer) this.clearTimer(this.reapTimer);
    this.reapTimer = undefined;
    const beating = this.registered && !this.options.clientMode;
    let due = delay ?? (beating ? Infinity : this.options.heartbeatInterval);
    if (nextDeadline !== null) {
      // A few ms late on purpose, with jitter, so peers do not all fire at the same instant.
      const untilDeadline = this.clock.toLocal(nextDeadline) - ServerClock.local();
      due = Math.min(due, Math.max(1, untilDeadline + 2 + Math.random() * 8));
    }
    if (beating && due > this.options.heartbeatInterval) return; // the next heartbeat reaps
    this.reapTimer = this.timer(due, () => this.reap());
  }

  private async reap(): Promise<void> {
    this.reapTimer = undefined;
    try {
      const sentAt = ServerClock.local();
      const result = await this.store.reap();
      this.clock.observe(result.serverTime, sentAt, ServerClock.local());
      this.noteVersion(result);
      this.planReap(result.nextDeadline);
    } catch (error) {
      this.logger.warn(`Expiry sweep failed: ${message(error)}`);
      this.planReap(null, this.options.retry.initialDelay);
    }
  }

  // --- helpers --------------------------------------------------------------------------------

  private emit(event: DiscoveryEvent): void {
    if (this.options.ignoreOwnEvents && event.nodeId === this.nodeId) return;
    for (const handler of this.handlers) {
      try {
        const result = handler(event);
        if (result && typeof (result as Promise<void>).catch === 'function') {
          (result as Promise<void>).catch((error) => this.handlerFailed(error));
        }
      } catch (error) {
        this.handlerFailed(error);
      }
    }
  }

  private handlerFailed(error: unknown): void {
    this.stats.handlerErrors += 1;
    this.logger.error(`Event handler failed: ${message(error)}`);
  }

  private decodeAll(records: string[]): NodeInfo[] {
    return records.flatMap((raw) => {
      // Records rarely change: parsing and validating each once keeps fresh lookups cheap.
      let node = this.decoded.get(raw);
      if (!node) {
        const decoded = decodeRecord(raw, this.signer);
        if (typeof decoded === 'string') return (this.reject(decoded, 'node record in Redis'), []);
        if (this.decoded.size >= DECODED_CACHE_SIZE) this.decoded.clear();
        this.decoded.set(raw, (node = decoded));
      }
      return [node];
    });
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writes.then(work, work);
    this.writes = run.catch(() => undefined);
    return run;
  }

  private timer(delay: number, callback: () => void | Promise<void>): NodeJS.Timeout {
    const handle = setTimeout(() => {
      this.timers.delete(handle);
      void callback();
    }, delay);
    this.timers.add(handle);
    return handle;
  }

  private clearTimer(handle: NodeJS.Timeout): void {
    clearTimeout(handle);
    this.timers.delete(handle);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}

function resyncedEvent(change: ViewChange, timestamp: number): DiscoveryEvent {
  const type =
    change.type === 'added'
      ? 'NODE_REGISTERED'
      : change.type === 'changed'
        ? 'NODE_UPDATED'
        : 'NODE_DEREGISTERED';
  return {
    ...change.node,
    type,
    timestamp,
    ...(type === 'NODE_DEREGISTERED' ? { reason: 'expired' as const } : {}),
    resynced: true,
  };
}

function argument(name: string, value: unknown, rule: Rule): void {
  const problem = rule(value);
  if (problem) throw new InvalidArgumentError(`${name} ${problem}`);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

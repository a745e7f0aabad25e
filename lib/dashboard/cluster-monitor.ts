// Pushes the cluster state to the open event streams when it changes: discovery events push at
// once, a poll catches the rest (jobs, pool state, heartbeats); drops streams that stopped reading.
import {
  BadRequestException,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { errorMessage } from '../common/error-message.js';
import { ThrottledWarning } from '../common/throttled-warning.js';
import type { DiscoveryEvent } from '../discovery/node-info.interface.js';
import { ClusterEventLog } from './cluster-event-log.js';
import { ClusterReader } from './cluster-reader.js';
import type { ClusterState } from './cluster-state.js';
import { DASHBOARD_OPTIONS } from './dashboard.constants.js';
import type { ResolvedDashboardOptions } from './dashboard-options.interface.js';
import { findDiscoverySources } from './discovery-sources.js';
import { EventStream, stateFrame } from './event-stream.js';
import type { StreamResponse } from './stream-connection.js';

/** A comment on an idle stream this often keeps proxies from closing it. */
const KEEP_ALIVE_MS = 15_000;

@Injectable()
export class ClusterMonitor implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('DiscoveryDashboard');
  private readonly slowWarning = new ThrottledWarning(this.logger);
  private readonly log: ClusterEventLog;
  private readonly streams = new Set<EventStream>();
  private reader!: ClusterReader;
  private unsubscribe: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastPushed = '';
  private pushing: Promise<void> | undefined;
  private pushAgain = false;
  private lastKeepAlive = 0;
  private stopped = false;

  constructor(
    @Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
    private readonly moduleRef: ModuleRef,
  ) {
    this.log = new ClusterEventLog(options.maxEvents);
  }

  /** A page action on a job (`actions`): pause, resume or trigger; then the page is told at once. */
  async operate(job: string, action: string): Promise<unknown> {
    const { jobs } = this.reader.sources;
    let result: unknown;
    if (action === 'pause')
      result = await jobs.pause(job, { reason: 'paused from the cluster page' });
    else if (action === 'resume') result = await jobs.resume(job);
    else if (action === 'trigger') result = await jobs.trigger(job);
    else
      throw new BadRequestException(
        `Unknown action ${JSON.stringify(action)}: pause, resume or trigger`,
      );
    void this.push();
    return result;
  }

  onModuleInit(): void {
    const sources = findDiscoverySources(this.moduleRef);
    this.reader = new ClusterReader(sources, this.options, this.log, this.logger);
  }

  async onApplicationBootstrap(): Promise<void> {
    const { discovery } = this.reader.sources;
    try {
      this.unsubscribe = await discovery.subscribeToEvents((event) => this.onEvent(event));
      this.log.seed(await discovery.getActiveNodes());
    } catch (error) {
      this.logger.warn(`Cluster page: no live node events (${errorMessage(error)})`);
    }
    this.reader.checkOwners();
    this.timer = setInterval(() => this.poll(), this.options.pollInterval);
    this.timer.unref();
  }

  /** Ends every open stream first, so that none holds up the HTTP server's close. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const open = [...this.streams];
    this.streams.clear();
    await Promise.all([
      ...open.map((stream) => stream.end()),
      this.unsubscribe?.().catch(() => undefined),
    ]);
  }

  /** The state now. */
  read(): Promise<ClusterState> {
    return this.reader.read();
  }

  /** Answers `response` with the state now, then again each time it changes, until either ends. */
  stream(response: StreamResponse): void {
    const stream = new EventStream(response, () => this.streams.delete(stream));
    stream.open();
    if (this.stopped) return void stream.end();
    this.streams.add(stream);
    void this.push();
  }

  private onEvent(event: DiscoveryEvent): void {
    this.log.record(event);
    this.reader.checkOwners();
    void this.push();
  }

  private poll(): void {
    this.reader.checkOwners();
    if (this.streams.size === 0) return;
    this.dropStalled();
    const now = Date.now();
    if (now - this.lastKeepAlive >= KEEP_ALIVE_MS) {
      this.lastKeepAlive = now;
      for (const stream of this.streams) stream.keepAlive();
    }
    void this.push();
  }

  /** Closes the streams whose client has not caught up for `slowClientTimeout`. */
  private dropStalled(): void {
    for (const stream of this.streams) {
      if (stream.stalledFor() <= this.options.slowClientTimeout) continue;
      const waiting = stream.backlog;
      this.streams.delete(stream);
      stream.drop();
      this.slowWarning.warn(
        `Cluster page: closed an event stream whose client had not caught up for ${this.options.slowClientTimeout} ms (${waiting} bytes waiting for it)`,
      );
    }
  }

  /**
   * Sends the state to every open stream if it changed (to a newcomer anyway); one read at a time,
   * in order. A stream still busy with an earlier state gets only the latest when it drains.
   */
  private async push(): Promise<void> {
    if (this.streams.size === 0 || this.stopped) return;
    if (this.pushing) {
      this.pushAgain = true;
      return this.pushing;
    }
    this.pushing = (async () => {
      do {
        this.pushAgain = false;
        try {
          const state = await this.reader.read();
          if (this.stopped) return;
          const key = JSON.stringify({ ...state, now: 0 });
          const changed = key !== this.lastPushed;
          this.lastPushed = key;
          const frame = stateFrame(state);
          for (const stream of this.streams) if (changed || !stream.hasState) stream.send(frame);
        } catch (error) {
          this.logger.warn(`Cluster page: could not read the state (${errorMessage(error)})`);
        }
      } while (this.pushAgain);
    })().finally(() => (this.pushing = undefined));
    return this.pushing;
  }
}

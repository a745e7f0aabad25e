// Reads the cluster state for the page and pushes it to the open event streams when it changes:
// discovery events push at once, a poll catches the rest (jobs, pool state); stops at shutdown.
import {
  Inject,
  Injectable,
  Logger,
  type MessageEvent,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Observable, type Subscriber } from 'rxjs';
import { ThrottledWarning } from '../common/throttled-warning.js';
import type { DiscoveryEvent } from '../discovery/node-info.interface.js';
import { ClusterEventLog } from './cluster-event-log.js';
import { ringArcs, ringPosition } from './cluster-ring.js';
import { byService } from './cluster-services.js';
import type { ClusterState, JobView, RingArc, RunView } from './cluster-state.js';
import { DASHBOARD_OPTIONS } from './dashboard.constants.js';
import type { ResolvedDashboardOptions } from './dashboard-options.interface.js';
import { findDiscoverySources, type DiscoverySources } from './discovery-sources.js';
import {
  closeWhenSent,
  connectionOf,
  type StreamResponse,
  type StreamSocket,
} from './stream-connection.js';
import { errorMessage } from '../common/error-message.js';

/** A comment on an idle stream this often keeps proxies from closing it. */
const KEEP_ALIVE_MS = 15_000;
/** How long a browser waits before it reconnects a stream that ended (a restart). */
const RECONNECT_MS = 2000;
/**
 * The same at shutdown, short: a browser may hold a spare connection open, unused, which keeps the
 * HTTP server from closing until the browser sends a request on it; its reconnect does it soon.
 */
const SHUTDOWN_RECONNECT_MS = 250;

/** An open event stream: its subscriber, and the response and connection it is written to. */
interface OpenStream {
  client: Subscriber<MessageEvent>;
  response: StreamResponse | undefined;
  socket: StreamSocket | undefined;
}

@Injectable()
export class ClusterMonitor implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('DiscoveryDashboard');
  private readonly runsWarning = new ThrottledWarning(this.logger);
  private readonly log: ClusterEventLog;
  private readonly streams = new Set<OpenStream>();
  private sources!: DiscoverySources;
  private unsubscribe: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ring = { members: '', arcs: [] as RingArc[] };
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

  onModuleInit(): void {
    this.sources = findDiscoverySources(this.moduleRef);
  }

  async onApplicationBootstrap(): Promise<void> {
    const { discovery } = this.sources;
    try {
      this.unsubscribe = await discovery.subscribeToEvents((event) => this.onEvent(event));
      this.log.seed(await discovery.getActiveNodes());
    } catch (error) {
      this.logger.warn(`Cluster page: no live node events (${errorMessage(error)})`);
    }
    this.checkOwners();
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
      ...open.map((stream) => end(stream)),
      this.unsubscribe?.().catch(() => undefined),
    ]);
  }

  /** The state now. */
  async read(): Promise<ClusterState> {
    const { discovery, pool, jobs } = this.sources;
    const nodes = await discovery.getActiveNodes();
    const poolNodes = pool.getNodes();
    const statuses = jobs.list();
    this.log.checkOwners(statuses, poolNodes, Math.round(discovery.serverNow()));
    const jobViews = await Promise.all(
      statuses.map(async (job): Promise<JobView> => ({
        name: job.name,
        schedule: job.schedule,
        period: job.period,
        owner: job.owner,
        ringAt: ringPosition(job.name),
        running: job.running,
        runs: job.runs,
        skips: job.skips,
        errors: job.errors,
        lastRun: job.lastRun?.getTime(),
        lastDuration: job.lastDuration,
        lastStartDelay: job.lastStartDelay,
        recentRuns: await this.recentRuns(job.name),
      })),
    );
    return {
      nodeId: discovery.nodeId,
      now: Math.round(discovery.serverNow()),
      services: byService(nodes, discovery.nodeId),
      pool: {
        name: discovery.self.serviceName,
        state: pool.getState(),
        nodes: poolNodes,
        changedAt: pool.getLastNodesUpdateTime()?.getTime(),
        ring: this.arcs(poolNodes),
      },
      jobs: jobViews,
      events: this.log.list(),
    };
  }

  /** The state now, then again each time it changes, until the client leaves or the app stops. */
  stream(response?: StreamResponse): Observable<MessageEvent> {
    return new Observable<MessageEvent>((client) => {
      const open: OpenStream = { client, response, socket: connectionOf(response) };
      if (this.stopped) return void end(open);
      this.streams.add(open);
      this.lastPushed = ''; // the newcomer needs the current state
      void this.push();
      return () => this.streams.delete(open);
    });
  }

  private onEvent(event: DiscoveryEvent): void {
    this.log.record(event);
    this.checkOwners();
    void this.push();
  }

  private poll(): void {
    this.checkOwners();
    if (this.streams.size === 0) return;
    const now = Date.now();
    if (now - this.lastKeepAlive >= KEEP_ALIVE_MS) {
      this.lastKeepAlive = now;
      for (const { client } of this.streams) client.next({ comment: 'keep-alive' });
    }
    void this.push();
  }

  /** Sends the state to every open stream if it changed; one read at a time, in order. */
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
          const state = await this.read();
          const key = JSON.stringify({ ...state, now: 0 });
          if (key === this.lastPushed || this.stopped) continue;
          this.lastPushed = key;
          const update = { type: 'state', retry: RECONNECT_MS, data: state };
          for (const { client } of this.streams) client.next(update);
        } catch (error) {
          this.logger.warn(`Cluster page: could not read the state (${errorMessage(error)})`);
        }
      } while (this.pushAgain);
    })().finally(() => (this.pushing = undefined));
    return this.pushing;
  }

  private checkOwners(): void {
    const { discovery, pool, jobs } = this.sources;
    this.log.checkOwners(jobs.list(), pool.getNodes(), Math.round(discovery.serverNow()));
  }

  /** The latest runs of a job across the pool, newest first; undefined when none can be read. */
  private async recentRuns(name: string): Promise<RunView[] | undefined> {
    const { jobs } = this.sources;
    if (this.options.recentRuns === 0) return undefined;
    try {
      const runs = await jobs.recentRuns(name, this.options.recentRuns);
      return runs.map(({ tick, startedAt, delay, nodeId, token }) => ({
        tick,
        startedAt,
        delay,
        nodeId,
        token,
      }));
    } catch (error) {
      this.runsWarning.warn(
        `Cluster page: could not read the runs of ${name} (${errorMessage(error)})`,
      );
      return undefined;
    }
  }

  private arcs(poolNodes: string[]): RingArc[] {
    const members = poolNodes.join('\n');
    if (members !== this.ring.members) {
      this.ring = { members, arcs: ringArcs(poolNodes, this.sources.hashReplicas) };
    }
    return this.ring.arcs;
  }
}

/** Completes the stream, then closes its connection once the end is sent. */
function end({ client, response, socket }: OpenStream): Promise<void> {
  client.next({ retry: SHUTDOWN_RECONNECT_MS, comment: 'shutting down' });
  client.complete();
  return closeWhenSent(response, socket);
}

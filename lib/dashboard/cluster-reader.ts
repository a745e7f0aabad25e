// Reads what the page shows from the library's public services: the view, the pool and its ring,
// each job with its runs in the pool, the heartbeat deadlines of the pool's nodes, the suspects.
import type { Logger } from '@nestjs/common';
import { errorMessage } from '../common/error-message.js';
import { ThrottledWarning } from '../common/throttled-warning.js';
import type { JobRunRecord, JobStatus } from '../jobs/distributed-job.interface.js';
import type { JobDescription } from '../jobs/job-operations.interface.js';
import type { ClusterEventLog } from './cluster-event-log.js';
import { ringArcs, ringPosition } from './cluster-ring.js';
import { byService } from './cluster-services.js';
import type { ClusterState, JobView, OperatedView, RingArc } from './cluster-state.js';
import type { ResolvedDashboardOptions } from './dashboard-options.interface.js';
import type { DiscoverySources } from './discovery-sources.js';
import { findSuspects } from './node-suspicion.js';
import { TakeoverTracker } from './takeover-tracker.js';

export class ClusterReader {
  /** Who ran each job's ticks instead of its owner: suspects, and when failovers really began. */
  readonly takeovers = new TakeoverTracker();
  private readonly runsWarning: ThrottledWarning;
  private readonly deadlinesWarning: ThrottledWarning;
  private ring = { members: '', arcs: [] as RingArc[] };

  constructor(
    readonly sources: DiscoverySources,
    private readonly options: ResolvedDashboardOptions,
    private readonly log: ClusterEventLog,
    logger: Logger,
  ) {
    this.runsWarning = new ThrottledWarning(logger);
    this.deadlinesWarning = new ThrottledWarning(logger);
  }

  /** Records the jobs whose owner changed (the event log), with who stood in for the old one. */
  checkOwners(statuses: JobStatus[] = this.sources.jobs.list()): void {
    const { discovery, pool } = this.sources;
    this.log.checkOwners(
      statuses,
      pool.getNodes(),
      Math.round(discovery.serverNow()),
      (job, from) => this.takeovers.standIn(job, from),
    );
  }

  /** The state now. */
  async read(): Promise<ClusterState> {
    const { discovery, pool, jobs } = this.sources;
    const nodes = await discovery.getActiveNodes();
    const poolNodes = pool.getNodes();
    const statuses = jobs.list();
    this.checkOwners(statuses);
    const [deadlines, runs, operated] = await Promise.all([
      this.deadlines(),
      Promise.all(statuses.map((job) => this.recentRuns(job.name))),
      Promise.all(statuses.map((job) => this.describe(job.name))),
    ]);
    const now = Math.round(discovery.serverNow());
    const state = pool.getState();
    const standIns = statuses.flatMap((job, i) => {
      if (runs[i]) this.takeovers.observe(job.name, job.owner, runs[i], state === 'steady', now);
      const standIn = this.takeovers.standIn(job.name, job.owner);
      return standIn && state === 'steady' ? [{ job: job.name, owner: job.owner, standIn }] : [];
    });
    return {
      nodeId: discovery.nodeId,
      now,
      services: byService(nodes, discovery.nodeId),
      pool: {
        name: discovery.self.serviceName,
        state,
        nodes: poolNodes,
        changedAt: pool.getLastNodesUpdateTime()?.getTime(),
        ring: this.arcs(poolNodes),
        suspects: findSuspects(poolNodes, deadlines, standIns, this.sources.heartbeat, now),
      },
      jobs: statuses.map((job, i) => ({ ...jobView(job, runs[i]), operated: operated[i] })),
      events: this.log.list(),
      actions: this.options.actions,
    };
  }

  /**
   * The heartbeat deadlines of the pool's nodes, read by the services they offer (the pool's own
   * name when they offer it: usually one round trip); undefined when Redis cannot be read.
   */
  private async deadlines(): Promise<Map<string, number> | undefined> {
    const { discovery } = this.sources;
    const pool = discovery.self.serviceName;
    const names = new Set<string>();
    for (const node of discovery.poolNodes(pool)) {
      const offered = node.services.map((s) => s.name);
      if (!offered.some((name) => names.has(name)) && offered.length > 0) {
        names.add(offered.includes(pool) ? pool : offered[0]);
      }
    }
    try {
      const found = new Map<string, number>();
      for (const read of await Promise.all(
        [...names].map((n) => discovery.heartbeatDeadlines(n)),
      )) {
        for (const [nodeId, deadline] of read) found.set(nodeId, deadline);
      }
      return found;
    } catch (error) {
      this.deadlinesWarning.warn(
        `Cluster page: could not read the heartbeat deadlines (${errorMessage(error)})`,
      );
      return undefined;
    }
  }

  /** The latest runs of a job across the pool, newest first; undefined when none can be read. */
  private async recentRuns(name: string): Promise<JobRunRecord[] | undefined> {
    if (this.options.recentRuns === 0) return undefined;
    try {
      return await this.sources.jobs.recentRuns(name, this.options.recentRuns);
    } catch (error) {
      this.runsWarning.warn(
        `Cluster page: could not read the runs of ${name} (${errorMessage(error)})`,
      );
      return undefined;
    }
  }

  /** Pause state, next fire times, history and totals; undefined when they cannot be read. */
  private async describe(name: string): Promise<OperatedView | undefined> {
    let description: JobDescription;
    try {
      description = await this.sources.jobs.describe(name);
    } catch (error) {
      this.runsWarning.warn(`Cluster page: could not describe ${name} (${errorMessage(error)})`);
      return undefined;
    }
    const { totals } = description;
    return {
      paused: description.paused,
      pauseReason: description.pauseReason,
      pausedBy: description.pausedBy,
      nextFireTimes: description.nextFireTimes.slice(0, 3).map((at) => at.getTime()),
      history: description.runs
        .slice(0, this.options.recentRuns)
        .map(({ tick, node, token, end, outcome, attempt, kind }) => ({
          tick,
          node,
          token,
          end,
          outcome,
          attempt,
          kind,
        })),
      totals: {
        runs: totals.runs,
        ok: totals.ok,
        error: totals.error,
        skippedPaused: totals.skipped.paused,
        triggered: totals.triggered,
      },
    };
  }

  private arcs(poolNodes: string[]): RingArc[] {
    const members = poolNodes.join('\n');
    if (members !== this.ring.members) {
      this.ring = { members, arcs: ringArcs(poolNodes, this.sources.hashReplicas) };
    }
    return this.ring.arcs;
  }
}

function jobView(job: JobStatus, runs: JobRunRecord[] | undefined): Omit<JobView, 'operated'> {
  return {
    name: job.name,
    schedule: job.schedule,
    period: job.period,
    owner: job.owner,
    ringAt: ringPosition(job.name),
    running: job.running,
    runs: job.runs,
    skips: job.skips,
    skipped: { ...job.skipped },
    errors: job.errors,
    lastRun: job.lastRun?.getTime(),
    lastDuration: job.lastDuration,
    lastStartDelay: job.lastStartDelay,
    recentRuns: runs?.map(({ tick, startedAt, delay, nodeId, token }) => ({
      tick,
      startedAt,
      delay,
      nodeId,
      token,
    })),
  };
}

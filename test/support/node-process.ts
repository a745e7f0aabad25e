import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { DiscoveryModuleOptions, JobStatus } from 'nestjs-redis-discovery';
import { waitFor } from './redis-harness.js';

export const FIXTURE = fileURLToPath(new URL('../fixtures/cluster-node.mjs', import.meta.url));

export interface JobSpec {
  name: string;
  interval?: number;
  cron?: string;
  timeout?: number;
  period?: number;
  /** How long a run takes; it checks its signal every `stepMs` (default: once, at the end). */
  durationMs?: number;
  stepMs?: number;
  fail?: boolean;
  overlap?: 'allow' | 'skip' | 'bufferOne' | 'cancelOther';
  startingDeadline?: number;
  catchupWindow?: number;
  catchup?: 'one' | 'all';
}

export interface NodeProcessConfig {
  discovery: DiscoveryModuleOptions & { redis: string; nodeId: string };
  jobs?: JobSpec[];
  clockShiftMs?: number;
  /** Report the node's view of the cluster this often (ms). */
  reportViewMs?: number;
  /** Start the app (and its @Interval timers) at this ms of a `phasePeriod`-long period. */
  phaseMs?: number;
  phasePeriod?: number;
  /** Set `discovery.redis` from this environment variable in the process (present even if unset). */
  redisEnv?: string;
  /** Report log-level lines too (warn and error always are). */
  reportLogs?: boolean;
  /** Block the event loop now and then for up to this long (ms), at random. */
  busyMaxMs?: number;
  /** ...waiting up to this long (ms) between two such stretches (default 500). */
  busyEveryMs?: number;
}

/** A line the node process reported. */
export interface NodeReport {
  node: string;
  at: number;
  /** On `view`: each node's metadata `rev`, and this node's repair counters. */
  revs?: Record<string, string>;
  stats?: { resyncs: number; rollbacks: number; divergences: number; unverified: number };
  /** On `updated`: the metadata rev this node wrote. */
  rev?: string;
  event:
    | 'ready'
    | 'run'
    | 'done'
    | 'aborted'
    | 'resumed'
    | 'failed'
    | 'error'
    | 'log'
    | 'stopped'
    | 'updated'
    | 'closing'
    | 'view';
  nodes?: string[];
  job?: string;
  tick?: number;
  token?: number;
  catchup?: boolean;
  /**
   * On `aborted` / `resumed` (the first statement after a frozen process resumed): what ended the
   * job's wait, whether its signal read aborted, and whether the lease was still valid.
   */
  via?: 'timer' | 'abort';
  aborted?: boolean;
  leaseValid?: boolean;
  reason?: string;
  /** On `stopped`: the node's `DistributedJobs.list()`. */
  jobs?: JobStatus[];
  level?: string;
  message?: string;
  context?: string;
}

/** A cluster node running in its own Node process (test/fixtures/cluster-node.mjs, on `dist`). */
export class NodeProcess {
  readonly reports: NodeReport[] = [];
  /** How the process ended: its exit code, or the signal that ended it. */
  readonly exited: Promise<number | NodeJS.Signals>;
  private stderr = '';

  private constructor(
    readonly nodeId: string,
    private readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.reports.push(JSON.parse(line) as NodeReport);
      } catch {
        this.stderr += `${line}\n`;
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = once(child, 'exit').then(
      ([code, signal]) => (code ?? signal) as number | NodeJS.Signals,
    );
  }

  static async start(config: NodeProcessConfig): Promise<NodeProcess> {
    const child = spawn(process.execPath, [FIXTURE], {
      env: { ...process.env, NODE_CONFIG: JSON.stringify(config), NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const node = new NodeProcess(config.discovery.nodeId, child);
    live.add(node);
    await Promise.race([
      waitFor(() => node.reports.some((r) => r.event === 'ready'), {
        timeout: 15_000,
        message: `${node.nodeId} never got ready`,
      }),
      node.exited.then((code) => {
        throw new Error(`${node.nodeId} exited with ${code} before ready:\n${node.stderr}`);
      }),
    ]);
    return node;
  }

  get pid(): number {
    return this.child.pid!;
  }

  runs(job?: string): NodeReport[] {
    return this.reports.filter((r) => r.event === 'run' && (job === undefined || r.job === job));
  }

  /** Problems the process reported: unhandled errors and error-level log lines. */
  problems(): NodeReport[] {
    return this.reports.filter(
      (r) => r.event === 'error' || (r.event === 'log' && r.level === 'error'),
    );
  }

  signal(name: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(name);
  }

  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /**
   * SIGTERM: a graceful shutdown through Nest's shutdown hooks (`useProcessExit`), so a clean end
   * reads 0.
   */
  async terminate(): Promise<number | NodeJS.Signals> {
    this.signal('SIGTERM');
    return this.exited;
  }

  get output(): string {
    return this.stderr;
  }
}

const live = new Set<NodeProcess>();
process.on('exit', () => {
  for (const node of live) node.signal('SIGKILL');
});

/** Kills every node process still running (for afterEach/afterAll). */
export async function killAllNodes(): Promise<void> {
  await Promise.all([...live].map((node) => node.kill()));
  live.clear();
}

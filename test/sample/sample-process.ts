import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from '../support/redis-harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../.build/sample/main.js', import.meta.url));

/** Compiles sample/ to .build/sample (the library's dist is built by `pretest`). */
export async function buildSample(): Promise<void> {
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.sample.json'], {
      cwd: ROOT,
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`tsc -p tsconfig.sample.json failed:\n${stdout}${stderr}`, { cause: error });
  }
}

/** A line the sample printed with SAMPLE_LOG=json: its own events, or Nest's log records. */
export interface SampleLine {
  event?: 'listening' | 'run';
  node?: string;
  port?: number;
  job?: string;
  tick?: number;
  token?: number;
  at?: number;
  level?: string;
  message?: string;
  context?: string;
}

/** The sample app (.build/sample/main.js) as its own process, the way `npm run sample` runs it. */
export class SampleProcess {
  readonly lines: SampleLine[] = [];
  readonly exited: Promise<number | NodeJS.Signals>;
  private text = '';
  private port = 0;

  private constructor(
    readonly nodeId: string,
    private readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as SampleLine);
      } catch {
        this.text += `${line}\n`;
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.text += chunk.toString()));
    this.exited = once(child, 'exit').then(
      ([code, signal]) => (code ?? signal) as number | NodeJS.Signals,
    );
  }

  /**
   * Starts the sample with `env` on top of a clean environment (no REDIS_URL unless given) and
   * waits until it listens.
   */
  static async start(env: Record<string, string>): Promise<SampleProcess> {
    const base = { ...process.env };
    delete base.REDIS_URL;
    const child = spawn(process.execPath, [MAIN], {
      cwd: ROOT,
      env: { ...base, NODE_OPTIONS: '', SAMPLE_LOG: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const sample = new SampleProcess(env.NODE_ID ?? 'sample', child);
    live.add(sample);
    const listening = await Promise.race([
      waitFor(() => sample.lines.find((l) => l.event === 'listening'), {
        timeout: 15_000,
        message: `sample ${sample.nodeId} never listened`,
      }),
      sample.exited.then((how) => {
        throw new Error(
          `sample ${sample.nodeId} exited with ${how} before listening:\n${sample.output}`,
        );
      }),
    ]);
    sample.port = listening!.port!;
    return sample;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get listeningPort(): number {
    return this.port;
  }

  /** GET `path`, answering the status and the parsed JSON body. */
  async get<T = any>(path: string): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(5000) });
    return { status: response.status, body: (await response.json()) as T };
  }

  /** GET `path` as text, with its content type (for /metrics). */
  async getText(path: string): Promise<{ status: number; type: string | null; text: string }> {
    const response = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(5000) });
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      text: await response.text(),
    };
  }

  runs(job?: string): SampleLine[] {
    return this.lines.filter((l) => l.event === 'run' && (job === undefined || l.job === job));
  }

  /** Error-level log records. */
  errors(): SampleLine[] {
    return this.lines.filter((l) => l.level === 'error' || l.level === 'fatal');
  }

  /** SIGTERM, the way an orchestrator stops it; resolves how the process ended. */
  async terminate(): Promise<number | NodeJS.Signals> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const how = await this.exited;
    live.delete(this);
    return how;
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
    live.delete(this);
  }

  /** Whatever the process wrote that was not a JSON line (stderr, stack traces). */
  get output(): string {
    return this.text;
  }
}

const live = new Set<SampleProcess>();
process.on('exit', () => {
  for (const sample of live) sample.kill().catch(() => undefined);
});

export async function killAllSamples(): Promise<void> {
  await Promise.all([...live].map((sample) => sample.kill()));
}

// The node processes of the job-path benchmark (bench/lib/job-node.mjs): start, command, collect.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from './stats.mjs';

const CHILD = fileURLToPath(new URL('./job-node.mjs', import.meta.url));

const live = new Set();
process.on('exit', () => {
  for (const node of live) node.child.kill('SIGKILL');
});

/**
 * A job node process: `jobs` distributed + `jobs` plain @Cron jobs on `discovery`. `execArgv`
 * (e.g. ['--cpu-prof']) goes to its node. Resolves once it is ready.
 */
export async function startJobNode({ discovery, jobs, execArgv = [], env = {} }) {
  const child = spawn(process.execPath, [...execArgv, CHILD], {
    env: {
      ...process.env,
      ...env,
      JOB_NODE_CONFIG: JSON.stringify({ discovery, jobs }),
      NODE_OPTIONS: '',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const node = { nodeId: discovery.nodeId, child, lines: [], stderr: '', poolSize: 0 };
  live.add(node);
  node.exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  void node.exited.then(() => live.delete(node));
  createInterface({ input: child.stdout }).on('line', (line) => {
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      node.stderr += `${line}\n`;
      return;
    }
    if (message.event === 'pool') node.poolSize = message.size;
    node.lines.push(message);
  });
  child.stderr.on('data', (chunk) => (node.stderr += chunk));
  node.send = (command) => child.stdin.write(`${command}\n`);
  node.kill = async () => {
    child.kill('SIGKILL');
    await node.exited;
  };
  /** Asks for the report and waits for it. */
  node.report = async () => {
    const from = node.lines.length;
    node.send('report');
    return waitFor(() => node.lines.slice(from).find((l) => l.event === 'report'), {
      timeout: 20_000,
      what: `${node.nodeId} report`,
    });
  };
  /** Ends it as a deployment would (SIGTERM; SIGKILL if it hangs). */
  node.stop = async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await node.exited;
    clearTimeout(timer);
  };
  let exitCode;
  void node.exited.then((code) => (exitCode = code));
  await waitFor(
    () => {
      if (exitCode !== undefined)
        throw new Error(`${node.nodeId} exited (${exitCode}):\n${node.stderr}`);
      return node.lines.some((l) => l.event === 'ready');
    },
    { timeout: 30_000, what: `${node.nodeId} ready` },
  );
  return node;
}

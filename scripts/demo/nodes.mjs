// The sample node processes: spawns them (one port each, JSON logs), reads their stdout (listening,
// job runs, warnings), waits for them to be up, SIGKILLs one and SIGTERMs the rest.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { HEARTBEAT_INTERVAL, HEARTBEAT_TTL, MAIN, ROOT } from './config.mjs';
import { c, nodeColor } from './format.mjs';
import { freePort } from '../free-port.mjs';
import { recordRun } from './ledger.mjs';
import { event, state } from './state.mjs';

/** Starts the sample as node `id` on a free port (the sample reads PORT); not yet listening. */
export async function startNode(id, redisUrl, keyPrefix) {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      REDIS_URL: redisUrl,
      NODE_ID: id,
      PORT: String(port),
      KEY_PREFIX: keyPrefix,
      HEARTBEAT_INTERVAL: String(HEARTBEAT_INTERVAL),
      HEARTBEAT_TTL: String(HEARTBEAT_TTL),
      SAMPLE_LOG: 'json',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  /** @type {import('./state.mjs').Node} */
  const node = {
    id,
    port,
    child,
    pid: child.pid,
    status: 'starting',
    output: '',
    runs: 0,
    exited: once(child, 'exit').then(([code, signal]) => String(signal ?? code)),
  };
  node.exited.then((how) => {
    if (node.status === 'up' || node.status === 'starting') {
      node.status = 'crashed';
      event(c.red(`${id} exited unexpectedly (${how})`));
    } else if (node.status === 'stopping') {
      node.status = 'stopped';
    }
  });
  createInterface({ input: child.stdout }).on('line', (line) => onLine(node, line));
  child.stderr.on('data', (chunk) => (node.output = (node.output + chunk).slice(-4000)));
  state.nodes.set(id, node);
  return node;
}

function onLine(node, line) {
  let record;
  try {
    record = JSON.parse(line);
  } catch {
    node.output = (node.output + line + '\n').slice(-4000);
    return;
  }
  if (record.event === 'listening') {
    node.status = 'up';
    node.listeningAt = record.at;
    event(`${nodeColor(node.id)(node.id)} up (pid ${node.pid}, http://localhost:${node.port})`);
  } else if (record.event === 'run') {
    node.runs += 1;
    recordRun(record);
  } else if (record.level === 'warn' || record.level === 'error' || record.level === 'fatal') {
    const text = `${node.id} ${record.level}: ${record.message}`;
    event(record.level === 'warn' ? c.yellow(text) : c.red(text));
  }
}

export const live = () => [...state.nodes.values()].filter((n) => n.status === 'up');

/** Until all are listening (the registry and the jobs are set up by then); when the first was. */
export async function waitUntilUp(nodes) {
  for (let deadline = Date.now() + 20_000; ; await sleep(50)) {
    const broken = nodes.find((n) => n.status === 'crashed');
    if (broken) throw new Error(`${broken.id} failed to start:\n${broken.output}`);
    if (nodes.every((n) => n.status === 'up')) break;
    if (Date.now() > deadline) throw new Error('the nodes did not start within 20 s');
  }
  return Math.min(...nodes.map((n) => n.listeningAt));
}

export function killNode(node) {
  node.status = 'killed';
  node.child.kill('SIGKILL');
}

/**
 * SIGTERM: they drain running jobs, deregister and exit 0 (SIGKILL after 15 s).
 * Returns [id, how it ended] per node.
 */
export function stopNodes(nodes) {
  return Promise.all(
    nodes.map(async (node) => {
      node.status = 'stopping';
      node.child.kill('SIGTERM');
      const timer = setTimeout(() => node.child.kill('SIGKILL'), 15_000);
      const how = await node.exited;
      clearTimeout(timer);
      // The sample exits 0 once shut down (useProcessExit); a bare SIGTERM end is clean too.
      return [
        node.id,
        how === '0' || how === 'SIGTERM'
          ? `drained, deregistered and exited ${how === '0' ? '0 ' : ''}(SIGTERM)`
          : c.red(`exited with ${how}`),
      ];
    }),
  );
}

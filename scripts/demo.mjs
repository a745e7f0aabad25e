#!/usr/bin/env node
// `npm run demo`: three sample nodes share three jobs on Redis. Watch which node runs each tick,
// SIGKILL one of them, watch the others take its ticks over, then stop the rest and count:
// every tick must have run exactly once. Exit code 0 only if none was doubled or missed.
//
// Env: REDIS_URL (else a throw-away redis-server is started), DEMO_PHASE_MS (default 10000:
// how long to run before and after the kill), HEARTBEAT_INTERVAL / HEARTBEAT_TTL (500 / 2000).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = fileURLToPath(new URL('../.build/sample/main.js', import.meta.url));
const NODE_IDS = ['node-1', 'node-2', 'node-3'];
const PHASE_MS = positive(process.env.DEMO_PHASE_MS, 10_000);
const HEARTBEAT_INTERVAL = positive(process.env.HEARTBEAT_INTERVAL, 500);
const HEARTBEAT_TTL = positive(process.env.HEARTBEAT_TTL, 2000);
/** Ticks this close to the start or the end of the run are not counted. */
const MARGIN_MS = 2000;
/** A tick with no run this long after it is shown as missed. */
const LATE_MS = 1500;
/** Until the first GET /jobs answers: the sample's jobs and periods. */
const DEFAULT_PERIODS = { report: 1000, cleanup: 2000, digest: 5000 };

const TTY = process.stdout.isTTY === true;
const COLOR = TTY && !process.env.NO_COLOR;
const paint = (code) => (text) => (COLOR ? `\x1b[${code}m${text}\x1b[0m` : String(text));
const c = {
  bold: paint('1'),
  dim: paint('2'),
  red: paint('31'),
  green: paint('32'),
  yellow: paint('33'),
  node: [paint('36'), paint('35'), paint('33')],
};
const nodeColor = (id) => c.node[NODE_IDS.indexOf(id)] ?? ((text) => text);
const short = (id) => String(NODE_IDS.indexOf(id) + 1 || '?');

/** Everything the demo saw. */
const state = {
  phase: 'starting',
  startedAt: Date.now(),
  redisLabel: '',
  /** @type {Map<string, Node>} */
  nodes: new Map(),
  /** job name -> period (ms) */
  periods: { ...DEFAULT_PERIODS },
  /** `${job}@${tick}` -> runs */
  runs: new Map(),
  /** job -> owner, from a live node's GET /jobs */
  owners: {},
  ringNodes: [],
  poolState: '',
  events: [],
  victim: undefined,
  killedAt: undefined,
  ownedByVictim: [],
  takeovers: new Map(),
};

/**
 * @typedef {{ id: string, port: number, child: import('node:child_process').ChildProcess,
 *   status: 'starting' | 'up' | 'killed' | 'stopping' | 'stopped' | 'crashed', pid: number,
 *   listeningAt?: number, exited: Promise<string>, output: string, runs: number }} Node
 */

function positive(raw, fallback) {
  const value = Number(raw);
  return raw !== undefined && Number.isInteger(value) && value > 0 ? value : fallback;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const clock = (ms) => new Date(ms).toISOString().slice(11, 23);
const seconds = (ms) => `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;

function event(text) {
  const line = `${c.dim(clock(Date.now()))}  ${text}`;
  state.events.push(line);
  if (!TTY) process.stdout.write(`${line}\n`);
}

// ---- Redis ------------------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function ping(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok) => (socket.destroy(), resolve(ok));
    socket.setTimeout(300, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/** REDIS_URL, or a redis-server of our own on a free port (stopped at the end). */
async function startRedis() {
  if (process.env.REDIS_URL) {
    state.redisLabel = `REDIS_URL ${process.env.REDIS_URL}`;
    return { url: process.env.REDIS_URL, stop: async () => {} };
  }
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const server = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  server.stdout.on('data', (chunk) => (output = (output + chunk).slice(-2000)));
  server.stderr.on('data', (chunk) => (output = (output + chunk).slice(-2000)));
  const failed = await new Promise((resolve) => {
    server.once('spawn', () => resolve(undefined));
    server.once('error', resolve);
  });
  if (failed) {
    throw new Error(
      failed.code === 'ENOENT'
        ? 'redis-server is not installed: install it (apt-get install redis-server) or set REDIS_URL'
        : `could not start redis-server: ${failed.message}`,
    );
  }
  const exited = once(server, 'exit');
  for (let deadline = Date.now() + 5000; !(await ping(port)); await sleep(50)) {
    if (Date.now() > deadline || server.exitCode !== null) {
      server.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not start:\n${output}`);
    }
  }
  state.redisLabel = `redis-server --port ${port} --save '' --appendonly no (pid ${server.pid})`;
  return {
    url: `redis://127.0.0.1:${port}`,
    server,
    stop: async () => {
      if (server.exitCode !== null || server.signalCode !== null) return;
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---- sample nodes -----------------------------------------------------------------------------

async function startNode(id, redisUrl, keyPrefix) {
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
  /** @type {Node} */
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
    onRun(node, record);
  } else if (record.level === 'warn' || record.level === 'error' || record.level === 'fatal') {
    const text = `${node.id} ${record.level}: ${record.message}`;
    event(record.level === 'warn' ? c.yellow(text) : c.red(text));
  }
}

function onRun(node, run) {
  node.runs += 1;
  const key = `${run.job}@${run.tick}`;
  const runs = state.runs.get(key) ?? [];
  runs.push(run);
  state.runs.set(key, runs);
  const late = run.at - run.tick;
  if (!TTY) {
    process.stdout.write(
      `${c.dim(clock(run.at))}  ${run.job.padEnd(7)} tick ${clock(run.tick)} -> ` +
        `${nodeColor(run.node)(run.node)}  token ${run.token}${late > 100 ? `  (+${late} ms)` : ''}\n`,
    );
  }
  if (runs.length > 1) {
    event(c.red(`DOUBLED: ${run.job} tick ${clock(run.tick)} ran on ${runs.map((r) => r.node)}`));
  }
  if (
    state.killedAt !== undefined &&
    run.at > state.killedAt &&
    state.ownedByVictim.includes(run.job) &&
    !state.takeovers.has(run.job)
  ) {
    state.takeovers.set(run.job, { node: run.node, tick: run.tick, late });
    event(
      `${c.green('failover')}: ${run.job} tick ${clock(run.tick)} taken over by ` +
        `${nodeColor(run.node)(run.node)}, started ${late} ms after the tick`,
    );
  }
}

const live = () => [...state.nodes.values()].filter((n) => n.status === 'up');

async function getJson(node, path) {
  const response = await fetch(`http://127.0.0.1:${node.port}${path}`, {
    signal: AbortSignal.timeout(1000),
  });
  return response.json();
}

/** Asks the live nodes who owns what on the ring; reports when that changes. */
async function pollRing() {
  const views = await Promise.all(live().map((n) => getJson(n, '/jobs').catch(() => undefined)));
  const answered = views.filter(Boolean);
  if (answered.length === 0) return;
  const view = answered[0];
  for (const job of view.jobs) state.periods[job.name] = job.period;
  const owners = Object.fromEntries(view.jobs.map((job) => [job.name, job.owner]));
  const agree = answered.every((v) => v.jobs.every((job) => owners[job.name] === job.owner));
  const signature = JSON.stringify([owners, view.nodes]);
  state.poolState = agree ? view.state : 'converging';
  if (agree && signature !== JSON.stringify([state.owners, state.ringNodes])) {
    state.owners = owners;
    state.ringNodes = view.nodes;
    const spread = Object.entries(owners)
      .map(([job, owner]) => `${job}->${nodeColor(owner)(owner)}`)
      .join('  ');
    event(`ring of ${view.nodes.length} node(s) [${view.nodes.join(', ')}]: ${spread}`);
  }
}

// ---- display ----------------------------------------------------------------------------------

/** Last ticks of a job, one character per tick: the node that ran it, `.` pending, `x` missed. */
function strip(job, now, width) {
  const period = state.periods[job];
  const countFrom = state.countFrom ?? Infinity;
  const last = Math.floor(now / period) * period;
  let out = '';
  for (let tick = last - (width - 1) * period; tick <= last; tick += period) {
    const runs = state.runs.get(`${job}@${tick}`) ?? [];
    if (runs.length > 1) out += c.red('!');
    else if (runs.length === 1) out += nodeColor(runs[0].node)(short(runs[0].node));
    else if (tick < countFrom) out += ' ';
    else if (now - tick < LATE_MS) out += c.dim('.');
    else out += c.red('x');
  }
  return out;
}

let drawn = 0;

function render() {
  const now = Date.now();
  const lines = [];
  lines.push(
    `${c.bold('nestjs-redis-discovery demo')}  ${seconds(now - state.startedAt)}  phase: ${c.bold(state.phase)}`,
  );
  lines.push(c.dim(`Redis: ${state.redisLabel}`));
  lines.push('');
  lines.push(c.dim('NODE     PID      PORT   STATE     RUNS'));
  for (const node of state.nodes.values()) {
    const status =
      node.status === 'up'
        ? c.green(node.status.padEnd(8))
        : node.status === 'killed' || node.status === 'crashed'
          ? c.red(node.status.padEnd(8))
          : node.status.padEnd(8);
    lines.push(
      `${nodeColor(node.id)(node.id.padEnd(8))} ${String(node.pid).padEnd(8)} ${String(node.port).padEnd(6)} ${status}  ${node.runs}`,
    );
  }
  lines.push('');
  lines.push(
    c.dim(
      `JOB      PERIOD  OWNER    RUNS  LAST TICKS (node that ran each; . pending, x missed, ! doubled)`,
    ),
  );
  for (const [job, period] of Object.entries(state.periods)) {
    const owner = state.owners[job];
    const runs = [...state.runs.keys()].filter((key) => key.startsWith(`${job}@`)).length;
    lines.push(
      `${job.padEnd(8)} ${seconds(period).padEnd(7)} ${owner ? nodeColor(owner)(owner.padEnd(8)) : '?'.padEnd(8)} ${String(runs).padEnd(5)} ${strip(job, now, 24)}`,
    );
  }
  lines.push(c.dim(`pool: ${state.poolState || '?'}; ring: ${state.ringNodes.join(', ') || '?'}`));
  lines.push('');
  lines.push(c.dim('EVENTS'));
  for (const line of state.events.slice(-8)) lines.push(line);
  const columns = process.stdout.columns || 120;
  const clipped = lines.map((line) => clip(line, columns));
  process.stdout.write(`${drawn ? `\x1b[${drawn}F` : ''}\x1b[J${clipped.join('\n')}\n`);
  drawn = clipped.length;
}

/** Cuts a line to the terminal width, counting visible characters only. */
function clip(line, width) {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i);
      out += line.slice(i, end + 1);
      i = end;
    } else if (visible < width - 1) {
      out += line[i];
      visible += 1;
    }
  }
  return out;
}

// ---- summary ----------------------------------------------------------------------------------

function summarize(from, to) {
  const rows = [];
  for (const [job, period] of Object.entries(state.periods)) {
    let expected = 0;
    const missed = [];
    const doubled = [];
    const byNode = {};
    for (let tick = Math.ceil(from / period) * period; tick <= to; tick += period) {
      expected += 1;
      const runs = state.runs.get(`${job}@${tick}`) ?? [];
      if (runs.length === 0) missed.push(tick);
      if (runs.length > 1) doubled.push(tick);
      for (const run of runs) byNode[run.node] = (byNode[run.node] ?? 0) + 1;
    }
    // A tick outside the window may have been doubled too: count every one.
    for (const [key, runs] of state.runs) {
      const tick = Number(key.slice(key.indexOf('@') + 1));
      if (key.startsWith(`${job}@`) && runs.length > 1 && !doubled.includes(tick)) {
        doubled.push(tick);
      }
    }
    rows.push({ job, period, expected, run: expected - missed.length, doubled, missed, byNode });
  }
  return rows;
}

function printSummary(rows, from, to, exits) {
  const out = [];
  out.push('');
  out.push(c.bold('Summary'));
  out.push(
    `window ${clock(from)} - ${clock(to)} UTC (${seconds(to - from)}: from ${seconds(MARGIN_MS)} after the first node was up ` +
      `to ${seconds(MARGIN_MS)} before the rest were stopped)`,
  );
  if (state.victim) out.push(`${state.victim} was SIGKILLed at ${clock(state.killedAt)}`);
  out.push('');
  out.push(`${'job'.padEnd(8)} ${'period'.padEnd(7)} expected  run  doubled  missed  runs by node`);
  for (const row of rows) {
    const byNode = Object.entries(row.byNode)
      .sort()
      .map(([node, n]) => `${node}: ${n}`)
      .join(', ');
    out.push(
      `${row.job.padEnd(8)} ${seconds(row.period).padEnd(7)} ${String(row.expected).padStart(8)}  ${String(row.run).padStart(3)}  ${String(row.doubled.length).padStart(7)}  ${String(row.missed.length).padStart(6)}  ${byNode}`,
    );
    if (row.doubled.length)
      out.push(c.red(`  doubled ticks: ${row.doubled.map(clock).join(', ')}`));
    if (row.missed.length) out.push(c.red(`  missed ticks: ${row.missed.map(clock).join(', ')}`));
  }
  out.push('');
  for (const job of state.ownedByVictim) {
    const takeover = state.takeovers.get(job);
    out.push(
      takeover
        ? `failover: ${job} (owned by ${state.victim}) -> ${takeover.node}, first tick ${clock(takeover.tick)} started ${takeover.late} ms after the tick`
        : `failover: ${job} (owned by ${state.victim}) -> no run seen after the kill`,
    );
  }
  for (const [id, how] of exits) out.push(`shutdown: ${id} ${how}`);
  const doubled = rows.reduce((n, row) => n + row.doubled.length, 0);
  const missed = rows.reduce((n, row) => n + row.missed.length, 0);
  const expected = rows.reduce((n, row) => n + row.expected, 0);
  const ok = doubled === 0 && missed === 0 && expected > 0;
  out.push('');
  out.push(
    ok
      ? c.green(`OK: all ${expected} ticks ran exactly once (0 doubled, 0 missed)`)
      : c.red(`FAILED: ${doubled} doubled, ${missed} missed of ${expected} ticks`),
  );
  process.stdout.write(`${out.join('\n')}\n`);
  return ok;
}

// ---- main -------------------------------------------------------------------------------------

async function main() {
  if (!existsSync(MAIN)) {
    throw new Error(`${MAIN} is missing: run \`npm run demo\`, which builds the sample first`);
  }
  const redis = await startRedis();
  let ticker;
  const cleanup = async () => {
    clearInterval(ticker);
    for (const node of state.nodes.values()) node.child.kill('SIGKILL');
    await redis.stop();
  };
  process.once('SIGINT', () => {
    process.stdout.write('\ninterrupted\n');
    cleanup().finally(() => process.exit(130));
  });

  try {
    if (!TTY) {
      process.stdout.write(
        `nestjs-redis-discovery demo: 3 nodes share 3 jobs on ${state.redisLabel}\n` +
          `heartbeat ${HEARTBEAT_INTERVAL} ms, lease ${HEARTBEAT_TTL} ms; SIGKILL one node after ${seconds(PHASE_MS)}, stop after ${seconds(2 * PHASE_MS)}\n`,
      );
    }
    const keyPrefix = `demo-${Date.now()}`;
    const nodes = await Promise.all(NODE_IDS.map((id) => startNode(id, redis.url, keyPrefix)));
    let polling = false;
    ticker = setInterval(() => {
      if (!polling) {
        polling = true;
        pollRing().finally(() => (polling = false));
      }
      if (TTY) render();
    }, 250);

    // All three listening (the registry and the jobs are set up by then).
    for (let deadline = Date.now() + 20_000; ; await sleep(50)) {
      const broken = nodes.find((n) => n.status === 'crashed');
      if (broken) throw new Error(`${broken.id} failed to start:\n${broken.output}`);
      if (nodes.every((n) => n.status === 'up')) break;
      if (Date.now() > deadline) throw new Error('the nodes did not start within 20 s');
    }
    const firstUp = Math.min(...nodes.map((n) => n.listeningAt));
    state.countFrom = firstUp + MARGIN_MS;
    state.phase = `3 nodes for ${seconds(PHASE_MS)}`;
    await sleep(PHASE_MS);

    // SIGKILL the node that owns the every-second job: its ticks must move to the others.
    const victim = state.nodes.get(state.owners.report) ?? nodes[1];
    state.victim = victim.id;
    state.ownedByVictim = Object.entries(state.owners)
      .filter(([, owner]) => owner === victim.id)
      .map(([job]) => job);
    victim.status = 'killed';
    state.killedAt = Date.now();
    victim.child.kill('SIGKILL');
    event(
      c.red(`SIGKILL ${victim.id}`) +
        ` (owner of ${state.ownedByVictim.join(', ') || 'no job'}); its lease runs out within ${HEARTBEAT_TTL} ms`,
    );
    state.phase = `failover, 2 nodes for ${seconds(PHASE_MS)}`;
    await sleep(PHASE_MS);

    // SIGTERM the rest: they drain running jobs and deregister.
    const stopAt = Date.now();
    state.phase = 'stopping (SIGTERM)';
    const survivors = nodes.filter((n) => n.status === 'up');
    event(`SIGTERM ${survivors.map((n) => n.id).join(', ')}`);
    const exits = await Promise.all(
      survivors.map(async (node) => {
        node.status = 'stopping';
        node.child.kill('SIGTERM');
        const timer = setTimeout(() => node.child.kill('SIGKILL'), 15_000);
        const how = await node.exited;
        clearTimeout(timer);
        return [
          node.id,
          how === 'SIGTERM'
            ? 'drained, deregistered and exited (SIGTERM)'
            : c.red(`exited with ${how}`),
        ];
      }),
    );
    exits.push([victim.id, `killed (${await victim.exited})`]);
    state.phase = 'done';
    clearInterval(ticker);
    if (TTY) render();
    await redis.stop();

    const from = firstUp + MARGIN_MS;
    const to = stopAt - MARGIN_MS;
    const ok = printSummary(summarize(from, to), from, to, exits);
    const clean = exits.every(([, how]) => !how.includes('exited with'));
    process.exitCode = ok && clean ? 0 : 1;
  } catch (error) {
    await cleanup();
    throw error;
  }
}

main().catch((error) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : error}\n`);
  process.exitCode = 1;
});

// A throw-away Redis Cluster for tests: spawned redis-server processes joined by redis-cli.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HOST, startRedisServer, type RedisServer } from '../../scripts/redis-server.mjs';
import { waitFor } from './redis-harness.js';

export { HOST };
export const SLOTS = 16384;

export interface ClusterNode {
  port: number;
  pid: number;
  /** Current role, read from the cluster itself; `dead` once killed. */
  role: 'master' | 'replica' | 'dead';
}

export interface RedisCluster {
  /** Every spawned node, also killed ones. Roles are refreshed by `refresh()` and `killMaster()`. */
  nodes: ClusterNode[];
  startupNodes: Array<{ host: string; port: number }>;
  /** Slot of a key, from the cluster (`CLUSTER KEYSLOT`). */
  keySlot(key: string): Promise<number>;
  /** Port of the live master serving `slot`. */
  masterOf(slot: number): Promise<number>;
  /** Live masters with the slot ranges they serve (from `CLUSTER NODES`). */
  masters(): Promise<Array<{ port: number; ranges: Array<[number, number]> }>>;
  /** Re-reads every live node's role. */
  refresh(): Promise<void>;
  /**
   * SIGKILLs the master serving the slot (or the slot of the key) and waits until a replica took
   * its slots over and every live node reports `cluster_state:ok`. Resolves the old and new ports.
   */
  killMaster(slotOrKey: number | string): Promise<{ killed: number; promoted: number }>;
  stop(): Promise<void>;
}

export interface StartRedisClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** Bound on the whole start, ms. */
  timeout?: number;
}

// ---- temp dirs ----------------------------------------------------------------------------------

// Temp dirs must never outlive the test process, even if stop() is forgotten (the servers are
// killed by scripts/redis-server.mjs).
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

// ---- a minimal RESP2 client for admin probes ----------------------------------------------------

export type Reply = string | number | null | Error | Reply[];

function encode(args: Array<string | number>): string {
  const parts = args.map(String);
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
}

/** Parses one reply at `offset`; undefined while incomplete. */
function parse(buf: Buffer, offset: number): { value: Reply; next: number } | undefined {
  const eol = buf.indexOf('\r\n', offset);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[offset]);
  const line = buf.toString('utf8', offset + 1, eol);
  const after = eol + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new Error(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: after };
      if (buf.length < after + length + 2) return undefined;
      return { value: buf.toString('utf8', after, after + length), next: after + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: Reply[] = [];
      let next = after;
      for (let i = 0; i < count; i++) {
        const item = parse(buf, next);
        if (!item) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/**
 * Sends one command on a fresh connection and resolves its reply (a Redis error reply rejects).
 * No client library, no reconnects: a dead server rejects at once.
 */
export function command(
  port: number,
  args: Array<string | number>,
  timeout = 1000,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (error: Error | undefined, value?: Reply) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(value ?? null);
    };
    socket.setTimeout(timeout, () => done(new Error(`port ${port}: no reply in ${timeout} ms`)));
    socket.on('error', (error) => done(error));
    socket.on('close', () => done(new Error(`port ${port}: connection closed`)));
    socket.on('connect', () => socket.write(encode(args)));
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        const reply = parse(buf, 0);
        if (!reply) return;
        if (reply.value instanceof Error) done(reply.value);
        else done(undefined, reply.value);
      } catch (error) {
        done(error as Error);
      }
    });
  });
}

export async function text(port: number, args: Array<string | number>): Promise<string> {
  return String(await command(port, args));
}

/** `field:value` lines of INFO / CLUSTER INFO. */
export function fields(info: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of info.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1);
  }
  return out;
}

function run(file: string, args: string[], timeout: number): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout }, (error, stdout, stderr) => {
      if (error)
        reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    }),
  );
}

// ---- the cluster ---------------------------------------------------------------------------------

interface ClusterNodesLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string | undefined;
  ranges: Array<[number, number]>;
}

function parseClusterNodes(raw: string): ClusterNodesLine[] {
  return raw
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, addr, flags, master, , , , , ...slots] = line.trim().split(' ');
      const ranges: Array<[number, number]> = [];
      for (const slot of slots) {
        if (slot.startsWith('[')) continue; // migrating / importing
        const [from, to = from] = slot.split('-').map(Number);
        ranges.push([from, to]);
      }
      return {
        id,
        port: Number(/:(\d+)/.exec(addr)?.[1]),
        flags: flags.split(','),
        masterId: master === '-' ? undefined : master,
        ranges,
      };
    });
}

const healthy = (line: ClusterNodesLine) =>
  !line.flags.some((f) => f === 'fail' || f === 'fail?' || f === 'handshake' || f === 'noaddr');

export async function startRedisCluster(
  options: StartRedisClusterOptions = {},
): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 1;
  const timeout = options.timeout ?? 20_000;
  const total = masters * (1 + replicasPerMaster);
  const dir = makeTempDir('redis-cluster-');
  const servers = new Map<number, RedisServer>();
  const nodes: ClusterNode[] = [];

  const stop = async () => {
    await Promise.all([...servers.values()].map((server) => server.stop()));
    removeTempDir(dir);
  };

  try {
    // Spawned one by one: freePort() hands out a port only once it is free again.
    for (let i = 0; i < total; i++) {
      const server = await startRedisServer({
        label: 'cluster node',
        args: (port) => {
          const nodeDir = path.join(dir, String(port));
          mkdirSync(nodeDir, { recursive: true });
          return [
            ...['--cluster-enabled', 'yes', '--cluster-node-timeout', '1000'],
            ...['--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--dir', nodeDir],
          ];
        },
      });
      servers.set(server.port, server);
      nodes.push({ port: server.port, pid: server.pid()!, role: 'master' });
    }

    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `${HOST}:${n.port}`),
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
      ],
      timeout,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const alive = () => nodes.filter((n) => servers.get(n.port)!.running());

  /** The view of one live node, or the first live node answering. */
  const view = async (): Promise<ClusterNodesLine[]> => {
    let lastError: unknown;
    for (const node of alive()) {
      try {
        return parseClusterNodes(await text(node.port, ['CLUSTER', 'NODES']));
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError ?? new Error('no live cluster node');
  };

  const refresh = async () => {
    for (const node of nodes) {
      if (!servers.get(node.port)!.running()) {
        node.role = 'dead';
        continue;
      }
      const myself = parseClusterNodes(await text(node.port, ['CLUSTER', 'NODES'])).find((l) =>
        l.flags.includes('myself'),
      )!;
      node.role = myself.flags.includes('master') ? 'master' : 'replica';
    }
  };

  /** Every live node: state ok, all slots assigned, all live peers known and healthy, replicas synced. */
  const settled = async (): Promise<boolean> => {
    const live = alive();
    for (const node of live) {
      const info = fields(await text(node.port, ['CLUSTER', 'INFO']));
      if (info.cluster_state !== 'ok' || Number(info.cluster_slots_assigned) !== SLOTS)
        return false;
      if (Number(info.cluster_slots_ok) !== SLOTS) return false;
      const lines = parseClusterNodes(await text(node.port, ['CLUSTER', 'NODES']));
      for (const peer of live) {
        const line = lines.find((l) => l.port === peer.port);
        if (!line || !healthy(line)) return false;
      }
      const replication = fields(await text(node.port, ['INFO', 'replication']));
      if (replication.role === 'slave' && replication.master_link_status !== 'up') return false;
    }
    return true;
  };

  const waitSettled = (message: string, bound: number) =>
    waitFor(settled, { timeout: bound, interval: 100, message });

  try {
    await waitSettled('redis cluster did not become ok', timeout);
    await refresh();
  } catch (error) {
    await stop();
    throw error;
  }

  const keySlot = async (key: string) => {
    const port = alive()[0]?.port;
    if (port === undefined) throw new Error('no live cluster node');
    return Number(await command(port, ['CLUSTER', 'KEYSLOT', key]));
  };

  const mastersOfView = (lines: ClusterNodesLine[]) =>
    lines
      .filter((l) => l.flags.includes('master') && healthy(l) && l.ranges.length > 0)
      .map((l) => ({ port: l.port, ranges: l.ranges }));

  const masterOf = async (slot: number) => {
    const owner = mastersOfView(await view()).find((m) =>
      m.ranges.some(([from, to]) => slot >= from && slot <= to),
    );
    if (!owner) throw new Error(`no live master serves slot ${slot}`);
    return owner.port;
  };

  return {
    nodes,
    startupNodes: nodes.map((n) => ({ host: HOST, port: n.port })),
    keySlot,
    masterOf,
    masters: async () => mastersOfView(await view()),
    refresh,
    async killMaster(slotOrKey) {
      const slot = typeof slotOrKey === 'number' ? slotOrKey : await keySlot(slotOrKey);
      const killed = await masterOf(slot);
      await servers.get(killed)!.kill();
      // A replica takes over once the others flag the master as failed (node timeout, 1 s) and
      // win the election: a few seconds.
      const promoted = await waitFor<number | false>(
        async () => {
          const port = await masterOf(slot);
          return port !== killed && port;
        },
        { timeout: 15_000, interval: 100, message: `no replica took over slot ${slot}` },
      );
      await waitSettled('redis cluster did not settle after the failover', 15_000);
      await refresh();
      return { killed, promoted: promoted as number };
    },
    stop,
  };
}

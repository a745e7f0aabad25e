// Everything the demo saw, shared by its parts (nodes, runs, ring owners, the kill), and the event
// log: kept for the live table, printed as it comes without a TTY.
import { DEFAULT_PERIODS } from './config.mjs';
import { TTY, c, clock } from './format.mjs';

/**
 * @typedef {{ id: string, port: number, child: import('node:child_process').ChildProcess,
 *   status: 'starting' | 'up' | 'killed' | 'stopping' | 'stopped' | 'crashed', pid: number,
 *   listeningAt?: number, exited: Promise<string>, output: string, runs: number }} Node
 */

export const state = {
  phase: 'starting',
  startedAt: Date.now(),
  redisLabel: '',
  /** @type {Map<string, Node>} */
  nodes: new Map(),
  /** job name -> period (ms) */
  periods: { ...DEFAULT_PERIODS },
  /** `${job}@${tick}` -> runs */
  runs: new Map(),
  /** Ticks before this are not counted (set once the nodes are up). */
  countFrom: undefined,
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

export function event(text) {
  const line = `${c.dim(clock(Date.now()))}  ${text}`;
  state.events.push(line);
  if (!TTY) process.stdout.write(`${line}\n`);
}

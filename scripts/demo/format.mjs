// How the demo writes: whether stdout is a terminal, colours (one per node, off without a TTY or
// with NO_COLOR), clock times and durations.
import { NODE_IDS } from './config.mjs';

export const TTY = process.stdout.isTTY === true;
const COLOR = TTY && !process.env.NO_COLOR;
const paint = (code) => (text) => (COLOR ? `\x1b[${code}m${text}\x1b[0m` : String(text));
export const c = {
  bold: paint('1'),
  dim: paint('2'),
  red: paint('31'),
  green: paint('32'),
  yellow: paint('33'),
  node: [paint('36'), paint('35'), paint('33')],
};
export const nodeColor = (id) => c.node[NODE_IDS.indexOf(id)] ?? ((text) => text);
/** A node's one-character name in the tick strips: its number. */
export const short = (id) => String(NODE_IDS.indexOf(id) + 1 || '?');

export const clock = (ms) => new Date(ms).toISOString().slice(11, 23);
export const seconds = (ms) => `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;

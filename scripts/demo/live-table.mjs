// The live table on a terminal, redrawn in place every 250 ms: nodes, jobs with their owners and
// last ticks (who ran each, pending, missed, doubled), the ring, the cluster page, recent events.
import { clusterPageLine } from './cluster-page.mjs';
import { LATE_MS } from './config.mjs';
import { c, nodeColor, seconds, short } from './format.mjs';
import { state } from './state.mjs';

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

/** Lines drawn last time: moved back over and cleared before the next draw. */
let drawn = 0;

export function render() {
  const now = Date.now();
  const lines = [];
  lines.push(
    `${c.bold('nestjs-redis-discovery demo')}  ${seconds(now - state.startedAt)}  phase: ${c.bold(state.phase)}`,
  );
  lines.push(c.dim(`Redis: ${state.redisLabel}`));
  lines.push(clusterPageLine());
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

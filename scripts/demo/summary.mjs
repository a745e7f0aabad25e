// The summary printed at the end: the counting window, per job the ticks expected, run, doubled
// and missed, the failover, the survivors' metrics and the shutdowns, then OK only if every tick
// ran exactly once.
import { MARGIN_MS } from './config.mjs';
import { c, clock, seconds } from './format.mjs';
import { metricsLines } from './metrics.mjs';
import { state } from './state.mjs';

/** Prints the rows of `summarize(from, to)`; true if no tick was doubled or missed. */
export function printSummary(rows, from, to, exits, scrapes) {
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
  out.push(
    ...metricsLines(
      scrapes,
      rows.map((row) => row.job),
    ),
  );
  out.push(c.dim("  (since each node started; the killed node's counts went with it)"));
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

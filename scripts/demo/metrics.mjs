// The nodes' OpenTelemetry metrics as the demo reads them: GET /metrics of each live node (the
// sample's Prometheus exporter), parsed and summed per job, for the summary.
import { c } from './format.mjs';

/** One sample line of the Prometheus text format: `name{label="value",...} number`. */
const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g;

/** @returns {{ name: string, labels: Record<string, string>, value: number }[]} */
export function parsePrometheus(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    const match = line.startsWith('#') ? null : SAMPLE.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(LABEL)].map((m) => [m[1], m[2]]),
    );
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** GET /metrics of each node; a node that does not answer within 2 s is left out. */
export async function scrapeMetrics(nodes) {
  const scrapes = await Promise.all(
    nodes.map(async (node) => {
      try {
        const response = await fetch(`http://127.0.0.1:${node.port}/metrics`, {
          signal: AbortSignal.timeout(2000),
        });
        return response.ok
          ? { node: node.id, samples: parsePrometheus(await response.text()) }
          : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return scrapes.filter(Boolean);
}

/** The sum over all scraped nodes of `name`'s samples whose labels include `where`. */
function total(scrapes, name, where = {}) {
  let sum = 0;
  for (const { samples } of scrapes) {
    for (const s of samples) {
      if (s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)) {
        sum += s.value;
      }
    }
  }
  return sum;
}

const ms = (seconds) => `${(seconds * 1000).toFixed(1)} ms`;

/** Summary lines: per job runs, skips by reason, failovers and mean start delay; heartbeats. */
export function metricsLines(scrapes, jobs) {
  if (scrapes.length === 0) return [c.red('metrics: no node answered GET /metrics')];
  const out = [`metrics (GET /metrics of ${scrapes.map((s) => s.node).join(', ')}, summed):`];
  for (const job of jobs) {
    const where = { discovery_job_name: job };
    const skips = {};
    for (const { samples } of scrapes) {
      for (const s of samples) {
        if (
          s.name === 'discovery_job_skips_total' &&
          s.labels.discovery_job_name === job &&
          s.value > 0
        ) {
          const reason = s.labels.discovery_job_skip_reason;
          skips[reason] = (skips[reason] ?? 0) + s.value;
        }
      }
    }
    const delays = total(scrapes, 'discovery_job_start_delay_count', where);
    const delay = delays ? total(scrapes, 'discovery_job_start_delay_sum', where) / delays : 0;
    const skipText =
      Object.entries(skips)
        .map(([reason, n]) => `${reason} ${n}`)
        .join(', ') || 'none';
    out.push(
      `  ${job.padEnd(8)} runs ${total(scrapes, 'discovery_job_runs_total', where)}, failovers ${total(scrapes, 'discovery_job_failovers_total', where)}, ` +
        `mean start delay ${ms(delay)}, skips: ${skipText}`,
    );
  }
  const beats = total(scrapes, 'discovery_heartbeat_duration_count');
  const beatMean = beats ? total(scrapes, 'discovery_heartbeat_duration_sum') / beats : 0;
  out.push(
    `  heartbeats ${beats}, mean ${ms(beatMean)}, failures ${total(scrapes, 'discovery_heartbeat_failures_total')}`,
  );
  return out;
}

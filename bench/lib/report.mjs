// Writes the results: JSON (everything), Markdown (one table) and one hand-written SVG chart.
import { writeFileSync } from 'node:fs';

function number(value, digits) {
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A value in `unit`, readable: ms values get µs / ms / s as they need. */
export function format(value, unit) {
  if (value === undefined || value === null || Number.isNaN(value)) return '';
  switch (unit) {
    case 'ms': {
      const size = Math.abs(value); // differences may be negative
      if (size < 1) return `${number(value * 1000, size < 0.1 ? 2 : 1)} µs`;
      if (size < 1000) return `${number(value, size < 10 ? 2 : 1)} ms`;
      return `${number(value / 1000, 2)} s`;
    }
    case 'us':
      return `${number(value, 1)} µs`;
    case 'x':
      return `${number(value, value < 10 ? 2 : value < 100 ? 1 : 0)}×`;
    case '%core':
      return `${number(value, 1)}% of a core`;
    case 'MiB':
      return `${number(value, value < 10 ? 2 : 1)} MiB`;
    case 'Mops':
      return `${number(value, 2)} M/s`;
    default:
      return number(value, 2);
  }
}

export function markdown({ machine, results }) {
  const lines = [
    `# Benchmarks${machine.quick ? ' (quick mode)' : ''}`,
    '',
    `${machine.date} · ${machine.cpus} × ${machine.cpuModel} · ${machine.memoryGb} GB · ${machine.os} · ` +
      `Node ${machine.node} · Redis ${machine.redis} · commit ${machine.commit} · dist ${machine.dist} · ` +
      `${machine.seconds} s in all`,
    '',
    'Median and p99 of n samples, after warm-up. Lookups, heartbeats and events run against a ' +
      'local redis-server started by the runner (`--save "" --appendonly no`). Chart: `' +
      `${machine.base}.svg\`.`,
    '',
    `1-minute load average when each benchmark started (other work on the machine skews results): ${results
      .map((r) => `${r.name} ${r.loadAverage ?? '?'}`)
      .join(', ')}.`,
    '',
    '| Benchmark | Case | Median | p99 | n | Target | Met | Notes |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const cell = (text) => String(text ?? '').replaceAll('|', '\\|');
  for (const result of results) {
    if (result.error) {
      lines.push(
        `| ${result.name} | **failed** | | | | | ❌ | ${cell(result.error.split('\n')[0])} |`,
      );
      continue;
    }
    for (const row of result.rows) {
      const met = row.met === undefined ? '' : row.met ? '✅' : '❌';
      lines.push(
        `| ${result.name} | ${cell(row.case)} | ${format(row.median, row.unit)} | ${format(row.p99, row.unit)} | ` +
          `${row.n ?? ''} | ${cell(row.target)} | ${met} | ${cell(row.note)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

const round = (v) => Math.round(v * 10) / 10;
const esc = (text) =>
  String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Two panels: latency percentiles on a log axis, and the crash-detection histogram. */
export function svg({ machine, results }) {
  const width = 900;
  const parts = [];
  const text = (x, y, s, attrs = '') =>
    parts.push(`<text x="${x}" y="${y}" ${attrs}>${esc(s)}</text>`);

  // Panel 1: latency rows, p50 (dot), p90 (bar), p99 (ring), log scale 1 µs .. 10 s.
  const series = [];
  const lookup = results.find((r) => r.name === 'lookup' && r.chart)?.chart;
  if (lookup) {
    const size = Math.max(...Object.keys(lookup).map(Number));
    for (const [name, s] of Object.entries(lookup[size]))
      series.push({ label: `${name} @${size / 1000}k`, s });
  }
  const events = results.find((r) => r.name === 'events' && r.chart)?.chart?.events;
  if (events) series.push({ label: 'event: update on A to event on B', s: events });
  const left = 330;
  const right = width - 30;
  const top = 60;
  const rowH = 26;
  const decades = [-3, -2, -1, 0, 1, 2, 3, 4]; // log10 of ms: 1 µs .. 10 s
  const x = (ms) =>
    left + ((Math.log10(ms) - decades[0]) / (decades.at(-1) - decades[0])) * (right - left);
  const labels = ['1 µs', '10 µs', '100 µs', '1 ms', '10 ms', '100 ms', '1 s', '10 s'];
  text(
    20,
    30,
    `Latency percentiles (log scale) · ${machine.cpus} × ${machine.cpuModel} · Redis ${machine.redis}`,
    'font-weight="bold"',
  );
  const bottom = top + rowH * series.length;
  decades.forEach((d, i) => {
    const gx = x(10 ** d);
    parts.push(`<line x1="${gx}" y1="${top - 10}" x2="${gx}" y2="${bottom}" stroke="#ddd"/>`);
    text(gx, bottom + 16, labels[i], 'text-anchor="middle" font-size="11"');
  });
  series.forEach(({ label, s }, i) => {
    const y = top + i * rowH + rowH / 2;
    text(left - 10, y + 4, label, 'text-anchor="end" font-size="12"');
    parts.push(
      `<line x1="${x(s.median)}" y1="${y}" x2="${x(s.p99)}" y2="${y}" stroke="#4477aa" stroke-width="2"/>`,
    );
    parts.push(
      `<line x1="${x(s.p90)}" y1="${y - 6}" x2="${x(s.p90)}" y2="${y + 6}" stroke="#4477aa" stroke-width="2"/>`,
    );
    parts.push(`<circle cx="${x(s.median)}" cy="${y}" r="5" fill="#4477aa"/>`);
    parts.push(
      `<circle cx="${x(s.p99)}" cy="${y}" r="5" fill="white" stroke="#cc3311" stroke-width="2"/>`,
    );
  });
  text(left, bottom + 36, '● median   | p90   ○ p99', 'font-size="12"');

  // Panel 2: crash detection histogram, 20 ms bins, with TTL and the target.
  const crash = results.find((r) => r.name === 'crash' && r.chart)?.chart?.crash;
  let height = bottom + 60;
  if (crash) {
    const ptop = bottom + 90;
    const pheight = 180;
    const { samples, ttl, interval } = crash;
    const lo = Math.min(ttl - interval - 100, ...samples);
    const hi = Math.max(ttl + 350, ...samples);
    const bin = 20;
    const bins = new Array(Math.ceil((hi - lo) / bin)).fill(0);
    for (const s of samples) bins[Math.min(bins.length - 1, Math.floor((s - lo) / bin))]++;
    const peak = Math.max(...bins);
    const hx = (ms) => round(left + ((ms - lo) / (hi - lo)) * (right - left));
    text(
      20,
      ptop - 30,
      `Crash detection: SIGKILL to the peer's view dropping the node, ${samples.length} kills (interval ${interval} ms, TTL ${ttl} ms)`,
      'font-weight="bold"',
    );
    bins.forEach((count, i) => {
      if (!count) return;
      const h = (count / peak) * pheight;
      parts.push(
        `<rect x="${hx(lo + i * bin) + 1}" y="${ptop + pheight - h}" width="${hx(lo + bin) - hx(lo) - 2}" height="${h}" fill="#4477aa"/>`,
      );
    });
    parts.push(
      `<line x1="${left}" y1="${ptop + pheight}" x2="${right}" y2="${ptop + pheight}" stroke="#333"/>`,
    );
    for (let t = Math.ceil(lo / 100) * 100; t <= hi; t += 100) {
      parts.push(
        `<line x1="${hx(t)}" y1="${ptop + pheight}" x2="${hx(t)}" y2="${ptop + pheight + 5}" stroke="#333"/>`,
      );
      text(hx(t), ptop + pheight + 18, `${t} ms`, 'text-anchor="middle" font-size="11"');
    }
    for (const [at, label, color] of [
      [ttl, 'TTL', '#999'],
      [ttl + 250, 'target: TTL + 250 ms', '#cc3311'],
    ]) {
      parts.push(
        `<line x1="${hx(at)}" y1="${ptop - 5}" x2="${hx(at)}" y2="${ptop + pheight}" stroke="${color}" stroke-dasharray="4 3"/>`,
      );
      text(hx(at) + 4, ptop + 8, label, `font-size="11" fill="${color}"`);
    }
    text(left - 10, ptop + pheight / 2, `count (max ${peak})`, 'text-anchor="end" font-size="12"');
    height = ptop + pheight + 40;
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">\n` +
    `<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`
  );
}

export function writeResults(dir, base, report) {
  writeFileSync(`${dir}/${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${dir}/${base}.md`, markdown(report));
  writeFileSync(`${dir}/${base}.svg`, svg(report));
}

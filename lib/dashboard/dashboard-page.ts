// The live cluster page: one self-contained HTML document (inline style and script, system fonts,
// nothing loaded from elsewhere) and the Content-Security-Policy that holds it to that.
import { createHash } from 'node:crypto';
import { DASHBOARD_SCRIPT } from './dashboard-script.js';

const STYLE = `
:root {
  --bg: #f6f7f9; --panel: #fff; --text: #1f2933; --muted: #6b7785; --line: #e3e7ec;
  --good: #15803d; --good-bg: #dcfce7; --warn: #b45309; --warn-bg: #fef3c7;
  --bad: #b91c1c; --bad-bg: #fee2e2; --info: #1d4ed8; --info-bg: #dbeafe;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111418; --panel: #1a1f25; --text: #e6e9ed; --muted: #8d98a5; --line: #2b323b;
    --good: #4ade80; --good-bg: #14321f; --warn: #fbbf24; --warn-bg: #3a2c0c;
    --bad: #f87171; --bad-bg: #3b1616; --info: #93c5fd; --info-bg: #172a46;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
}
main { max-width: 1240px; margin: 0 auto; padding: 20px 24px 40px; }
header.top { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 16px; margin-bottom: 16px; }
header.top h1 { font-size: 22px; margin: 0; }
header.top .where { color: var(--muted); }
header.top .right { margin-left: auto; display: flex; gap: 8px; align-items: center; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
section.plain { background: none; border: 0; padding: 0; margin-bottom: 16px; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 10px; }
h3 { font-size: 15px; margin: 0; }
h4 { font-size: 12px; margin: 12px 0 4px; color: var(--muted); font-weight: 600; }
.grid { display: grid; gap: 16px; margin-bottom: 16px; }
.top-row { grid-template-columns: minmax(0, 3fr) minmax(280px, 2fr); }
@media (max-width: 900px) { .top-row { grid-template-columns: 1fr; } }
.service + .service { margin-top: 14px; }
.service h3 { margin-bottom: 6px; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; }
th, td { padding: 5px 8px 5px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
tr:last-child td { border-bottom: 0; }
tr.self td { background: color-mix(in srgb, var(--info-bg) 45%, transparent); }
.mono, .kv { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.kv { display: inline-block; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 0 5px; margin: 1px 2px 1px 0; }
.muted { color: var(--muted); font-weight: normal; }
.small { font-size: 12px; margin: 2px 0; }
.node { white-space: nowrap; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.node i { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 5px; }
.tag { font: 600 10.5px system-ui, sans-serif; color: var(--info); background: var(--info-bg); border-radius: 4px; padding: 1px 5px; }
.tag.suspect { color: var(--warn); background: var(--warn-bg); }
.warn { color: var(--warn); }
.skips { margin: 6px 0 0; }
.reason.warn { font-weight: 600; }
.badge { font-size: 12px; font-weight: 600; border-radius: 999px; padding: 2px 10px; background: var(--bg); border: 1px solid var(--line); }
.badge.steady, .badge.live { color: var(--good); background: var(--good-bg); border-color: transparent; }
.badge.upgrading { color: var(--warn); background: var(--warn-bg); border-color: transparent; }
.badge.down { color: var(--bad); background: var(--bad-bg); border-color: transparent; }
#ring svg { width: 100%; max-height: 300px; display: block; }
#ring .track { fill: none; stroke: var(--line); stroke-width: 16; }
#ring .arcs path { fill: none; stroke-width: 16; }
#ring circle.job { stroke: var(--panel); stroke-width: 2; }
#ring line.pin { stroke: var(--text); stroke-width: 1.5; opacity: .55; }
#ring text { fill: var(--text); font-size: 12px; }
#ring text.center { font-size: 16px; font-weight: 600; }
#ring text.sub { font-size: 12px; font-weight: normal; fill: var(--muted); }
.legend { list-style: none; margin: 6px 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 16px; justify-content: center; }
#jobs { display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); }
article.job { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
article.job header { display: flex; justify-content: space-between; align-items: center; }
article.job .owner { margin: 6px 0; }
.running { color: var(--good); font-weight: 600; font-size: 12px; }
.running::before { content: "● "; }
.idle { color: var(--muted); font-size: 12px; }
dl { display: grid; grid-template-columns: repeat(3, 1fr); gap: 6px 10px; margin: 8px 0 0; }
dl div { min-width: 0; }
dt { font-size: 11px; color: var(--muted); }
dd { margin: 0; font-variant-numeric: tabular-nums; font-weight: 600; }
dd.bad { color: var(--bad); }
dd.warn { color: var(--warn); }
table.runs td { padding: 2px 8px 2px 0; font-size: 12.5px; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
#events { list-style: none; margin: 0; padding: 0; max-height: 420px; overflow: auto; }
#events li { display: flex; gap: 10px; align-items: baseline; padding: 5px 0; border-bottom: 1px solid var(--line); }
#events li:last-child { border-bottom: 0; }
#events .badge { min-width: 72px; text-align: center; padding: 1px 8px; font-size: 11px; }
.event.joined .badge { color: var(--good); background: var(--good-bg); border-color: transparent; }
.event.left .badge, .event.expired .badge { color: var(--bad); background: var(--bad-bg); border-color: transparent; }
.event.updated .badge, .event.moved .badge { color: var(--info); background: var(--info-bg); border-color: transparent; }
.event.failover .badge { color: var(--warn); background: var(--warn-bg); border-color: transparent; }
`;

/** The page, the same for every request: its data comes from `state` and `events`. */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Cluster</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<main>
  <header class="top">
    <h1>Cluster</h1>
    <span class="where">pool <b id="pool"></b> · seen from node <b id="viewer" class="mono"></b></span>
    <span class="right">
      <span class="muted">pool</span> <span id="pool-state" class="badge">…</span>
      <span id="status" class="badge">connecting…</span>
      <span id="updated" class="muted"></span>
    </span>
  </header>
  <div class="grid top-row">
    <section><h2>Nodes by service</h2><div id="services"><p class="muted">Loading…</p></div></section>
    <section><h2>Ring: who owns each job</h2><div id="ring"></div></section>
  </div>
  <section class="plain">
    <h2>Jobs <span class="muted">(counters and last run are this node's; recent runs are the pool's)</span></h2>
    <p id="action-result" class="small muted" role="status"></p>
    <div id="jobs"></div>
  </section>
  <section><h2>Recent events <span class="muted">(newest first)</span></h2><ul id="events"></ul></section>
</main>
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;

const scriptHash = createHash('sha256').update(DASHBOARD_SCRIPT).digest('base64');

/** Only the page's own script and same-origin requests: no CDN, font or tracker can load. */
export const DASHBOARD_PAGE_POLICY = [
  "default-src 'none'",
  `script-src 'sha256-${scriptHash}'`,
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

// The page's script, run by the browser: reads `<path>/state`, follows `<path>/events` and renders
// the state. Plain ES2020 with no template literals, so it can live in this string as it is.
import { DASHBOARD_JOB_SCRIPT } from './dashboard-job-script.js';

export const DASHBOARD_SCRIPT = String.raw`
(function () {
  'use strict';
  var base = location.pathname.replace(/\/+$/, '');
  var last = null;
  var suspects = {};
  var $ = function (id) { return document.getElementById(id); };

  var palette = ['#2563eb', '#db2777', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#dc2626',
    '#65a30d', '#c026d3', '#64748b', '#92400e', '#0f766e'];
  // From the node id alone (FNV-1a, then mixed), so a node keeps its colour whoever joins or
  // leaves, on every page; two nodes share one in 12 times, and their ids are written beside.
  function color(id) {
    var h = 0x811c9dc5;
    for (var i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return palette[((h ^ (h >>> 16)) >>> 0) % palette.length];
  }
  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function pad(n, width) { return String(n).padStart(width || 2, '0'); }
  function clock(ms) {
    if (ms === undefined || ms === null) return '—';
    var d = new Date(ms);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }
  function duration(ms) {
    if (ms === undefined || ms === null) return '—';
    return ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
  }
  function delay(ms) { return ms === undefined || ms === null ? '—' : '+' + duration(ms); }
  function node(id, self, mark) {
    if (id === undefined || id === null) return '<span class="muted">none</span>';
    var suspect = mark && suspects[id];
    return '<span class="node"><i style="background:' + color(id) + '"></i>' + esc(id) +
      (self ? ' <b class="tag">this node</b>' : '') +
      (suspect ? ' <b class="tag suspect" title="' + esc(why(suspect)) + '">suspect</b>' : '') +
      '</span>';
  }
  function why(s) {
    return s.reason === 'heartbeat' ? 'no heartbeat since ' + clock(s.since) :
      s.ranOn + ' ran its tick of ' + s.job + ' at ' + clock(s.since);
  }

  function renderServices(state) {
    if (state.services.length === 0) return '<p class="muted">No live node.</p>';
    return state.services.map(function (service) {
      var rows = service.nodes.map(function (n) {
        var meta = Object.keys(n.metadata).sort().map(function (k) {
          return '<span class="kv">' + esc(k) + '=' + esc(n.metadata[k]) + '</span>';
        }).join(' ');
        var suspect = suspects[n.nodeId];
        return '<tr data-node="' + esc(n.nodeId) + '" data-suspect="' +
          (suspect ? suspect.reason : '') + '"' + (n.self ? ' class="self"' : '') + '><td>' +
          node(n.nodeId, n.self, true) +
          (suspect ? '<div class="small warn">' + esc(why(suspect)) + '</div>' : '') +
          '</td><td class="mono">' + esc(n.version || '—') +
          '</td><td class="mono">' + esc(n.address) + '</td><td>' + esc(n.pool) + '</td><td>' +
          (meta || '<span class="muted">—</span>') + '</td></tr>';
      }).join('');
      return '<div class="service"><h3>' + esc(service.name) + ' <span class="muted">' +
        service.nodes.length + (service.nodes.length === 1 ? ' node' : ' nodes') + '</span></h3>' +
        '<table><thead><tr><th>Node</th><th>Version</th><th>Address</th><th>Pool</th>' +
        '<th>Metadata</th></tr></thead><tbody>' + rows + '</tbody></table></div>';
    }).join('');
  }

  function point(at, r) {
    var a = at * 2 * Math.PI - Math.PI / 2;
    return [130 + r * Math.cos(a), 130 + r * Math.sin(a)];
  }
  function renderRing(state) {
    var r = 92;
    var arcs = state.pool.ring.map(function (arc) {
      var p0 = point(arc.from, r);
      var p1 = point(arc.to, r);
      var large = arc.to - arc.from > 0.5 ? 1 : 0;
      return '<path d="M' + p0[0].toFixed(2) + ' ' + p0[1].toFixed(2) + ' A' + r + ' ' + r +
        ' 0 ' + large + ' 1 ' + p1[0].toFixed(2) + ' ' + p1[1].toFixed(2) + '" stroke="' +
        color(arc.nodeId) + '"><title>' + esc(arc.nodeId) + '</title></path>';
    }).join('');
    var labels = state.jobs.length <= 12;
    var jobs = state.jobs.map(function (job) {
      var inner = point(job.ringAt, r - 11);
      var p = point(job.ringAt, r + 17);
      var out = '<line class="pin" x1="' + inner[0].toFixed(2) + '" y1="' + inner[1].toFixed(2) +
        '" x2="' + p[0].toFixed(2) + '" y2="' + p[1].toFixed(2) + '"></line>' +
        '<circle class="job" cx="' + p[0].toFixed(2) + '" cy="' + p[1].toFixed(2) +
        '" r="6" fill="' + (job.owner ? color(job.owner) : '#999') + '"><title>' + esc(job.name) +
        ' → ' + esc(job.owner || 'none') + '</title></circle>';
      if (labels) {
        var q = point(job.ringAt, r + 32);
        var anchor = q[0] < 120 ? 'end' : q[0] > 140 ? 'start' : 'middle';
        out += '<text x="' + q[0].toFixed(2) + '" y="' + (q[1] + 4).toFixed(2) +
          '" text-anchor="' + anchor + '">' + esc(job.name) + '</text>';
      }
      return out;
    }).join('');
    var count = state.pool.nodes.length;
    var svg = '<svg viewBox="-50 -10 360 280" role="img" aria-label="hash ring">' +
      '<circle class="track" cx="130" cy="130" r="' + r + '"></circle><g class="arcs">' + arcs +
      '</g>' + jobs + '<text class="center" x="130" y="126" text-anchor="middle">' + count +
      (count === 1 ? ' node' : ' nodes') + '</text><text class="center sub" x="130" y="146" ' +
      'text-anchor="middle">' + state.jobs.length + (state.jobs.length === 1 ? ' job' : ' jobs') +
      '</text></svg>';
    var legend = state.pool.nodes.map(function (id) {
      var owned = state.jobs.filter(function (j) { return j.owner === id; }).length;
      return '<li>' + node(id, id === state.nodeId, true) + ' <span class="muted">owns ' + owned +
        (owned === 1 ? ' job' : ' jobs') + '</span></li>';
    }).join('');
    return svg + '<ul class="legend">' + legend + '</ul>';
  }

  var SKIP_REASONS = { deadline: 'past deadline', overlap: 'overlap', redisError: 'Redis error',
    noLease: 'no lease', stopping: 'stopping' };
  function renderJobs(state) {
    if (state.jobs.length === 0) return '<p class="muted">No distributed job in this app.</p>';
    return state.jobs.map(function (job) {
      var runs;
      if (!job.recentRuns) runs = '<p class="muted small">no run history</p>';
      else if (job.recentRuns.length === 0) runs = '<p class="muted small">no runs yet</p>';
      else runs = '<table class="runs"><tbody>' + job.recentRuns.map(function (run) {
        return '<tr title="token ' + esc(run.token) + '"><td class="mono">' + clock(run.tick) +
          '</td><td>' + node(run.nodeId) + '</td><td class="num">' + delay(run.delay) +
          '</td></tr>';
      }).join('') + '</tbody></table>';
      var trouble = Object.keys(job.skipped).filter(function (k) {
        return k !== 'claimedElsewhere' && job.skipped[k] > 0;
      });
      var skipped = trouble.reduce(function (n, k) { return n + job.skipped[k]; }, 0);
      var reasons = '<span class="reason normal" data-reason="claimedElsewhere" title="normal: ' +
        'another node ran these ticks">claimed elsewhere ' + job.skipped.claimedElsewhere +
        '</span>' + trouble.map(function (k) {
          return ' · <span class="reason warn" data-reason="' + esc(k) + '">' +
            esc(SKIP_REASONS[k] || k) + ' ' + job.skipped[k] + '</span>';
        }).join('');
      var suspect = job.owner && suspects[job.owner];
      return '<article class="job" data-job="' + esc(job.name) + '" data-owner="' +
        esc(job.owner || '') + '" data-owner-suspect="' + (suspect ? suspect.reason : '') +
        '"><header><h3>' + esc(job.name) + '</h3><span class="' +
        (job.running ? 'running' : 'idle') + '">' + (job.running ? 'running' : 'idle') +
        '</span></header><p class="muted small">' + esc(job.schedule) + ', every ' +
        duration(job.period) + '</p><p class="owner">owner ' +
        node(job.owner, job.owner === state.nodeId, true) + '</p>' +
        (suspect ? '<p class="small warn">' + esc(why(suspect)) + '</p>' : '') +
        '<dl><div><dt>runs</dt><dd>' + job.runs + '</dd></div><div><dt>skipped</dt><dd' +
        (skipped ? ' class="warn"' : '') + ' title="ticks not run here for any reason but claimed elsewhere">' + skipped +
        '</dd></div><div><dt>errors</dt><dd' + (job.errors ? ' class="bad"' : '') + '>' +
        job.errors + '</dd></div><div><dt>last run</dt><dd>' + clock(job.lastRun) +
        '</dd></div><div><dt>took</dt><dd>' + duration(job.lastDuration) + '</dd></div>' +
        '<div><dt>start delay</dt><dd>' + delay(job.lastStartDelay) + '</dd></div></dl>' +
        '<p class="skips small muted">' + reasons + '</p>' +
        '<h4>Recent runs <span class="muted">(tick, node, start delay)</span></h4>' + runs +
        renderOperated(job, state) + '</article>';
    }).join('');
  }
${DASHBOARD_JOB_SCRIPT}
  function describe(e) {
    switch (e.kind) {
      case 'joined':
        return ['joined', node(e.nodeId) + ' joined pool ' + esc(e.pool)];
      case 'left':
        return [e.reason === 'shutdown' ? 'left' : 'expired', node(e.nodeId) + ' left: ' +
          (e.reason === 'shutdown' ? 'shut down' : 'expired (no heartbeat)')];
      case 'updated':
        return ['updated', node(e.nodeId) + ' updated' +
          (e.changes.length ? ': ' + esc(e.changes.join('; ')) : '')];
      default:
        return [e.failover ? 'failover' : 'moved', 'job <b>' + esc(e.job) + '</b> ' +
          (e.failover ? 'failed over' : 'moved') + ' from ' + node(e.from) + ' to ' + node(e.to) +
          (e.takenOver ? ' <span class="muted">(' + esc(e.takenOver.by) + ' ran its tick of ' +
            clock(e.takenOver.tick) + ')</span>' : '')];
    }
  }
  function renderEvents(state) {
    if (state.events.length === 0) return '<li class="muted">No event since this node started.</li>';
    return state.events.map(function (e) {
      var d = describe(e);
      return '<li class="event ' + d[0] + '"><span class="mono muted">' + clock(e.at) +
        '</span><span class="badge">' + d[0] + '</span><span>' + d[1] +
        (e.resynced ? ' <span class="muted">(resynced)</span>' : '') + '</span></li>';
    }).join('');
  }

  function render(state) {
    last = state;
    suspects = {};
    state.pool.suspects.forEach(function (s) { suspects[s.nodeId] = s; });
    $('pool').textContent = state.pool.name;
    $('viewer').textContent = state.nodeId;
    var pool = $('pool-state');
    pool.textContent = state.pool.state;
    pool.className = 'badge ' + state.pool.state;
    $('updated').textContent = 'updated ' + clock(Date.now());
    $('services').innerHTML = renderServices(state);
    $('ring').innerHTML = renderRing(state);
    $('jobs').innerHTML = renderJobs(state);
    $('events').innerHTML = renderEvents(state);
  }
  function status(text, live) {
    var el = $('status');
    el.textContent = text;
    el.className = 'badge ' + (live ? 'live' : 'down');
  }

  var source = new EventSource(base + '/events');
  source.addEventListener('state', function (message) {
    render(JSON.parse(message.data));
    status('live', true);
  });
  source.onopen = function () { status('live', true); };
  source.onerror = function () { status(last ? 'reconnecting…' : 'connecting…', false); };
  fetch(base + '/state', { cache: 'no-store' })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (state) { if (state && !last) render(state); })
    .catch(function () {});
})();
`;

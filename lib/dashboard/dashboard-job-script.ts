// The part of the page's script that shows how a job is operated (pause state, next fire times,
// the cluster's history and totals) and, with `actions`, its buttons: each posts to
// `<path>/jobs/<job>/<action>` with the header the server requires. Spliced into DASHBOARD_SCRIPT,
// whose helpers (`esc`, `clock`, `node`, `$`, `base`) it uses. Plain ES2020, no template literals.

export const DASHBOARD_JOB_SCRIPT = String.raw`
  function renderOperated(job, state) {
    var op = job.operated;
    if (!op) return '<p class="muted small">no history</p>';
    var paused = op.paused
      ? '<p class="paused warn" data-paused="1">paused' +
        (op.pauseReason ? ': ' + esc(op.pauseReason) : '') +
        (op.pausedBy ? ' (by ' + esc(op.pausedBy) + ')' : '') + '</p>'
      : '<p class="paused small muted" data-paused="0">active</p>';
    var next = op.nextFireTimes.length === 0 ? '' :
      '<p class="next small muted">next ' + op.nextFireTimes.map(clock).join(', ') + '</p>';
    var history = op.history.length === 0 ? '<p class="muted small">no finished run yet</p>' :
      '<table class="history"><tbody>' + op.history.map(function (run) {
        return '<tr data-outcome="' + esc(run.outcome) + '" title="token ' + esc(run.token) +
          ', attempt ' + esc(run.attempt) + '"><td class="mono">' + clock(run.tick) + '</td><td>' +
          node(run.node) + '</td><td' + (run.outcome === 'ok' ? '' : ' class="bad"') + '>' +
          esc(run.outcome) + (run.kind === 'schedule' ? '' : ' (' + esc(run.kind) + ')') +
          '</td></tr>';
      }).join('') + '</tbody></table>';
    var totals = '<p class="totals small muted">cluster: ' + op.totals.runs + ' runs, ' +
      op.totals.error + ' failed, ' + op.totals.triggered + ' triggered, ' +
      op.totals.skippedPaused + ' skipped while paused</p>';
    var buttons = !state.actions ? '' : '<p class="actions">' +
      button(job.name, op.paused ? 'resume' : 'pause') + ' ' + button(job.name, 'trigger') + '</p>';
    return paused + next + buttons +
      '<h4>History <span class="muted">(tick, node, outcome)</span></h4>' + history + totals;
  }
  function button(job, action) {
    return '<button type="button" data-action="' + action + '" data-target="' + esc(job) + '">' +
      action + '</button>';
  }
  document.addEventListener('click', function (event) {
    var target = event.target && event.target.closest && event.target.closest('button[data-action]');
    if (!target) return;
    var job = target.getAttribute('data-target');
    var action = target.getAttribute('data-action');
    target.disabled = true;
    fetch(base + '/jobs/' + encodeURIComponent(job) + '/' + action, {
      method: 'POST',
      cache: 'no-store',
      credentials: 'same-origin',
      headers: { 'X-Discovery-Action': '1' }
    }).then(function (response) {
      return response.json().then(function (body) {
        var text = response.ok ? action + ' ' + job + ': ' + (body.status || (body.paused ? 'paused' : 'resumed')) +
          (body.reason ? ' (' + body.reason + ')' : '') : action + ' ' + job + ' refused: ' + (body.message || response.status);
        var el = $('action-result');
        el.textContent = text;
        el.setAttribute('data-ok', response.ok ? '1' : '0');
      });
    }).catch(function () {
      $('action-result').textContent = action + ' ' + job + ' failed';
    }).then(function () { target.disabled = false; });
  });
`;

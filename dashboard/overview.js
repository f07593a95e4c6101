import { api } from './api.js';
import { badge, formatDuration, formatTime, h, percent, replaceChildren, table } from './dom.js';
import { trendChart } from './trend-chart.js';
import { watchSweep } from './sweep-progress.js';

function figure(label, value, detail, name) {
  return h(
    'div',
    { class: 'figure', dataset: { figure: name } },
    h('span', { class: 'figure-label' }, label),
    h('span', { class: 'figure-value' }, value),
    detail ? h('span', { class: 'figure-detail' }, detail) : null,
  );
}

export async function renderOverview(view) {
  const overview = await api('overview', { query: { trend: 30 } });
  const progress = h('div', { class: 'progress-area', 'aria-live': 'polite' });
  let stopWatching;
  const start = async (dryRun) => {
    progress.replaceChildren(h('p', {}, dryRun ? 'Starting a dry run…' : 'Starting a sweep…'));
    try {
      const run = await api('sweeps', { method: 'POST', body: { dryRun } });
      stopWatching?.();
      stopWatching = watchSweep(run.sweepId, progress, () => void renderOverview(view));
    } catch (error) {
      progress.replaceChildren(h('p', { class: 'notice error' }, `Could not start: ${error.message}`));
    }
  };
  const actions = h(
    'div',
    { class: 'actions' },
    h('button', { type: 'button', onclick: () => void start(false) }, 'Run sweep'),
    h('button', { type: 'button', class: 'secondary', onclick: () => void start(true) }, 'Dry run'),
  );
  const dead = overview.deadLetters;
  const deadText = `${dead.atLeast ? '≥ ' : ''}${dead.waiting}`;
  if (!overview.latestSweep) {
    replaceChildren(
      view,
      h('h1', {}, 'Overview'),
      h('p', { class: 'notice' }, 'No sweep has completed yet.'),
      h('div', { class: 'figures' }, figure('Dead letters waiting', deadText, null, 'deadLetters')),
      actions,
      progress,
    );
    if (overview.runningSweep) stopWatching = watchSweep(overview.runningSweep.sweepId, progress, () => void renderOverview(view));
    return () => stopWatching?.();
  }
  const { devices, agents, latestSweep: sweep } = overview;
  const figures = h(
    'div',
    { class: 'figures' },
    figure('Devices known', String(devices.known), `${devices.evaluated} evaluated, ${devices.outOfScope} out of scope`, 'known'),
    figure('Covered by a security module', String(devices.covered), `${devices.withoutModule} without one`, 'covered'),
    figure(
      'Compliant',
      percent(devices.compliantShare),
      `${devices.compliant} of ${devices.evaluated} (${devices.nonCompliant} not)`,
      'compliant',
    ),
    figure('Agents failed', String(agents.failed), `${agents.staleOrNeverReported} stale or never reported`, 'agents'),
    figure('Dead letters waiting', deadText, null, 'deadLetters'),
  );
  const rules = table(
    'Violations per rule (last sweep)',
    ['Rule', 'Violations', 'Suppressed'],
    overview.rules.map((rule) =>
      h(
        'tr',
        { dataset: { rule: rule.ruleId } },
        h('th', { scope: 'row' }, h('a', { href: `#/findings?rule=${rule.ruleId}` }, rule.ruleId)),
        h('td', { class: 'num' }, rule.violations > 0 ? badge('bad', String(rule.violations)) : badge('ok', '0')),
        h('td', { class: 'num' }, String(rule.suppressed)),
      ),
    ),
    { class: 'rules' },
  );
  const last = h(
    'dl',
    { class: 'facts', id: 'last-sweep' },
    h('dt', {}, 'Last sweep'),
    h('dd', {}, h('a', { href: `#/sweeps/${encodeURIComponent(sweep.sweepId)}` }, sweep.sweepId), sweep.dryRun ? ' (dry run)' : ''),
    h('dt', {}, 'Started'),
    h('dd', {}, formatTime(sweep.startedAt)),
    h('dt', {}, 'Duration'),
    h('dd', { dataset: { duration: sweep.durationMs } }, formatDuration(sweep.durationMs)),
    h('dt', {}, 'Throttled responses'),
    h('dd', { dataset: { throttles: sweep.throttles } }, String(sweep.throttles)),
  );
  const chart = trendChart(overview.trend);
  replaceChildren(
    view,
    h('h1', {}, 'Overview'),
    figures,
    h(
      'div',
      { class: 'columns' },
      h('section', { class: 'panel' }, h('h2', {}, 'Compliance over recent sweeps'), chart.element),
      h('section', { class: 'panel' }, h('h2', {}, 'Last sweep'), last, actions, progress),
    ),
    h('section', { class: 'panel' }, rules),
  );
  chart.draw();
  if (overview.runningSweep) stopWatching = watchSweep(overview.runningSweep.sweepId, progress, () => void renderOverview(view));
  return () => {
    stopWatching?.();
    chart.destroy();
  };
}

// Recent sweeps, and one sweep with its per-shard progress (polled while it runs) and summary.
import { api } from './api.js';
import { formatDuration, formatTime, h, json, percent, replaceChildren, table } from './dom.js';
import { shardProgress, statusBadge } from './sweep-progress.js';

export async function renderSweeps(view) {
  const { sweeps } = await api('sweeps', { query: { limit: 30 } });
  const rows = sweeps.map((run) =>
    h(
      'tr',
      {},
      h('td', {}, h('a', { href: `#/sweeps/${encodeURIComponent(run.sweepId)}` }, run.sweepId)),
      h('td', {}, statusBadge(run.status)),
      h('td', {}, run.dryRun ? 'dry run' : run.trigger),
      h('td', {}, formatTime(run.startedAt)),
      h('td', { class: 'num' }, formatDuration(run.summary?.durationMs)),
      h('td', { class: 'num' }, run.summary ? String(run.summary.counters.evaluated) : '—'),
      h('td', { class: 'num' }, percent(run.summary?.compliantShare)),
      h('td', { class: 'num' }, run.summary ? String(run.summary.counters.throttles) : '—'),
    ),
  );
  replaceChildren(
    view,
    h('h1', {}, 'Sweeps'),
    rows.length > 0
      ? table(null, ['Sweep', 'Status', 'Kind', 'Started', 'Duration', 'Evaluated', 'Compliant', 'Throttles'], rows, { class: 'sweeps' })
      : h('p', { class: 'notice' }, 'No sweeps yet.'),
  );
}

function summaryFacts(summary) {
  const counters = summary.counters;
  const pairs = [
    ['Devices seen', counters.devicesSeen],
    ['Evaluated', counters.evaluated],
    ['Compliant', `${counters.compliant} (${percent(summary.compliantShare)})`],
    ['Not compliant', counters.nonCompliant],
    ['Out of scope (edge / condition)', `${counters.outOfScopeEdge} / ${counters.outOfScopeCondition}`],
    ['Compliance changed', counters.complianceChanged],
    ['Registry queries / operations', `${counters.queries} / ${counters.registryOperations}`],
    ['Throttled responses', counters.throttles],
    ['Duration', formatDuration(summary.durationMs)],
    [
      'Repairs',
      Object.keys(counters.repairs).length > 0
        ? Object.entries(counters.repairs)
            .map(([key, count]) => `${key}=${count}`)
            .join(', ')
        : 'none',
    ],
  ];
  if (summary.importJob) pairs.push(['Import job', json(summary.importJob)]);
  return h(
    'dl',
    { class: 'facts' },
    pairs.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, String(value))]),
  );
}

export async function renderSweep(view, sweepId) {
  let timer;
  let stopped = false;
  const draw = async () => {
    const run = await api(`sweeps/${encodeURIComponent(sweepId)}`);
    if (stopped) return;
    const shards = run.shards.map((shard) =>
      h(
        'tr',
        {},
        h('td', { class: 'num' }, String(shard.shard)),
        h('td', {}, statusBadge(shard.status === 'done' ? 'completed' : shard.status)),
        h(
          'td',
          {},
          h('progress', {
            max: Math.max(1, shard.endBucket - shard.startBucket),
            value: shard.nextBucket - shard.startBucket,
            'aria-label': `Shard ${shard.shard}`,
          }),
          ` ${shard.nextBucket - shard.startBucket} / ${shard.endBucket - shard.startBucket}`,
        ),
        h('td', { class: 'num' }, String(shard.invocations)),
      ),
    );
    replaceChildren(
      view,
      h('h1', {}, 'Sweep ', h('span', { class: 'device-id' }, run.sweepId)),
      h(
        'p',
        {},
        statusBadge(run.status),
        ` ${run.dryRun ? 'dry run' : run.trigger}, started ${formatTime(run.startedAt)}${run.completedAt ? `, completed ${formatTime(run.completedAt)}` : ''}`,
      ),
      run.error ? h('p', { class: 'notice error' }, run.error) : null,
      run.progress ? shardProgress(run) : null,
      h(
        'section',
        { class: 'panel' },
        shards.length > 0
          ? table('Shards', ['Shard', 'Status', 'Buckets', 'Invocations'], shards, { class: 'shards' })
          : h('p', {}, 'Not planned yet.'),
      ),
      run.summary ? h('section', { class: 'panel' }, h('h2', {}, 'Summary'), summaryFacts(run.summary)) : null,
      h('p', {}, h('a', { href: '#/sweeps' }, '← All sweeps')),
    );
    if (!['completed', 'failed'].includes(run.status)) timer = setTimeout(() => void draw().catch(() => undefined), 1000);
  };
  await draw();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

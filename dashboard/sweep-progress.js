// Live progress of one sweep: polls GET /api/sweeps/{id} until it completes or fails.
import { api } from './api.js';
import { badge, h, percent } from './dom.js';

export function shardProgress(run) {
  const { buckets, bucketsDone, shardsDone, shards } = run.progress;
  return h(
    'div',
    { class: 'progress-line' },
    h('progress', { max: Math.max(1, buckets), value: bucketsDone, 'aria-label': 'Buckets done' }),
    ` ${bucketsDone} / ${buckets} buckets, ${shardsDone} / ${shards} shards done`,
  );
}

export function statusBadge(status) {
  const kinds = { completed: 'ok', failed: 'bad', running: 'info', planning: 'info', importing: 'info' };
  return badge(kinds[status] ?? 'muted', status);
}

export function watchSweep(sweepId, target, onDone) {
  let stopped = false;
  let timer;
  const poll = async () => {
    if (stopped) return;
    try {
      const run = await api(`sweeps/${encodeURIComponent(sweepId)}`);
      if (stopped) return;
      const line = [h('span', {}, `Sweep ${sweepId}${run.dryRun ? ' (dry run)' : ''}: `), statusBadge(run.status)];
      if (run.status === 'completed') {
        target.replaceChildren(h('p', { class: 'sweep-done' }, ...line, ` — ${percent(run.summary?.compliantShare)} compliant`));
        stopped = true;
        setTimeout(onDone, 1500);
        return;
      }
      if (run.status === 'failed') {
        target.replaceChildren(h('p', {}, ...line, ` — ${run.error ?? ''}`));
        return;
      }
      target.replaceChildren(h('p', {}, ...line), shardProgress(run));
    } catch (error) {
      target.replaceChildren(h('p', { class: 'notice error' }, `Progress unavailable: ${error.message}`));
    }
    timer = setTimeout(() => void poll(), 700);
  };
  void poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// The compliance trend: uPlot (window.uPlot, loaded by index.html from the app) over the last sweeps, oldest first,
// with the same figures as a table beside it for keyboards and screen readers.
import { formatTime, h, percent, table } from './dom.js';

export function trendChart(trend) {
  const points = [...trend].reverse();
  const canvasHolder = h('div', {
    class: 'chart',
    role: 'img',
    'aria-label': `Compliant share over the last ${points.length} sweeps`,
    dataset: { points: points.length },
  });
  const rows = points.map((point) =>
    h(
      'tr',
      {},
      h('td', {}, formatTime(point.startedAt)),
      h('td', { class: 'num' }, percent(point.compliantShare)),
      h('td', { class: 'num' }, `${point.compliant} / ${point.evaluated}`),
      h('td', {}, point.dryRun ? 'dry run' : ''),
    ),
  );
  const details = h(
    'details',
    {},
    h('summary', {}, 'Trend as a table'),
    table(null, ['Sweep started', 'Compliant', 'Devices', ''], rows, { class: 'trend-table' }),
  );
  let plot;
  return {
    element: h('div', {}, canvasHolder, details),
    draw() {
      if (points.length === 0 || typeof window.uPlot !== 'function') return;
      const xs = points.map((_, index) => index + 1);
      const ys = points.map((point) => (point.compliantShare === null ? null : Math.round(point.compliantShare * 1000) / 10));
      const width = Math.max(320, canvasHolder.clientWidth || 560);
      plot = new window.uPlot(
        {
          width,
          height: 220,
          legend: { show: false },
          cursor: { show: true, drag: { x: false, y: false } },
          scales: { x: { time: false }, y: { range: [0, 100] } },
          axes: [
            {
              values: (_, ticks) =>
                ticks.map((tick) =>
                  Number.isInteger(tick) && points[tick - 1] ? formatTime(points[tick - 1].startedAt).slice(5, 16) : '',
                ),
              space: 90,
            },
            { values: (_, ticks) => ticks.map((tick) => `${tick} %`) },
          ],
          series: [{}, { label: 'Compliant share', stroke: '#1f5fa8', width: 2, points: { show: true, size: 7, fill: '#1f5fa8' } }],
        },
        [xs, ys],
        canvasHolder,
      );
      canvasHolder.dataset.drawn = String(plot.data[0].length);
    },
    destroy() {
      plot?.destroy();
    },
  };
}

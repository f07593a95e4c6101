/**
 * An in-process Telemetry that keeps the metrics in memory and renders them in the Prometheus text format (version
 * 0.0.4): the standalone host's `GET /metrics`, so the same metrics as in Application Insights can be scraped without
 * Azure and without a collector. Log records are not kept (the host's console has them).
 *
 * Names: the catalogue's with dots as underscores; counters end in `_total`, histograms expose `_bucket`, `_sum` and
 * `_count` (https://prometheus.io/docs/instrumenting/exposition_formats/).
 */
import type { MetricPoint, Telemetry } from '../ports/telemetry';
import { METRICS, type MetricName } from './metric-catalogue';

/** Upper bounds of the duration histograms, in ms: a batch takes tens of ms, a sweep minutes. */
const DURATION_BUCKETS_MS: readonly number[] = [
  5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000,
];

/** Series per metric kept at most; the catalogue's attributes are bounded, this only guards against a misuse. */
const MAX_SERIES_PER_METRIC = 500;

interface Series {
  labels: Readonly<Record<string, string>>;
  value: number;
  /** Histograms: cumulative counts per bucket of DURATION_BUCKETS_MS, then the count (+Inf). */
  buckets?: number[];
  count?: number;
}

function labelKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Readonly<Record<string, string>>, extra?: [string, string]): string {
  const entries = Object.entries(labels);
  if (extra) entries.push(extra);
  if (entries.length === 0) return '';
  return `{${entries.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(',')}}`;
}

function numberText(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1e6) / 1e6);
}

export function prometheusName(name: MetricName): string {
  const base = name.replace(/\./g, '_');
  return METRICS[name].kind === 'counter' ? `${base}_total` : base;
}

export class MetricsRegistry implements Telemetry {
  private readonly series = new Map<MetricName, Map<string, Series>>();

  metric(point: MetricPoint): void {
    const definition = METRICS[point.name];
    if (!Number.isFinite(point.value)) return;
    // Only the catalogue's attributes: bounded label sets whatever a caller passes.
    const labels: Record<string, string> = {};
    for (const key of definition.attributes) {
      const value = point.attributes[key];
      if (value !== undefined) labels[key] = value;
    }
    let byLabels = this.series.get(point.name);
    if (!byLabels) {
      byLabels = new Map<string, Series>();
      this.series.set(point.name, byLabels);
    }
    const key = labelKey(labels);
    let series = byLabels.get(key);
    if (!series) {
      if (byLabels.size >= MAX_SERIES_PER_METRIC) return;
      series = { labels, value: 0, ...(definition.kind === 'histogram' ? { buckets: DURATION_BUCKETS_MS.map(() => 0), count: 0 } : {}) };
      byLabels.set(key, series);
    }
    switch (definition.kind) {
      case 'counter':
        if (point.value > 0) series.value += point.value;
        break;
      case 'gauge':
        series.value = point.value;
        break;
      case 'histogram':
        series.value += point.value;
        series.count = (series.count ?? 0) + 1;
        DURATION_BUCKETS_MS.forEach((bound, index) => {
          if (point.value <= bound) series.buckets![index]! += 1;
        });
        break;
    }
  }

  log(): void {
    // The standalone host's console already shows every record.
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** The current value of one series (tests, the host's own checks). */
  valueOf(name: MetricName, attributes: Readonly<Record<string, string>> = {}): number | undefined {
    return this.series.get(name)?.get(labelKey(attributes))?.value;
  }

  /** Every metric of the catalogue, in its order; one with no series yet shows its HELP and TYPE only. */
  render(): string {
    const lines: string[] = [];
    for (const [name, definition] of Object.entries(METRICS) as [MetricName, (typeof METRICS)[MetricName]][]) {
      const exposed = prometheusName(name);
      lines.push(`# HELP ${exposed} ${definition.description.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')} (${definition.unit})`);
      lines.push(`# TYPE ${exposed} ${definition.kind}`);
      for (const series of this.series.get(name)?.values() ?? []) {
        if (definition.kind !== 'histogram') {
          lines.push(`${exposed}${labelText(series.labels)} ${numberText(series.value)}`);
          continue;
        }
        DURATION_BUCKETS_MS.forEach((bound, index) => {
          lines.push(`${exposed}_bucket${labelText(series.labels, ['le', numberText(bound)])} ${series.buckets![index]}`);
        });
        lines.push(`${exposed}_bucket${labelText(series.labels, ['le', '+Inf'])} ${series.count ?? 0}`);
        lines.push(`${exposed}_sum${labelText(series.labels)} ${numberText(series.value)}`);
        lines.push(`${exposed}_count${labelText(series.labels)} ${series.count ?? 0}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }
}

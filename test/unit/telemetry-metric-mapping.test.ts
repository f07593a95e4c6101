/** Log records → metric points (shared/telemetry/metrics-from-log.ts) and their Prometheus rendering. */
import { METRICS, METRIC_NAMES } from '../../shared/telemetry/metric-catalogue';
import { metricsFromLog } from '../../shared/telemetry/metrics-from-log';
import { MetricsRegistry, prometheusName } from '../../shared/telemetry/metrics-registry';

const batch = {
  invocationId: 'inv-1',
  received: 10,
  skipped: { telemetry: 3, connectionState: 1 },
  deadLettered: 2,
  provisioning: { created: 2, needsThumbprint: 1 },
  devicesUpdated: 3,
  historyEntries: 4,
  securityTwinChanges: 3,
  twinReads: 1,
  latestConflicts: 0,
  alreadyApplied: 0,
  durationMs: 42,
};

type Row = [string, Record<string, unknown>, [string, number, Record<string, string>][]];

const rows: Row[] = [
  [
    'batch processed',
    batch,
    [
      ['twinguard.events.processed', 3, { category: 'telemetry' }],
      ['twinguard.events.processed', 1, { category: 'connectionState' }],
      ['twinguard.events.processed', 3, { category: 'securityTwinChange' }],
      ['twinguard.events.processed', 2, { category: 'deadLettered' }],
      ['twinguard.events.processed', 1, { category: 'lifecycle' }],
      ['twinguard.dead_letters', 2, {}],
      ['twinguard.provisioning.outcomes', 2, { outcome: 'created' }],
      ['twinguard.provisioning.outcomes', 1, { outcome: 'needsThumbprint' }],
      ['twinguard.twin_reads', 1, {}],
      ['twinguard.batch.duration', 42, {}],
    ],
  ],
  ['batch processed', { received: 0, skipped: {}, deadLettered: 0, durationMs: 0 }, [['twinguard.batch.duration', 0, {}]]],
  [
    'registration storm import step',
    { step: 'idle', outcomes: { created: 3, importFailed: 1, alreadyPresent: 0 } },
    [
      ['twinguard.provisioning.outcomes', 3, { outcome: 'created' }],
      ['twinguard.provisioning.outcomes', 1, { outcome: 'importFailed' }],
    ],
  ],
  [
    'IoT Hub registry call retried',
    { operation: 'getModule(d1)', kind: 'throttled', statusCode: 429, attempt: 1 },
    [
      ['twinguard.outbound.retries', 1, { service: 'iotHub', kind: 'throttled' }],
      ['twinguard.outbound.throttles', 1, { service: 'iotHub' }],
    ],
  ],
  [
    'table storage call retried',
    { kind: 'transient', statusCode: 503 },
    [['twinguard.outbound.retries', 1, { service: 'table', kind: 'transient' }]],
  ],
  ['queue storage call retried', { kind: 'weird' }, [['twinguard.outbound.retries', 1, { service: 'queue', kind: 'transient' }]]],
  [
    'dead-letter write retried',
    { statusCode: 429 },
    [
      ['twinguard.outbound.retries', 1, { service: 'table', kind: 'throttled' }],
      ['twinguard.outbound.throttles', 1, { service: 'table' }],
    ],
  ],
  [
    'device processing failed permanently; events dead-lettered',
    { deviceId: 'd1' },
    [['twinguard.device.failures', 1, { kind: 'permanent' }]],
  ],
  [
    'device processing hit a transient failure; batch will be retried',
    { deviceId: 'd1' },
    [['twinguard.device.failures', 1, { kind: 'transient' }]],
  ],
  ['compliance sweep failed', { sweepId: 's1', error: 'x' }, [['twinguard.sweep.failed', 1, {}]]],
  [
    'compliance sweep completed',
    {
      sweepId: 's1',
      evaluated: 200,
      compliant: 150,
      compliantShare: 0.75,
      durationMs: 5000,
      throttles: 4,
      rules: { 'module-missing': { violations: 30, suppressed: 2 }, 'agent-stale': { violations: 0, suppressed: 0 } },
      repairs: { 'createModule:created': 25 },
    },
    [
      ['twinguard.sweep.completed', 1, {}],
      ['twinguard.sweep.devices_evaluated', 200, {}],
      ['twinguard.sweep.compliant_share', 75, {}],
      ['twinguard.sweep.violations', 30, { rule: 'module-missing' }],
      ['twinguard.sweep.violations', 0, { rule: 'agent-stale' }],
      ['twinguard.sweep.duration', 5000, {}],
      ['twinguard.sweep.throttles', 4, {}],
      ['twinguard.sweep.repairs', 25, { action: 'createModule', result: 'created' }],
    ],
  ],
  ['posture recorded', { deviceId: 'd1' }, []],
  ['history served', { deviceId: 'd1', entries: 3 }, []],
];

describe('metricsFromLog', () => {
  it.each(rows)('%s %j', (message, fields, expected) => {
    const points = metricsFromLog(message, fields).map((p) => [p.name, p.value, p.attributes]);
    expect(points).toEqual(expected);
  });

  it('only names catalogue metrics with catalogue attributes', () => {
    for (const [message, fields] of rows)
      for (const point of metricsFromLog(message, fields)) {
        expect(METRIC_NAMES).toContain(point.name);
        for (const key of Object.keys(point.attributes)) expect(METRICS[point.name].attributes).toContain(key);
      }
  });

  it('ignores malformed counts instead of throwing', () => {
    expect(metricsFromLog('batch processed', { received: 'ten', skipped: null, provisioning: [1], deadLettered: -3 })).toEqual([]);
    expect(metricsFromLog('batch processed', undefined)).toEqual([]);
  });
});

describe('MetricsRegistry (Prometheus text)', () => {
  it('sums counters, keeps the last gauge value, buckets histograms', () => {
    const registry = new MetricsRegistry();
    for (const point of [...metricsFromLog('batch processed', batch), ...metricsFromLog('batch processed', { ...batch, durationMs: 700 })])
      registry.metric(point);
    registry.metric({ name: 'twinguard.sweep.compliant_share', value: 80, attributes: {} });
    registry.metric({ name: 'twinguard.sweep.compliant_share', value: 75.5, attributes: {} });
    registry.metric({ name: 'twinguard.outbound.retries', value: 1, attributes: { service: 'a"b\\c\nd', kind: 'x', extra: 'dropped' } });
    const text = registry.render();
    expect(text).toContain('# TYPE twinguard_events_processed_total counter');
    expect(text).toContain('twinguard_events_processed_total{category="telemetry"} 6');
    expect(text).toContain('twinguard_dead_letters_total 4');
    expect(text).toContain('twinguard_sweep_compliant_share 75.5');
    expect(text).toContain('twinguard_batch_duration_bucket{le="50"} 1');
    expect(text).toContain('twinguard_batch_duration_bucket{le="1000"} 2');
    expect(text).toContain('twinguard_batch_duration_bucket{le="+Inf"} 2');
    expect(text).toContain('twinguard_batch_duration_sum 742');
    expect(text).toContain('twinguard_batch_duration_count 2');
    expect(text).toContain('twinguard_outbound_retries_total{service="a\\"b\\\\c\\nd",kind="x"} 1');
    expect(text).not.toContain('extra');
    for (const name of METRIC_NAMES) expect(text).toContain(`# TYPE ${prometheusName(name)} ${METRICS[name].kind}`);
  });
});

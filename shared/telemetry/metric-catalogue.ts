/**
 * Every metric TwinGuard emits: one name for Application Insights (customMetrics `name`), the OpenTelemetry meter and
 * the standalone host's Prometheus route (dots become underscores there). The workbook and the alert rules in infra/
 * query these names; test/unit/telemetry-metric-mapping.test.ts keeps them in step.
 */
export type MetricKind = 'counter' | 'histogram' | 'gauge';

export interface MetricDefinition {
  kind: MetricKind;
  unit: string;
  description: string;
  /** Attribute keys a point of this metric may carry; anything else is dropped (bounded cardinality). */
  attributes: readonly string[];
}

export const METRICS = {
  'twinguard.events.processed': {
    kind: 'counter',
    unit: '{event}',
    description:
      'Hub events handled, by category: securityTwinChange, deadLettered, a skipped category (telemetry, connectionState, digitalTwin, jobLifecycle, other) or lifecycle (device/module lifecycle and other module twins).',
    attributes: ['category'],
  },
  'twinguard.dead_letters': {
    kind: 'counter',
    unit: '{event}',
    description: 'Events written to the dead-letter table.',
    attributes: [],
  },
  'twinguard.provisioning.outcomes': {
    kind: 'counter',
    unit: '{device}',
    description:
      "Security-module provisioning outcomes of the event path, by outcome (created, alreadyPresent, needsThumbprint, queuedForImport, …; a storm's import outcomes when they are recorded).",
    attributes: ['outcome'],
  },
  'twinguard.device.failures': {
    kind: 'counter',
    unit: '{device}',
    description: 'Devices whose events could not be processed: permanent (dead-lettered) or transient (batch retried).',
    attributes: ['kind'],
  },
  'twinguard.twin_reads': {
    kind: 'counter',
    unit: '{read}',
    description: 'Module twin reads of the event path (version gaps, unknown base).',
    attributes: [],
  },
  'twinguard.posture.latest_conflicts': {
    kind: 'counter',
    unit: '{conflict}',
    description: 'Latest-posture rows found changed underneath (ETag conflicts) and redone.',
    attributes: [],
  },
  'twinguard.batch.duration': {
    kind: 'histogram',
    unit: 'ms',
    description: 'Time to process one event batch, from the handler taking it to its summary.',
    attributes: [],
  },
  'twinguard.outbound.retries': {
    kind: 'counter',
    unit: '{retry}',
    description: 'Outbound calls retried, by service (iotHub, table, queue, importJob) and kind (throttled, transient, timeout).',
    attributes: ['service', 'kind'],
  },
  'twinguard.outbound.throttles': {
    kind: 'counter',
    unit: '{response}',
    description: 'Throttled answers (429) from IoT Hub or storage, by service.',
    attributes: ['service'],
  },
  'twinguard.sweep.completed': {
    kind: 'counter',
    unit: '{sweep}',
    description: 'Compliance sweeps completed.',
    attributes: [],
  },
  'twinguard.sweep.failed': {
    kind: 'counter',
    unit: '{sweep}',
    description: 'Compliance sweeps ended as failed.',
    attributes: [],
  },
  'twinguard.sweep.devices_evaluated': {
    kind: 'gauge',
    unit: '{device}',
    description: 'Devices evaluated by the last completed sweep.',
    attributes: [],
  },
  'twinguard.sweep.compliant_share': {
    kind: 'gauge',
    unit: '%',
    description: 'Share of evaluated devices without violations in the last completed sweep, 0–100.',
    attributes: [],
  },
  'twinguard.sweep.violations': {
    kind: 'gauge',
    unit: '{finding}',
    description: 'Violations per rule in the last completed sweep.',
    attributes: ['rule'],
  },
  'twinguard.sweep.duration': {
    kind: 'histogram',
    unit: 'ms',
    description: 'Duration of completed sweeps, from start to summary.',
    attributes: [],
  },
  'twinguard.sweep.throttles': {
    kind: 'counter',
    unit: '{response}',
    description: 'Throttled registry answers a completed sweep met (summed from its shards).',
    attributes: [],
  },
  'twinguard.sweep.repairs': {
    kind: 'counter',
    unit: '{repair}',
    description:
      'Repairs and mitigations of completed sweeps, by action and result (createModule:created, applyBaseline:failed, quarantine:applied, …).',
    attributes: ['action', 'result'],
  },
  'twinguard.alerts.delivered': {
    kind: 'counter',
    unit: '{event}',
    description: 'Compliance alerts (CloudEvents) delivered to the configured sink, by sink (webhook, queue, eventGrid).',
    attributes: ['sink'],
  },
  'twinguard.alerts.dead_lettered': {
    kind: 'counter',
    unit: '{event}',
    description: 'Compliance alerts given up after ALERT_MAX_ATTEMPTS failed deliveries (Status deadLettered in AlertOutbox), by sink.',
    attributes: ['sink'],
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRICS;

export const METRIC_NAMES: readonly MetricName[] = Object.keys(METRICS) as MetricName[];

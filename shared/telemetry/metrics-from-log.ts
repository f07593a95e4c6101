/**
 * The metrics carried by TwinGuard's structured log records: the batch summary, the retry notices of the one retry
 * layer (shared/retry.ts), device failures and the sweep's completion summary. Metrics are read off the records that
 * already flow instead of being counted a second time inside the services, so a log line and its metric cannot
 * disagree. Pure: one record in, its points out.
 */
import type { LogFields } from '../logger';
import type { MetricPoint } from '../ports/telemetry';

/** The retry line of each adapter (`retryMessage` of retryTransient) → the service it calls. */
const RETRY_SERVICES: Readonly<Record<string, string>> = {
  'IoT Hub registry call retried': 'iotHub',
  'table storage call retried': 'table',
  'dead-letter write retried': 'table',
  'dead-letter read retried': 'table',
  'queue storage call retried': 'queue',
  'import job call retried': 'importJob',
  'call retried': 'other',
};

const RETRY_KINDS = new Set(['throttled', 'transient', 'timeout']);

const NO_ATTRIBUTES = Object.freeze({});

function numberOf(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

/** Non-negative counts of a `{ key: count }` field (unknown shapes count as nothing). */
function countsOf(value: unknown): [string, number][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value as Record<string, unknown>)
    .map(([key, count]): [string, number] => [key, numberOf(count)])
    .filter(([, count]) => count > 0);
}

function batchPoints(fields: LogFields): MetricPoint[] {
  const points: MetricPoint[] = [];
  const add = (name: MetricPoint['name'], value: number, attributes: Record<string, string> = NO_ATTRIBUTES): void => {
    if (value > 0) points.push({ name, value, attributes });
  };
  const skipped = countsOf(fields['skipped']);
  const securityTwinChanges = numberOf(fields['securityTwinChanges']);
  const deadLettered = numberOf(fields['deadLettered']);
  for (const [category, count] of skipped) add('twinguard.events.processed', count, { category });
  add('twinguard.events.processed', securityTwinChanges, { category: 'securityTwinChange' });
  add('twinguard.events.processed', deadLettered, { category: 'deadLettered' });
  const accounted = skipped.reduce((sum, [, count]) => sum + count, 0) + securityTwinChanges + deadLettered;
  add('twinguard.events.processed', numberOf(fields['received']) - accounted, { category: 'lifecycle' });
  add('twinguard.dead_letters', deadLettered);
  for (const [outcome, count] of countsOf(fields['provisioning'])) add('twinguard.provisioning.outcomes', count, { outcome });
  add('twinguard.twin_reads', numberOf(fields['twinReads']));
  add('twinguard.posture.latest_conflicts', numberOf(fields['latestConflicts']));
  if (typeof fields['durationMs'] === 'number' && fields['durationMs'] >= 0)
    points.push({ name: 'twinguard.batch.duration', value: fields['durationMs'], attributes: NO_ATTRIBUTES });
  return points;
}

function retryPoints(service: string, fields: LogFields): MetricPoint[] {
  const throttled = fields['kind'] === 'throttled' || fields['statusCode'] === 429;
  const declared = typeof fields['kind'] === 'string' ? fields['kind'] : 'transient';
  const kind = throttled ? 'throttled' : RETRY_KINDS.has(declared) ? declared : 'transient';
  const points: MetricPoint[] = [{ name: 'twinguard.outbound.retries', value: 1, attributes: { service, kind } }];
  if (throttled) points.push({ name: 'twinguard.outbound.throttles', value: 1, attributes: { service } });
  return points;
}

function sweepCompletedPoints(fields: LogFields): MetricPoint[] {
  const points: MetricPoint[] = [{ name: 'twinguard.sweep.completed', value: 1, attributes: NO_ATTRIBUTES }];
  const evaluated = fields['evaluated'];
  if (typeof evaluated === 'number')
    points.push({ name: 'twinguard.sweep.devices_evaluated', value: evaluated, attributes: NO_ATTRIBUTES });
  const share = fields['compliantShare'];
  if (typeof share === 'number' && share >= 0 && share <= 1)
    points.push({ name: 'twinguard.sweep.compliant_share', value: Math.round(share * 10_000) / 100, attributes: NO_ATTRIBUTES });
  const rules = fields['rules'];
  if (typeof rules === 'object' && rules !== null) {
    for (const [rule, counts] of Object.entries(rules as Record<string, unknown>)) {
      const violations = (counts as { violations?: unknown } | null)?.violations;
      if (typeof violations === 'number') points.push({ name: 'twinguard.sweep.violations', value: violations, attributes: { rule } });
    }
  }
  if (typeof fields['durationMs'] === 'number')
    points.push({ name: 'twinguard.sweep.duration', value: fields['durationMs'], attributes: NO_ATTRIBUTES });
  const throttles = numberOf(fields['throttles']);
  if (throttles > 0) points.push({ name: 'twinguard.sweep.throttles', value: throttles, attributes: NO_ATTRIBUTES });
  for (const [key, count] of countsOf(fields['repairs'])) {
    const [action = key, result = 'done'] = key.split(':');
    points.push({ name: 'twinguard.sweep.repairs', value: count, attributes: { action, result } });
  }
  return points;
}

function alertPoints(fields: LogFields): MetricPoint[] {
  const attributes = { sink: typeof fields['sink'] === 'string' ? fields['sink'] : 'other' };
  const points: MetricPoint[] = [];
  if (numberOf(fields['sent']) > 0) points.push({ name: 'twinguard.alerts.delivered', value: numberOf(fields['sent']), attributes });
  if (numberOf(fields['deadLettered']) > 0)
    points.push({ name: 'twinguard.alerts.dead_lettered', value: numberOf(fields['deadLettered']), attributes });
  return points;
}

/** The metric points a log record carries; none for most records. */
export function metricsFromLog(message: string, fields: LogFields | undefined): MetricPoint[] {
  const record = fields ?? {};
  const retryService = RETRY_SERVICES[message];
  if (retryService !== undefined) return retryPoints(retryService, record);
  switch (message) {
    case 'batch processed':
      return batchPoints(record);
    case 'device processing failed permanently; events dead-lettered':
      return [{ name: 'twinguard.device.failures', value: 1, attributes: { kind: 'permanent' } }];
    case 'device processing hit a transient failure; batch will be retried':
      return [{ name: 'twinguard.device.failures', value: 1, attributes: { kind: 'transient' } }];
    case 'compliance sweep completed':
      return sweepCompletedPoints(record);
    // Stalled runs end through failSweep too, so this one line counts every failed sweep once.
    case 'compliance sweep failed':
      return [{ name: 'twinguard.sweep.failed', value: 1, attributes: NO_ATTRIBUTES }];
    case 'alerts dispatched':
      return alertPoints(record);
    // A storm's provisioning outcomes land when its import job's results are recorded, not in the batch.
    case 'registration storm import step':
      return countsOf(record['outcomes']).map(([outcome, count]) => ({
        name: 'twinguard.provisioning.outcomes',
        value: count,
        attributes: { outcome },
      }));
    default:
      return [];
  }
}

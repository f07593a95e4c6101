/**
 * The worker's telemetry destinations, consulted by the loggers when they write a record: Application Insights when
 * APPLICATIONINSIGHTS_CONNECTION_STRING is set (started by shared/composition/telemetry.ts), the standalone host's
 * /metrics registry, both or none. With none (the default) a record costs one size check: nothing is mapped,
 * scrubbed or loaded.
 */
import type { LogLevel } from '../log-level';
import type { LogFields } from '../logger';
import type { Telemetry } from '../ports/telemetry';
import { metricsFromLog } from './metrics-from-log';
import { scrubAttributes, scrubText } from './scrub-attributes';

const sinks = new Set<Telemetry>();
let logRecordsExported = true;

/** Metrics always; log records only where no host ships the lines already (shared/telemetry/log-record-export.ts). */
export function setLogRecordExport(enabled: boolean): void {
  logRecordsExported = enabled;
}

/** Adds a destination; the returned function removes it again. */
export function addTelemetrySink(sink: Telemetry): () => void {
  sinks.add(sink);
  return () => {
    sinks.delete(sink);
  };
}

export function hasTelemetrySinks(): boolean {
  return sinks.size > 0;
}

/** The metrics a record carries, whatever LOG_LEVEL is (a WARN-only log must not lose the counts of INFO summaries). */
export function recordMetricsOf(message: string, fields: LogFields | undefined): void {
  if (sinks.size === 0) return;
  const points = metricsFromLog(message, fields);
  for (const point of points) for (const sink of sinks) sink.metric(point);
}

/** The record itself, as a log record with scrubbed attributes (Application Insights `traces`, customDimensions). */
export function exportLogRecord(level: LogLevel, message: string, fields: LogFields | undefined): void {
  if (sinks.size === 0 || !logRecordsExported) return;
  const record = { level, message: scrubText(message), attributes: scrubAttributes(fields ?? {}) };
  for (const sink of sinks) sink.log(record);
}

export async function flushTelemetry(): Promise<void> {
  await Promise.all([...sinks].map((sink) => sink.flush()));
}

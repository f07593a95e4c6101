/**
 * Where metrics and log records go besides the log lines: Application Insights through OpenTelemetry
 * (shared/adapters/otel-telemetry.ts), the standalone host's Prometheus route (shared/telemetry/metrics-registry.ts),
 * or nowhere ({@link noTelemetry}, the default). Attributes reaching a Telemetry have been scrubbed
 * (shared/telemetry/scrub-attributes.ts): no key, connection string or SAS token.
 */
import type { LogLevel } from '../log-level';
import type { MetricName } from '../telemetry/metric-catalogue';

export type MetricAttributes = Readonly<Record<string, string>>;
export type LogAttributes = Readonly<Record<string, string | number | boolean>>;

export interface MetricPoint {
  readonly name: MetricName;
  /** Counters: the increment; histograms: one sample; gauges: the current value. */
  readonly value: number;
  readonly attributes: MetricAttributes;
}

export interface TelemetryLogRecord {
  readonly level: LogLevel;
  readonly message: string;
  readonly attributes: LogAttributes;
}

export interface Telemetry {
  metric(point: MetricPoint): void;
  log(record: TelemetryLogRecord): void;
  /** Sends what is buffered; resolves when done or given up (never rejects). */
  flush(): Promise<void>;
}

export const noTelemetry: Telemetry = {
  metric: () => undefined,
  log: () => undefined,
  flush: () => Promise.resolve(),
};

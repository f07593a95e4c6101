/**
 * The Telemetry port over the OpenTelemetry API: catalogue metrics as instruments of one meter (counter, histogram,
 * gauge), log records through the logs API. Whichever SDK registered the global providers (the Azure Monitor distro,
 * shared/adapters/azure-monitor-telemetry.ts) exports them; the OpenTelemetry packages are loaded only by whoever
 * constructs this (dynamic import in shared/composition/telemetry.ts).
 */
import type { Attributes, Counter, Gauge, Histogram, Meter } from '@opentelemetry/api';
import { SeverityNumber, type Logger as OtelLogger } from '@opentelemetry/api-logs';
import type { LogLevel } from '../log-level';
import type { MetricPoint, Telemetry, TelemetryLogRecord } from '../ports/telemetry';
import { METRICS, type MetricName } from '../telemetry/metric-catalogue';

type Instrument = Counter | Histogram | Gauge;

const SEVERITY: Readonly<Record<LogLevel, SeverityNumber>> = {
  debug: SeverityNumber.DEBUG,
  info: SeverityNumber.INFO,
  warn: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
};

export class OpenTelemetryTelemetry implements Telemetry {
  private readonly instruments = new Map<MetricName, Instrument>();

  constructor(
    private readonly meter: Meter,
    private readonly logger: OtelLogger,
    private readonly flushAll: () => Promise<void>,
  ) {}

  private instrument(name: MetricName): Instrument {
    let instrument = this.instruments.get(name);
    if (instrument) return instrument;
    const { kind, unit, description } = METRICS[name];
    const options = { unit, description };
    instrument =
      kind === 'counter'
        ? this.meter.createCounter(name, options)
        : kind === 'histogram'
          ? this.meter.createHistogram(name, options)
          : this.meter.createGauge(name, options);
    this.instruments.set(name, instrument);
    return instrument;
  }

  metric(point: MetricPoint): void {
    const definition = METRICS[point.name];
    const attributes: Attributes = {};
    for (const key of definition.attributes) {
      const value = point.attributes[key];
      if (value !== undefined) attributes[key] = value;
    }
    const instrument = this.instrument(point.name);
    if (definition.kind === 'counter') (instrument as Counter).add(point.value, attributes);
    else (instrument as Histogram | Gauge).record(point.value, attributes);
  }

  log(record: TelemetryLogRecord): void {
    this.logger.emit({
      severityNumber: SEVERITY[record.level],
      severityText: record.level.toUpperCase(),
      body: record.message,
      attributes: { ...record.attributes },
    });
  }

  async flush(): Promise<void> {
    try {
      await this.flushAll();
    } catch {
      // Telemetry never fails the work it describes.
    }
  }
}

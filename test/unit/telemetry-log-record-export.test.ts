import { loadConfig } from '../../shared/config/load-config';
import type { MetricPoint, Telemetry, TelemetryLogRecord } from '../../shared/ports/telemetry';
import { shouldExportLogRecords, type LogRecordExportMode } from '../../shared/telemetry/log-record-export';
import { addTelemetrySink, exportLogRecord, recordMetricsOf, setLogRecordExport } from '../../shared/telemetry/telemetry-hub';

describe('shouldExportLogRecords', () => {
  it.each<[LogRecordExportMode, boolean, boolean]>([
    ['auto', true, false], // Azure Functions: the host already ships every line to traces.
    ['auto', false, true], // standalone host: the export is the only copy.
    ['on', true, true],
    ['on', false, true],
    ['off', true, false],
    ['off', false, false],
  ])('%s with lines shipped by the host = %s → %s', (mode, shippedByHost, expected) => {
    expect(shouldExportLogRecords(mode, shippedByHost)).toBe(expected);
  });
});

describe('the telemetry hub with log record export off', () => {
  const logs: TelemetryLogRecord[] = [];
  const metrics: MetricPoint[] = [];
  const sink: Telemetry = {
    metric: (point) => void metrics.push(point),
    log: (record) => void logs.push(record),
    flush: () => Promise.resolve(),
  };

  afterEach(() => setLogRecordExport(true));

  it('still records the metrics a line carries but exports no log record', () => {
    const remove = addTelemetrySink(sink);
    try {
      setLogRecordExport(false);
      const fields = { received: 3, skipped: {}, securityTwinChanges: 1, deadLettered: 1, durationMs: 5 };
      recordMetricsOf('batch processed', fields);
      exportLogRecord('info', 'batch processed', fields);
      expect(metrics.length).toBeGreaterThan(0);
      expect(logs).toEqual([]);
      setLogRecordExport(true);
      exportLogRecord('info', 'batch processed', fields);
      expect(logs).toHaveLength(1);
    } finally {
      remove();
    }
  });
});

describe('TELEMETRY_LOG_RECORDS', () => {
  const base = {
    IOTHUB_CONNECTION_STRING: 'HostName=contoso.azure-devices.net;SharedAccessKeyName=service;SharedAccessKey=c2VjcmV0',
    IOTHUB_EVENTS_CONNECTION:
      'Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=service;SharedAccessKey=c2VjcmV0;EntityPath=contoso',
    POSTURE_STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
  };
  it.each([
    [undefined, 'auto'],
    ['ON', 'on'],
    ['off', 'off'],
  ])('%s reads as %s', (value, expected) => {
    const config = loadConfig(value === undefined ? base : { ...base, TELEMETRY_LOG_RECORDS: value });
    expect(config.telemetry.logRecords).toBe(expected);
  });
});

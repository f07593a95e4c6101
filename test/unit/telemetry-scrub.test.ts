/** No key, connection string or SAS token leaves the process as a telemetry attribute (shared/telemetry/scrub-attributes.ts). */
import { loggerFor } from '../../shared/triggers/invocation-logger';
import type { MetricPoint, Telemetry, TelemetryLogRecord } from '../../shared/ports/telemetry';
import { scrubAttributes } from '../../shared/telemetry/scrub-attributes';
import { addTelemetrySink } from '../../shared/telemetry/telemetry-hub';

const KEY = 'c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5MDA=';
const IKEY = '11111111-2222-3333-4444-555555555555';

describe('scrubAttributes', () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      'keeps ids and counts',
      { invocationId: 'i-1', deviceId: "d'1", received: 3, ok: true },
      { invocationId: 'i-1', deviceId: "d'1", received: 3, ok: true },
    ],
    [
      'drops secret-named fields',
      { connectionString: 'x', sharedAccessKey: 'x', password: 'x', sasToken: 'x', functionKey: 'x', code: 'x' },
      {},
    ],
    [
      'redacts key material in values',
      { error: `failed: HostName=h;SharedAccessKeyName=p;SharedAccessKey=${KEY}` },
      { error: 'failed: HostName=h;SharedAccessKeyName=p;SharedAccessKey=***' },
    ],
    [
      'redacts SAS signatures',
      { url: `https://a.blob.core.windows.net/c?sv=1&sig=${KEY}` },
      { url: 'https://a.blob.core.windows.net/c?sv=1&sig=***' },
    ],
    [
      'redacts instrumentation keys',
      { error: `InstrumentationKey=${IKEY};IngestionEndpoint=x` },
      { error: 'InstrumentationKey=***;IngestionEndpoint=x' },
    ],
    ['redacts bearer tokens', { error: 'Authorization: Bearer eyJ.abc.def' }, { error: 'Authorization: Bearer ***' }],
    ['redacts function keys in URLs', { url: `/api/x?code=${KEY}` }, { url: '/api/x?code=***' }],
    [
      'nested objects lose secret keys and become JSON',
      { nested: { deviceId: 'd', accountKey: KEY, deep: { token: 't' } } },
      { nested: '{"deviceId":"d","deep":{}}' },
    ],
    ['errors become their message', { error: new Error(`AccountKey=${KEY}`) }, { error: '"AccountKey=***"' }],
    ['drops undefined and functions', { a: undefined, b: () => 1, c: null }, {}],
  ])('%s', (_name, fields, expected) => {
    expect(scrubAttributes(fields)).toEqual(expected);
  });

  it('bounds long values', () => {
    const long = scrubAttributes({ text: 'x'.repeat(20_000) })['text'] as string;
    expect(long.length).toBeLessThanOrEqual(8192);
  });
});

describe('invocation logger with telemetry on', () => {
  it('exports records with invocation and device ids, never a secret, and metrics whatever LOG_LEVEL', () => {
    const records: TelemetryLogRecord[] = [];
    const points: MetricPoint[] = [];
    const sink: Telemetry = { metric: (p) => points.push(p), log: (r) => records.push(r), flush: () => Promise.resolve() };
    const remove = addTelemetrySink(sink);
    try {
      const lines: string[] = [];
      const context = {
        invocationId: 'inv-42',
        functionName: 'iothub-events',
        debug: (t: string) => lines.push(t),
        log: (t: string) => lines.push(t),
        warn: (t: string) => lines.push(t),
        error: (t: string) => lines.push(t),
      };
      const logger = loggerFor(context, { partitionId: '0' });
      logger.warn('device processing failed', {
        deviceId: 'dev-1',
        error: `HostName=h;SharedAccessKey=${KEY}`,
        connectionString: 'HostName=h',
      });
      logger.debug('batch processed', { received: 1, securityTwinChanges: 1, durationMs: 5 }); // below LOG_LEVEL=info
      expect(records).toHaveLength(1);
      expect(records[0]).toEqual({
        level: 'warn',
        message: 'device processing failed',
        attributes: {
          invocationId: 'inv-42',
          functionName: 'iothub-events',
          partitionId: '0',
          deviceId: 'dev-1',
          error: 'HostName=h;SharedAccessKey=***',
        },
      });
      expect(JSON.stringify(records)).not.toContain(KEY);
      expect(points.map((p) => p.name)).toEqual(['twinguard.events.processed', 'twinguard.batch.duration']);
      expect(lines).toHaveLength(1);
    } finally {
      remove();
    }
  });
});

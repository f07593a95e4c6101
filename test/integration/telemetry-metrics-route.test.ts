/** `GET /metrics` of the standalone host's HTTP server, scraped over HTTP, behind the function key. */
import { HttpHost } from '../../host/http-host';
import { silentLogger } from '../../shared/logger';
import { loggerFor } from '../../shared/triggers/invocation-logger';
import { MetricsRegistry } from '../../shared/telemetry/metrics-registry';
import { addTelemetrySink } from '../../shared/telemetry/telemetry-hub';

describe('GET /metrics', () => {
  const registry = new MetricsRegistry();
  const host = new HttpHost({
    routes: [
      { functionName: 'ping', methods: ['GET'], route: 'ping', authLevel: 'function', handler: () => ({ status: 200, body: 'pong' }) },
    ],
    functionKey: 'the-key',
    logger: silentLogger,
    metrics: () => registry.render(),
  });
  let remove: () => void;

  beforeAll(async () => {
    remove = addTelemetrySink(registry);
    await host.start();
  });
  afterAll(async () => {
    remove();
    await host.stop();
  });

  it('answers 401 without the key and the Prometheus text with it', async () => {
    const nop = (): void => undefined;
    loggerFor({ invocationId: 'i', debug: nop, log: nop, warn: nop, error: nop }).info('batch processed', {
      received: 3,
      skipped: { telemetry: 2 },
      deadLettered: 1,
      durationMs: 20,
    });
    expect((await fetch(`${host.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${host.url}/metrics`, { headers: { 'x-functions-key': 'wrong' } })).status).toBe(401);
    const response = await fetch(`${host.url}/metrics`, { headers: { 'x-functions-key': 'the-key' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain('twinguard_events_processed_total{category="telemetry"} 2');
    expect(text).toContain('twinguard_dead_letters_total 1');
    expect(text).toContain('twinguard_batch_duration_count 1');
    expect((await fetch(`${host.url}/metrics`, { method: 'POST', headers: { 'x-functions-key': 'the-key' } })).status).toBe(405);
  });
});

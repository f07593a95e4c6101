/**
 * The Application Insights path for real: a worker process (the build, dist/; `npm run build` first) starts the Azure
 * Monitor distro through startAzureMonitorTelemetry and logs through the invocation logger; a local HTTPS server
 * stands in as the ingestion endpoint and receives `/v2.1/track` posts with our metrics and log records.
 *
 * Why HTTPS and a child process: the exporter rewrites an `http://` IngestionEndpoint to `https://`
 * (@azure/monitor-opentelemetry-exporter dist/commonjs/utils/connectionStringParser.js, sanitizeUrl), so the stand-in
 * serves TLS with a throw-away certificate (openssl) that the child trusts through NODE_EXTRA_CA_CERTS; and its sender
 * is loaded with a dynamic import(), which jest's module sandbox refuses (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING_FLAG).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';

interface Envelope {
  tags?: Record<string, string>;
  data?: {
    baseType?: string;
    baseData?: { message?: string; properties?: Record<string, string>; metrics?: { name: string; value: number }[] };
  };
}

const root = path.join(__dirname, '..', '..');
const KEY = 'c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5MDA=';

const CHILD = `
const [adapterPath, loggerPath, hubPath, connectionString, key] = process.argv.slice(1);
(async () => {
  const { startAzureMonitorTelemetry } = require(adapterPath);
  const { loggerFor } = require(loggerPath);
  const { addTelemetrySink } = require(hubPath);
  const started = await startAzureMonitorTelemetry({ connectionString, disableOfflineStorage: true });
  addTelemetrySink(started.telemetry);
  const nop = () => undefined;
  const logger = loggerFor({ invocationId: 'inv-7', functionName: 'iothub-events', debug: nop, log: nop, warn: nop, error: nop });
  logger.info('batch processed', { received: 4, skipped: { telemetry: 2 }, securityTwinChanges: 1, deadLettered: 1, durationMs: 12 });
  logger.warn('device processing failed permanently; events dead-lettered', {
    deviceId: 'dev-9', error: 'HostName=h;SharedAccessKey=' + key, connectionString: 'HostName=h;SharedAccessKey=' + key,
  });
  await started.shutdown();
  process.exit(0);
})().catch((err) => { console.error(err); process.exit(1); });
`;

// A handler bound to the host's traceparent makes an HTTP call: its dependency must land in the host's operation.
const TRACED_CHILD = `
const [adapterPath, connectionString, traceParent] = process.argv.slice(1);
(async () => {
  const { startAzureMonitorTelemetry } = require(adapterPath);
  const started = await startAzureMonitorTelemetry({ connectionString, disableOfflineStorage: true });
  const http = require('node:http');
  const target = http.createServer((req, res) => res.end('ok'));
  await new Promise((resolve) => target.listen(0, '127.0.0.1', resolve));
  const call = () => new Promise((resolve, reject) => {
    http.get('http://127.0.0.1:' + target.address().port + '/registry-call', (res) => { res.resume(); res.on('end', resolve); }).on('error', reject);
  });
  await started.bindTraceContext(call, traceParent, undefined)();
  target.close();
  await started.shutdown();
  process.exit(0);
})().catch((err) => { console.error(err); process.exit(1); });
`;

describe('Application Insights through OpenTelemetry', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'twinguard-ai-'));
  const envelopes: Envelope[] = [];
  const paths: string[] = [];
  let server: Server;

  beforeAll(async () => {
    if (!existsSync(path.join(root, 'dist', 'shared', 'adapters', 'azure-monitor-telemetry.js')))
      throw new Error('run `npm run build` first');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    server = createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        paths.push(req.url ?? '');
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const parsed = JSON.parse(body.toString('utf8')) as Envelope | Envelope[];
        envelopes.push(...(Array.isArray(parsed) ? parsed : [parsed]));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ itemsReceived: 1, itemsAccepted: 1, errors: [] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('posts metrics (customMetrics) and log records (traces) with invocation and device ids, no secret', async () => {
    const port = (server.address() as AddressInfo).port;
    const connectionString = `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:${port}/`;
    const dist = (file: string): string => path.join(root, 'dist', 'shared', file);
    const child = spawn(
      process.execPath,
      [
        '-e',
        CHILD,
        dist('adapters/azure-monitor-telemetry.js'),
        dist('triggers/invocation-logger.js'),
        dist('telemetry/telemetry-hub.js'),
        connectionString,
        KEY,
      ],
      {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: path.join(dir, 'cert.pem'), APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL: 'true' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });

    expect(paths.length).toBeGreaterThan(0);
    expect(paths.every((p) => p.startsWith('/v2.1/track'))).toBe(true);
    const metrics = envelopes.filter((e) => e.data?.baseType === 'MetricData').flatMap((e) => e.data?.baseData?.metrics ?? []);
    expect(metrics.map((m) => m.name)).toEqual(
      expect.arrayContaining([
        'twinguard.events.processed',
        'twinguard.dead_letters',
        'twinguard.batch.duration',
        'twinguard.device.failures',
      ]),
    );
    const traces = envelopes.filter((e) => e.data?.baseType === 'MessageData');
    const failure = traces.find((e) => e.data?.baseData?.message === 'device processing failed permanently; events dead-lettered');
    expect(failure?.data?.baseData?.properties).toMatchObject({
      invocationId: 'inv-7',
      deviceId: 'dev-9',
      error: 'HostName=h;SharedAccessKey=***',
    });
    expect(failure?.data?.baseData?.properties).not.toHaveProperty('connectionString');
    expect(JSON.stringify(envelopes)).not.toContain(KEY);
  }, 60_000);

  it('puts the dependency calls of an invocation into the trace the Functions host passed in traceContext', async () => {
    const port = (server.address() as AddressInfo).port;
    const connectionString = `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:${port}/`;
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const child = spawn(
      process.execPath,
      [
        '-e',
        TRACED_CHILD,
        path.join(root, 'dist', 'shared', 'adapters', 'azure-monitor-telemetry.js'),
        connectionString,
        `00-${traceId}-00f067aa0ba902b7-01`,
      ],
      {
        // The distro samples at 5 traces/s by default (rate limited, its first second may drop a span): the test
        // is about which trace a span joins, so it records every span.
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: path.join(dir, 'cert.pem'),
          APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL: 'true',
          OTEL_TRACES_SAMPLER: 'always_on',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const dependency = envelopes.find(
      (e) => e.data?.baseType === 'RemoteDependencyData' && JSON.stringify(e.data).includes('/registry-call'),
    );
    expect(dependency?.tags?.['ai.operation.id']).toBe(traceId);
    expect(dependency?.tags?.['ai.operation.parentId']).toBe('00f067aa0ba902b7');
  }, 60_000);
});

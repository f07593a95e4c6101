/**
 * Mitigations and alerts through the worker's composition root, configured by settings only: a sweep (its services
 * from getSweepServices) quarantines and notifies, POST /api/mitigations goes through getMitigationsApiServices, and
 * the alerts-dispatch timer delivers the outbox to a real local webhook, signed with the configured secret.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest, InvocationContext, type Timer } from '@azure/functions';
import { makeAlertsDispatchHandler } from '../../functions/alerts-dispatch';
import { makeMitigationsHandler } from '../../functions/mitigations';
import { MemorySweepQueue } from '../../shared/adapters/memory/memory-sweep-queue';
import { ALERT_EVENT_TYPES, type CloudEvent } from '../../shared/domain/alerts/cloud-event';
import { SIGNATURE_HEADER, verifySignature } from '../../shared/domain/alerts/webhook-signature';
import { closeServices, getAlertDispatchServices, getMitigationsApiServices, getSweepServices } from '../../shared/container';
import { handleSweepMessage } from '../../shared/services/sweep/handle-sweep-message';
import { startSweep } from '../../shared/services/sweep/start-sweep';
import { addDevice, type FleetHub } from '../../testing/sweep-fleet';
import { startRegistryOnlyHub, type RegistryOnlyHub } from '../../testing/registry-only-hub';
import { startAzurite, type AzuriteInstance } from '../support/azurite';

const SECRET = 'composition-webhook-secret';
const savedEnv = { ...process.env };
const context = (): InvocationContext => new InvocationContext({ invocationId: 'inv-1', logHandler: () => undefined });

describe('mitigations and alerts through the composition root', () => {
  let azurite: AzuriteInstance;
  let hub: RegistryOnlyHub;
  let server: Server;
  const bodies: { body: string; signature: string | undefined }[] = [];

  beforeAll(async () => {
    azurite = await startAzurite({ queue: true, blob: true });
    hub = await startRegistryOnlyHub('response-hub');
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        bodies.push({ body: Buffer.concat(chunks).toString('utf8'), signature: req.headers[SIGNATURE_HEADER] as string | undefined });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const suffix = Math.random().toString(36).slice(2, 8);
    process.env = {
      ...savedEnv,
      IOTHUB_CONNECTION_STRING: hub.connectionString(),
      IOTHUB_SERVICE_ENDPOINT: hub.url,
      IOTHUB_EVENTS_CONNECTION:
        'Endpoint=sb://composition.servicebus.windows.net/;SharedAccessKeyName=service;SharedAccessKey=unused;EntityPath=response-hub',
      AzureWebJobsStorage: azurite.connectionString,
      SWEEP_REPAIR_RULES: 'none',
      // The budgets' defaults (10 queries a minute) would make this small sweep wait for tokens.
      SWEEP_QUERIES_PER_MINUTE: '100000',
      SWEEP_REGISTRY_OPS_PER_MINUTE: '100000',
      COMPLIANCE_SWEEP_SHARDS: '2',
      SWEEP_MITIGATION_RULES: 'agent-failed:quarantine+notify',
      ALERT_SINK: 'webhook',
      ALERT_WEBHOOK_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/twinguard`,
      ALERT_WEBHOOK_SECRET: SECRET,
      MITIGATION_AUDIT_TABLE: `Audit${suffix}`,
      ALERT_OUTBOX_TABLE: `Outbox${suffix}`,
      COMPLIANCE_RUNS_TABLE: `Runs${suffix}`,
      COMPLIANCE_FINDINGS_TABLE: `Findings${suffix}`,
    };
  });
  afterAll(async () => {
    await closeServices();
    process.env = { ...savedEnv };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await hub.stop();
    await azurite.stop();
  });

  it('sweeps, mitigates on demand and delivers the alerts, wired from settings alone', async () => {
    const fleet = { registry: hub.registry, clock: { now: Date.now() } } as unknown as FleetHub;
    addDevice(fleet, 'healthy-1', 'healthy');
    addDevice(fleet, 'failed-1', 'failed');
    addDevice(fleet, 'drifted-1', 'drifted');

    const queue = new MemorySweepQueue();
    const sweep = { ...(await getSweepServices()), queue };
    await startSweep({ sweepId: 'sw-comp', trigger: 'api', dryRun: false }, sweep);
    await queue.drain((message) => handleSweepMessage(message, sweep).then(() => undefined));
    const run = (await sweep.sweeps.getRun('sw-comp'))?.value;
    expect(run?.status).toBe('completed');
    expect(run?.summary?.counters.repairs).toEqual({ 'quarantine:applied': 1, 'notify:applied': 1 });
    expect((hub.registry.getTwin('failed-1') as unknown as { tags: unknown }).tags).toEqual({ twinguard: { quarantine: true } });

    const handler = makeMitigationsHandler(getMitigationsApiServices, () => true);
    const response = await handler(
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost/api/mitigations',
        body: { string: JSON.stringify({ deviceIds: ['drifted-1'], actions: ['quarantine'] }) },
        headers: { 'x-twinguard-key-name': 'ops' },
      }),
      context(),
    );
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({ results: [{ deviceId: 'drifted-1', action: 'quarantine', result: 'applied' }] });
    const audit = await (
      await getMitigationsApiServices()
    ).auditReader.list({ month: new Date().toISOString().slice(0, 7).replace('-', ''), limit: 10 });
    expect(audit.entries.map((entry) => [entry.who, entry.deviceId, entry.action])).toEqual(
      expect.arrayContaining([
        ['key:ops', 'drifted-1', 'quarantine'],
        ['sweep', 'failed-1', 'quarantine'],
        ['sweep', 'failed-1', 'notify'],
      ]),
    );

    expect(await getAlertDispatchServices()).toBeDefined();
    await makeAlertsDispatchHandler(getAlertDispatchServices)({} as Timer, context());
    expect(bodies).toHaveLength(1);
    const delivered = bodies[0] as { body: string; signature: string | undefined };
    expect(verifySignature(delivered.body, SECRET, delivered.signature)).toBe(true);
    const events = JSON.parse(delivered.body) as CloudEvent[];
    expect(events.map((event) => [event.type, event.subject]).sort()).toEqual([
      [ALERT_EVENT_TYPES.deviceNonCompliant, 'drifted-1'],
      [ALERT_EVENT_TYPES.deviceNonCompliant, 'failed-1'],
      [ALERT_EVENT_TYPES.mitigationNotify, 'failed-1'],
    ]);
    expect(events.every((event) => event.source === '/twinguard/response-hub.azure-devices.net')).toBe(true);
  });
});

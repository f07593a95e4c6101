/**
 * Storage trouble through the real @azure/data-tables client, with Azurite behind a proxy that can be switched to
 * answering 503, to hanging, or back: retryTransient is the one retry layer, so the table service sees exactly one
 * request per attempt, a call gives up within its budget plus one attempt's timeout, and the whole event invocation
 * (and an HTTP API request, with its shorter budget) fails in bounded time with a TransientError.
 */
import { HttpRequest, InvocationContext } from '@azure/functions';
import { makeDevicePostureHandler } from '../../functions/device-posture';
import { makeIotHubEventsHandler } from '../../functions/iothub-events';
import { makeGetSweepHandler } from '../../functions/sweeps-get';
import { StorageSweepQueue } from '../../shared/adapters/storage-sweep-queue';
import { createTableClient, ensureTables } from '../../shared/adapters/table-clients';
import { TablePostureStore } from '../../shared/adapters/table-posture-store';
import { eventServicesOf } from '../../shared/composition/event-services';
import { buildServiceGraph, type ServiceGraph } from '../../shared/composition/service-graph';
import { loadConfig } from '../../shared/config/load-config';
import { closeServices, getPostureReader, getServiceGraph, getSweepApiServices } from '../../shared/container';
import type { LatestPosture } from '../../shared/domain/types';
import { OutboundTimeoutError, TransientError } from '../../shared/errors';
import type { LogFields } from '../../shared/logger';
import { BatchRetryRequiredError } from '../../shared/services/process-event-batch';
import { startRegistryOnlyHub, type RegistryOnlyHub } from '../../testing/registry-only-hub';
import { startAzurite, type AzuriteInstance } from '../support/azurite';
import { caught } from '../support/caught';
import { startFaultProxy, throughProxy, type FaultProxy } from '../support/fault-proxy';
import { deviceCreatedEvent, hostBatch } from '../fixtures/host-batches';

const BUDGET_MS = 2000;
const TIMEOUT_MS = 1000;
/** Scheduling and connection set-up on a loaded CI machine. */
const SLACK_MS = 750;
const SERVER_BUSY = {
  kind: 'fail',
  status: 503,
  headers: { 'content-type': 'application/json;odata=minimalmetadata' },
  body: JSON.stringify({ 'odata.error': { code: 'ServerBusy', message: { lang: 'en-US', value: 'The server is busy.' } } }),
} as const;

let azurite: AzuriteInstance;
let proxy: FaultProxy;
let queueProxy: FaultProxy;
let hub: RegistryOnlyHub;
let proxiedStorage: string;

function posture(deviceId: string): LatestPosture {
  return {
    deviceId,
    moduleId: 'DefenderIotMicroAgent',
    modulePresent: true,
    deviceDeleted: false,
    configurationState: 'inSync',
    driftedKeys: [],
    invalidFields: [],
    agentState: 'success',
    updatedAt: new Date().toISOString(),
  };
}

/** `gave up after N attempts` → N */
function attemptsOf(error: Error): number {
  const match = /gave up after (\d+) attempts/.exec(error.message);
  if (!match) throw new Error(`not a give-up message: ${error.message}`);
  return Number(match[1]);
}

async function timed(action: () => Promise<unknown>): Promise<{ error: Awaited<ReturnType<typeof caught>>; elapsedMs: number }> {
  const startedAt = Date.now();
  const error = await caught(action);
  return { error, elapsedMs: Date.now() - startedAt };
}

beforeAll(async () => {
  azurite = await startAzurite({ queue: true });
  proxy = await startFaultProxy(new URL(azurite.tableEndpoint).origin);
  queueProxy = await startFaultProxy(new URL(azurite.queueEndpoint!).origin);
  proxiedStorage = throughProxy(azurite.connectionString, 'TableEndpoint', proxy);
  hub = await startRegistryOnlyHub('storage-outage-hub');
});

// Each test starts with the proxy passing and an empty request log; the next describe's set-up runs in pass mode too.
beforeEach(() => {
  proxy.requests.length = 0;
  queueProxy.requests.length = 0;
});
afterEach(() => {
  proxy.setMode({ kind: 'pass' });
  queueProxy.setMode({ kind: 'pass' });
});

afterAll(async () => {
  await hub?.stop();
  await proxy?.stop();
  await queueProxy?.stop();
  await azurite?.stop();
});

describe('TablePostureStore over a failing table endpoint', () => {
  let store: TablePostureStore;
  const warnings: LogFields[] = [];

  beforeAll(async () => {
    const latest = createTableClient({ connectionString: proxiedStorage }, 'OutageLatest', { timeoutMs: TIMEOUT_MS });
    const history = createTableClient({ connectionString: proxiedStorage }, 'OutageHistory', { timeoutMs: TIMEOUT_MS });
    await ensureTables([latest, history]);
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      error: () => undefined,
      warn: (_m: string, f?: LogFields) => warnings.push(f ?? {}),
    };
    store = new TablePostureStore(latest, history, { retryBudgetMs: BUDGET_MS, logger });
  });
  beforeEach(() => {
    warnings.length = 0;
  });

  it('a persistent 503 fails the write with TransientError within the budget, one request per attempt (no SDK retries)', async () => {
    proxy.setMode(SERVER_BUSY);
    const { error, elapsedMs } = await timed(() => store.writeLatest(posture('busy-1'), undefined));

    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).statusCode).toBe(503);
    expect((error as TransientError).retryAfterMs).toBeGreaterThanOrEqual(1000);
    const attempts = attemptsOf(error);
    expect(attempts).toBeGreaterThan(1);
    expect(proxy.requests.map((r) => r.method)).toEqual(Array<string>(attempts).fill('POST'));
    expect(warnings).toHaveLength(attempts - 1);
    expect(warnings[0]).toMatchObject({ operation: 'createLatest', deviceId: 'busy-1', statusCode: 503, kind: 'transient' });
    expect(elapsedMs).toBeLessThan(BUDGET_MS + TIMEOUT_MS + SLACK_MS);
  });

  it('a hanging endpoint: each attempt is abandoned after the timeout, and the write fails within budget + one timeout', async () => {
    proxy.setMode({ kind: 'hang' });
    const { error, elapsedMs } = await timed(() => store.writeLatest(posture('hung-1'), undefined));

    expect(error).toBeInstanceOf(TransientError);
    expect(error.cause).toBeInstanceOf(OutboundTimeoutError);
    expect(error.message).toContain(`got no answer within ${TIMEOUT_MS} ms`);
    expect(proxy.requests).toHaveLength(attemptsOf(error));
    expect(elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(elapsedMs).toBeLessThan(BUDGET_MS + TIMEOUT_MS + SLACK_MS);
  });

  it('waits at least the x-ms-retry-after-ms the service asks for, then succeeds', async () => {
    proxy.nextRequests(1, { ...SERVER_BUSY, headers: { ...SERVER_BUSY.headers, 'x-ms-retry-after-ms': '1200' } });
    await expect(store.writeLatest(posture('paced-1'), undefined)).resolves.toBe('written');

    const [first, second] = proxy.requests;
    expect(proxy.requests.map((r) => r.mode)).toEqual(['fail', 'pass']);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1200);
  });
});

describe('StorageSweepQueue over a failing queue endpoint', () => {
  it.each([
    ['answers 503', { kind: 'fail', status: 503 } as const, undefined],
    ['hangs', { kind: 'hang' } as const, OutboundTimeoutError],
  ])('%s: send fails with TransientError within budget + one timeout, one request per attempt', async (_label, mode, cause) => {
    const queue = StorageSweepQueue.fromConnectionString(
      throughProxy(azurite.connectionString, 'QueueEndpoint', queueProxy),
      'outage-queue',
      {
        retryBudgetMs: BUDGET_MS,
        timeoutMs: TIMEOUT_MS,
      },
    );
    queueProxy.setMode(mode);
    const { error, elapsedMs } = await timed(() => queue.send({ kind: 'plan', sweepId: 'outage' }));

    expect(error).toBeInstanceOf(TransientError);
    if (cause) expect(error.cause).toBeInstanceOf(cause);
    expect(queueProxy.requests).toHaveLength(attemptsOf(error));
    expect(elapsedMs).toBeLessThan(BUDGET_MS + TIMEOUT_MS + SLACK_MS);
  });
});

describe('the event invocation while storage answers 503', () => {
  let graph: ServiceGraph;

  beforeAll(async () => {
    graph = await buildServiceGraph(
      loadConfig({
        IOTHUB_CONNECTION_STRING: hub.connectionString(),
        IOTHUB_SERVICE_ENDPOINT: hub.url,
        IOTHUB_EVENTS_CONNECTION:
          'Endpoint=sb://outage.servicebus.windows.net/;SharedAccessKeyName=service;SharedAccessKey=unused;EntityPath=outage-hub',
        AzureWebJobsStorage: proxiedStorage,
        REGISTRY_RETRY_BUDGET_MS: String(BUDGET_MS),
        OUTBOUND_TIMEOUT_MS: String(TIMEOUT_MS),
      }),
    );
  });
  afterAll(async () => {
    await graph?.close();
  });

  it('fails the whole batch with a TransientError within budget + one timeout', async () => {
    hub.registry.createDevice({ deviceId: 'outage-device-1' });
    const handler = makeIotHubEventsHandler(() => Promise.resolve(eventServicesOf(graph)));
    const batch = hostBatch([deviceCreatedEvent({ deviceId: 'outage-device-1' })]);
    proxy.setMode(SERVER_BUSY);

    const { error, elapsedMs } = await timed(() =>
      handler(batch.messages, new InvocationContext({ triggerMetadata: batch.triggerMetadata, logHandler: () => undefined })),
    );
    expect(error instanceof TransientError || error instanceof BatchRetryRequiredError).toBe(true);
    expect(elapsedMs).toBeLessThan(BUDGET_MS + TIMEOUT_MS + SLACK_MS);
    expect(proxy.requests.length).toBeGreaterThan(1);
    expect(proxy.requests.every((r) => r.mode === 'fail')).toBe(true);
  });
});

describe('the HTTP API while storage answers 503 (defect 7)', () => {
  const savedEnv = { ...process.env };
  const API_BUDGET_MS = 1500;

  beforeAll(async () => {
    process.env = {
      ...savedEnv,
      IOTHUB_CONNECTION_STRING: hub.connectionString(),
      IOTHUB_SERVICE_ENDPOINT: hub.url,
      IOTHUB_EVENTS_CONNECTION:
        'Endpoint=sb://outage.servicebus.windows.net/;SharedAccessKeyName=service;SharedAccessKey=unused;EntityPath=outage-hub',
      AzureWebJobsStorage: proxiedStorage,
      // The event path's budget stays long: the API must not wait for it.
      REGISTRY_RETRY_BUDGET_MS: '60000',
      API_RETRY_BUDGET_MS: String(API_BUDGET_MS),
      OUTBOUND_TIMEOUT_MS: String(TIMEOUT_MS),
    };
    await getServiceGraph();
  });
  afterAll(async () => {
    await closeServices();
    process.env = { ...savedEnv };
  });

  it.each([
    [
      'GET /api/devices/{deviceId}/posture',
      () =>
        makeDevicePostureHandler(getPostureReader)(
          new HttpRequest({ url: 'http://localhost/api/devices/d1/posture', method: 'GET', params: { deviceId: 'd1' } }),
          new InvocationContext({ functionName: 'device-posture', logHandler: () => undefined }),
        ),
    ],
    [
      'GET /api/sweeps/{id}',
      () =>
        makeGetSweepHandler(getSweepApiServices)(
          new HttpRequest({ url: 'http://localhost/api/sweeps/s1', method: 'GET', params: { id: 's1' } }),
          new InvocationContext({ functionName: 'sweeps-get', logHandler: () => undefined }),
        ),
    ],
  ])('%s answers 503 with Retry-After within the API budget, not the event path’s', async (_route, call) => {
    proxy.setMode(SERVER_BUSY);
    const startedAt = Date.now();
    const response = await call();
    const elapsedMs = Date.now() - startedAt;
    expect(response.status).toBe(503);
    const headers = new Headers(response.headers);
    expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(elapsedMs).toBeLessThan(API_BUDGET_MS + TIMEOUT_MS + SLACK_MS);
  });
});

/**
 * IoT Hub trouble through the real azure-iothub Registry (the production client seam, registry-client.ts): a hub that
 * accepts connections and never answers fails a call within the retry budget plus one attempt's timeout (and the
 * whole event invocation with it), and a 429 storm is retried no faster than its Retry-After asks, measured where the
 * requests arrive. The retries show in the worker's log as rate-limited WARN lines, and the sweep's meter still
 * counts every throttle.
 */
import { InvocationContext } from '@azure/functions';
import { makeIotHubEventsHandler } from '../../functions/iothub-events';
import { IotHubDeviceRegistry } from '../../shared/adapters/iothub-registry';
import { eventServicesOf } from '../../shared/composition/event-services';
import { buildServiceGraph, type ServiceGraph } from '../../shared/composition/service-graph';
import { loadConfig } from '../../shared/config/load-config';
import { OutboundTimeoutError, TransientError } from '../../shared/errors';
import { BatchRetryRequiredError } from '../../shared/services/process-event-batch';
import { startRegistryOnlyHub, type RegistryOnlyHub } from '../../testing/registry-only-hub';
import { startAzurite, type AzuriteInstance } from '../support/azurite';
import { caught } from '../support/caught';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { startSilentServer, type SilentServer } from '../support/silent-server';
import { deviceCreatedEvent, hostBatch } from '../fixtures/host-batches';

const BUDGET_MS = 2000;
const TIMEOUT_MS = 1000;
/** Scheduling and connection set-up on a loaded CI machine. */
const SLACK_MS = 750;

let azurite: AzuriteInstance;
let hub: RegistryOnlyHub;
let silent: SilentServer;
let proxy: FaultProxy;

function settings(overrides: Record<string, string>): Record<string, string> {
  return {
    IOTHUB_CONNECTION_STRING: hub.connectionString(),
    IOTHUB_EVENTS_CONNECTION:
      'Endpoint=sb://outage.servicebus.windows.net/;SharedAccessKeyName=service;SharedAccessKey=unused;EntityPath=outage-hub',
    AzureWebJobsStorage: azurite.connectionString,
    REGISTRY_RETRY_BUDGET_MS: String(BUDGET_MS),
    OUTBOUND_TIMEOUT_MS: String(TIMEOUT_MS),
    ...overrides,
  };
}

async function timed(action: () => Promise<unknown>): Promise<{ error: Awaited<ReturnType<typeof caught>>; elapsedMs: number }> {
  const startedAt = Date.now();
  const error = await caught(action);
  return { error, elapsedMs: Date.now() - startedAt };
}

beforeAll(async () => {
  azurite = await startAzurite();
  hub = await startRegistryOnlyHub('iothub-outage-hub');
  silent = await startSilentServer();
  proxy = await startFaultProxy(hub.url);
});

beforeEach(() => {
  hub.faults.reset();
  proxy.requests.length = 0;
  silent.requests.length = 0;
});

afterAll(async () => {
  await proxy?.stop();
  await silent?.stop();
  await hub?.stop();
  await azurite?.stop();
});

describe('a hub that accepts connections and never answers', () => {
  it('IotHubDeviceRegistry.getDevice fails with TransientError within budget + one timeout, one request per attempt', async () => {
    const registry = IotHubDeviceRegistry.fromSettings(
      { connectionString: hub.connectionString(), serviceEndpoint: silent.url, timeoutMs: TIMEOUT_MS },
      { retryBudgetMs: BUDGET_MS },
    );
    try {
      const { error, elapsedMs } = await timed(() => registry.getDevice('silent-1'));
      expect(error).toBeInstanceOf(TransientError);
      expect(error.cause).toBeInstanceOf(OutboundTimeoutError);
      expect(error.message).toMatch(/^getDevice\(silent-1\) gave up after (\d+) attempts .*got no answer within 1000 ms/);
      const attempts = Number(/gave up after (\d+) attempts/.exec(error.message)?.[1]);
      expect(silent.requests).toHaveLength(attempts);
      expect(elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS);
      expect(elapsedMs).toBeLessThan(BUDGET_MS + TIMEOUT_MS + SLACK_MS);
    } finally {
      registry.close();
    }
  });

  it('fails the whole event invocation (a device to provision) with BatchRetryRequiredError in bounded time', async () => {
    const graph = await buildServiceGraph(loadConfig(settings({ IOTHUB_SERVICE_ENDPOINT: silent.url })));
    try {
      const handler = makeIotHubEventsHandler(() => Promise.resolve(eventServicesOf(graph)));
      const batch = hostBatch([deviceCreatedEvent({ deviceId: 'silent-device-1' })]);
      const { error, elapsedMs } = await timed(() =>
        handler(batch.messages, new InvocationContext({ triggerMetadata: batch.triggerMetadata, logHandler: () => undefined })),
      );
      expect(error).toBeInstanceOf(BatchRetryRequiredError);
      const [cause] = (error as BatchRetryRequiredError).causes;
      expect(cause).toBeInstanceOf(TransientError);
      expect((cause as Error).cause).toBeInstanceOf(OutboundTimeoutError);
      expect(silent.requests.length).toBeGreaterThan(0);
      expect(elapsedMs).toBeLessThan(BUDGET_MS + TIMEOUT_MS + SLACK_MS);
    } finally {
      await graph.close();
    }
  });
});

describe('a 429 storm with Retry-After: 2 (the emulator, behind a recording proxy)', () => {
  let graph: ServiceGraph;
  let warn: jest.SpiedFunction<typeof console.warn>;

  beforeAll(async () => {
    // A budget that outlasts the storm: the test is about the pace of the retries.
    graph = await buildServiceGraph(loadConfig(settings({ IOTHUB_SERVICE_ENDPOINT: proxy.url, REGISTRY_RETRY_BUDGET_MS: '10000' })));
  });
  beforeEach(() => {
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    warn.mockRestore();
  });
  afterAll(async () => {
    await graph?.close();
  });

  it('the event path retries no faster than Retry-After asks, and logs it as a rate-limited WARN line with status 429', async () => {
    hub.registry.createDevice({ deviceId: 'storm-1' });
    hub.faults.throttleNext('registry', 2, 2);

    await expect(graph.registry.getDevice('storm-1')).resolves.toMatchObject({ deviceId: 'storm-1' });

    const arrivals = proxy.requests.map((r) => r.at);
    expect(arrivals).toHaveLength(3);
    expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(2000);
    expect(arrivals[2]! - arrivals[1]!).toBeGreaterThanOrEqual(2000);
    // Two retries within 10 s of each other: one line, the second held back.
    const lines = warn.mock.calls.map((call) => String(call[0]));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^IoT Hub registry call retried \{"operation":"getDevice".*"kind":"throttled","statusCode":429/);
  });

  it('the sweep meter still counts every throttle, whatever the log held back', async () => {
    hub.registry.createDevice({ deviceId: 'storm-2' });
    hub.faults.throttleNext('registry', 2, 1);
    const before = graph.meter.snapshot().throttles;

    await expect(graph.sweepRegistry.getDevice('storm-2')).resolves.toMatchObject({ deviceId: 'storm-2' });

    expect(graph.meter.snapshot().throttles - before).toBe(2);
    expect(proxy.requests).toHaveLength(3);
  });
});

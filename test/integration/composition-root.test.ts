/**
 * The worker's composition root against real Azurite and the emulator's registry: one graph shared by every
 * function's view, HTTP reads that see another writer's rows, and a close that lets the next use build afresh.
 */
import { HttpRequest, InvocationContext } from '@azure/functions';
import { makeDevicePostureHandler } from '../../functions/device-posture';
import { buildServiceGraph, type ServiceGraph } from '../../shared/composition/service-graph';
import { loadConfig } from '../../shared/config/load-config';
import { closeServices, getConfig, getEventServices, getPostureReader, getServiceGraph, getSweepServices } from '../../shared/container';
import { currentLogLevel, setLogLevel } from '../../shared/log-level';
import type { LatestPosture } from '../../shared/domain/types';
import { startAzurite, type AzuriteInstance } from '../support/azurite';
import { startRegistryOnlyHub, type RegistryOnlyHub } from '../../testing/registry-only-hub';

let azurite: AzuriteInstance;
let hub: RegistryOnlyHub;
let env: Record<string, string>;
const savedEnv = { ...process.env };

function posture(deviceId: string, agentState: string): LatestPosture {
  return {
    deviceId,
    moduleId: 'DefenderIotMicroAgent',
    modulePresent: true,
    deviceDeleted: false,
    configurationState: 'inSync',
    driftedKeys: [],
    invalidFields: [],
    agentState,
    updatedAt: new Date().toISOString(),
  };
}

beforeAll(async () => {
  azurite = await startAzurite({ queue: true, blob: true });
  hub = await startRegistryOnlyHub('composition-hub');
  env = {
    IOTHUB_CONNECTION_STRING: hub.connectionString(),
    IOTHUB_SERVICE_ENDPOINT: hub.url,
    // The trigger's own setting: validated by loadConfig, never connected to here.
    IOTHUB_EVENTS_CONNECTION:
      'Endpoint=sb://composition.servicebus.windows.net/;SharedAccessKeyName=service;SharedAccessKey=unused;EntityPath=composition-hub',
    AzureWebJobsStorage: azurite.connectionString,
  };
});

afterEach(async () => {
  await closeServices();
  process.env = { ...savedEnv };
});

afterAll(async () => {
  await hub.stop();
  await azurite.stop();
});

describe('composition root', () => {
  it('builds one graph per worker and hands each function a view of it', async () => {
    process.env = { ...savedEnv, ...env };
    const [events, sweep, reader] = await Promise.all([getEventServices(), getSweepServices(), getPostureReader()]);
    const graph = await getServiceGraph();
    expect(await getServiceGraph()).toBe(graph);
    // One posture store (and one latest-row cache) for the event path and the sweep; the read API's store wraps the
    // same table clients with the short API retry budget.
    expect(events.posture).toBe(graph.posture);
    expect(sweep.posture).toBe(graph.posture);
    expect(reader.posture).toBe(graph.api.posture);
    expect(events.registry).toBe(graph.registry);
    expect(sweep.registry).toBe(graph.sweepRegistry);
    expect(sweep.queue).toBe(graph.hostStorage().queue);
  });

  it('sets the one LOG_LEVEL every logger reads when it loads the configuration', () => {
    process.env = { ...savedEnv, ...env, LOG_LEVEL: 'warn' };
    try {
      expect(getConfig().logLevel).toBe('warn');
      expect(currentLogLevel()).toBe('warn');
    } finally {
      setLogLevel('info');
    }
  });

  it('builds a new graph after closeServices (appTerminate, standalone host stop)', async () => {
    process.env = { ...savedEnv, ...env };
    const first = await getServiceGraph();
    await closeServices();
    const second = await getServiceGraph();
    expect(second).not.toBe(first);
  });

  it('reports a missing AzureWebJobsStorage only to the sweep, which needs its queue', async () => {
    const { AzureWebJobsStorage: _unused, ...rest } = env;
    process.env = { ...savedEnv, ...rest, POSTURE_STORAGE_CONNECTION: azurite.connectionString };
    delete process.env['AzureWebJobsStorage'];
    await expect(getEventServices()).resolves.toBeDefined();
    await expect(getSweepServices()).rejects.toThrow(
      'AzureWebJobsStorage must be a storage connection string: the sweep fans out through its queue',
    );
  });
});

describe('posture reads through the HTTP API', () => {
  let mine: ServiceGraph;
  let other: ServiceGraph;

  beforeAll(async () => {
    // Two workers on the same tables: this one serves the API, the other (another instance, or the sweep) writes.
    mine = await buildServiceGraph(loadConfig(env));
    other = await buildServiceGraph(loadConfig(env));
  });

  afterAll(async () => {
    await mine.close();
    await other.close();
  });

  it('serves the row another writer replaced, not the cached one', async () => {
    const deviceId = "cached'device#1";
    expect(await mine.posture.writeLatest(posture(deviceId, 'success'), undefined)).toBe('written');
    const cached = await mine.posture.getLatest(deviceId);
    const current = await other.posture.getLatest(deviceId);
    expect(await other.posture.writeLatest(posture(deviceId, 'failed'), current?.etag)).toBe('written');

    // The writer's cache still holds its own last write (a stale etag only costs it a conflict) ...
    expect((await mine.posture.getLatest(deviceId))?.etag).toBe(cached?.etag);
    // ... but the API reads the table.
    const handler = makeDevicePostureHandler(() => Promise.resolve({ posture: mine.posture }));
    const request = new HttpRequest({
      url: `http://localhost/api/devices/${encodeURIComponent(deviceId)}/posture`,
      method: 'GET',
      params: { deviceId },
    });
    const response = await handler(request, new InvocationContext({ functionName: 'device-posture' }));
    expect(response.status).toBe(200);
    expect((response.jsonBody as LatestPosture).agentState).toBe('failed');
  });
});

/**
 * The standalone host's /healthz and /readyz (host/health-routes.ts, host/readiness.ts) over real protocols: the
 * IoT Hub emulator's AMQP endpoint, in-process Azurite for the checkpoints and a second Azurite (tables only) as
 * the posture storage, so storage can be taken away and brought back without touching the checkpoint store.
 * Ready once started; not ready while the posture storage is down (refused) or hangs (timeout), ready again when it
 * is back; not ready from the moment stop() begins to drain, while /healthz stays 200 until the server closes.
 * No key is needed, and no answer says anything about the host, its versions or its settings.
 */
import { hostname } from 'node:os';
import type { InvocationContext } from '@azure/functions';
import { IotHubEmulator } from '../../emulator';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { readStandaloneSettings, StandaloneHost } from '../../host/standalone-host';
import { silentLogger } from '../../shared/logger';
import type { FunctionRegistration } from '../../shared/triggers/register-functions';
import { eventually } from '../../testing/eventually';
import { startSilentServer } from '../support/silent-server';

const KEY = 'probe-test-function-key-7f3a9c';
const CONSUMER_GROUP = 'twinguard';

function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

async function get(url: string): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text(), headers: response.headers };
}

let checkpoints: EmbeddedAzurite;
let hub: IotHubEmulator;

beforeAll(async () => {
  checkpoints = await startEmbeddedAzurite({ blob: true, queue: true });
  hub = await IotHubEmulator.start({ consumerGroups: ['$Default', CONSUMER_GROUP], partitionCount: 2 });
});

afterAll(async () => {
  await hub?.stop();
  await checkpoints?.stop();
});

function envFor(postureStorage: string): Record<string, string> {
  return {
    IOTHUB_CONNECTION_STRING: hub.serviceConnectionString,
    IOTHUB_SERVICE_ENDPOINT: hub.registryUrl,
    IOTHUB_EVENTS_CONNECTION: hub.eventHubConnectionString,
    IOTHUB_EVENTS_NAME: hub.eventHubName,
    IOTHUB_EVENTS_CONSUMER_GROUP: CONSUMER_GROUP,
    AzureWebJobsStorage: checkpoints.connectionString,
    POSTURE_STORAGE_CONNECTION: postureStorage,
  };
}

function startHost(env: Record<string, string>, handler: (messages: unknown, context: InvocationContext) => Promise<void>): StandaloneHost {
  const registrations: FunctionRegistration[] = [
    {
      kind: 'eventHub',
      name: 'events',
      options: {
        connection: 'IOTHUB_EVENTS_CONNECTION',
        eventHubName: '%IOTHUB_EVENTS_NAME%',
        consumerGroup: '%IOTHUB_EVENTS_CONSUMER_GROUP%',
        cardinality: 'many',
        handler,
      },
    },
    {
      kind: 'http',
      name: 'device-things',
      options: {
        methods: ['GET'],
        authLevel: 'function',
        route: 'devices/{deviceId}/things',
        handler: () => Promise.resolve({ status: 200 }),
      },
    },
  ];
  return new StandaloneHost({
    env,
    settings: readStandaloneSettings({
      STANDALONE_HTTP_PORT: '0',
      STANDALONE_FUNCTION_KEY: KEY,
      STANDALONE_CHECKPOINT_CONTAINER: `probe-checkpoints-${Math.random().toString(36).slice(2, 8)}`,
      STANDALONE_OWNERSHIP_EXPIRY_SECONDS: '4',
    }),
    logger: silentLogger,
    registrations,
  });
}

describe('/healthz and /readyz', () => {
  it('ready when started; not ready while storage is down, ready when it is back; not ready from the start of draining while /healthz stays 200', async () => {
    let posture = await startEmbeddedAzurite();
    const tablePort = new URL(posture.tableEndpoint).port;
    const held = gate();
    let entered = false;
    const host = startHost(envFor(posture.connectionString), async () => {
      entered = true;
      await held.promise;
    });
    let stopping: Promise<void> | undefined;
    try {
      await host.start();
      const base = host.httpUrl!;
      const bodies: string[] = [];
      const probe = async (path: string): Promise<{ status: number; body: unknown }> => {
        const answer = await get(`${base}${path}`);
        bodies.push(answer.text);
        expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
        expect(answer.headers.get('cache-control')).toBe('no-store');
        expect(answer.headers.get('server')).toBeNull();
        expect(answer.headers.get('x-powered-by')).toBeNull();
        return { status: answer.status, body: JSON.parse(answer.text) as unknown };
      };

      // Started: both answer without a key, while the API itself still wants one.
      expect(await probe('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
      expect(await probe('/readyz')).toEqual({
        status: 200,
        body: { status: 'ready', checks: { host: 'ok', configuration: 'ok', storage: 'ok', events: 'ok' } },
      });
      expect((await probe('/readyz/')).status).toBe(200);
      expect((await fetch(`${base}/api/devices/d1/things`)).status).toBe(401);
      expect((await fetch(`${base}/readyz`, { method: 'POST' })).status).toBe(405);
      expect((await fetch(`${base}/readyz`, { method: 'HEAD' })).status).toBe(200);

      // Storage goes away: the probe says so by name only; liveness is unaffected.
      await posture.stop();
      const down = await eventually(
        async () => {
          const answer = await probe('/readyz');
          return answer.status === 503 && answer;
        },
        10_000,
        '/readyz to answer 503 without storage',
      );
      expect(down.body).toEqual({ status: 'not ready', checks: { host: 'ok', configuration: 'ok', storage: 'unreachable', events: 'ok' } });
      expect(await probe('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });

      // Back on the same port: ready again, no restart of the host.
      posture = await startEmbeddedAzurite({ ports: { table: Number(tablePort) } });
      await eventually(async () => (await probe('/readyz')).status === 200, 10_000, '/readyz to answer 200 once storage is back');

      // Draining: a batch is held in the handler, stop() begins and waits for it.
      hub.events.injectTelemetry('probe-device', { n: 1 });
      await eventually(() => entered, 15_000, 'the batch to reach the handler');
      let stopped = false;
      stopping = host.stop().then(() => {
        stopped = true;
      });
      expect(await probe('/readyz')).toEqual({ status: 503, body: { status: 'not ready', checks: { host: 'draining' } } });
      expect(await probe('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
      expect(stopped).toBe(false);
      held.open();
      await stopping;
      await expect(fetch(`${base}/healthz`)).rejects.toThrow(); // the server closed with the process's work done

      // Nothing revealing in any answer: no host name, versions, endpoints, account or hub names, key.
      const revealing = [
        hostname(),
        host.hostId,
        process.version,
        process.versions.node,
        '0.1.0',
        '127.0.0.1',
        tablePort,
        'devstoreaccount1',
        hub.hubName,
        hub.eventHubName,
        KEY,
        CONSUMER_GROUP,
        'PostureLatest',
        'Error',
      ];
      for (const text of bodies) for (const secret of revealing) expect(text).not.toContain(secret);
    } finally {
      held.open();
      if (!stopping) await host.stop();
      else await stopping;
      await posture.stop();
    }
  });

  it('answers storage "timeout" within the check timeout when the posture storage accepts connections and never answers', async () => {
    const silent = await startSilentServer();
    const host = startHost(
      envFor(
        `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from('not-a-key').toString('base64')};TableEndpoint=${silent.url}/devstoreaccount1;`,
      ),
      () => Promise.resolve(),
    );
    try {
      await host.start();
      const started = Date.now();
      const answer = await get(`${host.httpUrl!}/readyz`);
      const elapsed = Date.now() - started;
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.text)).toEqual({
        status: 'not ready',
        checks: { host: 'ok', configuration: 'ok', storage: 'timeout', events: 'ok' },
      });
      expect(elapsed).toBeGreaterThanOrEqual(1900);
      expect(elapsed).toBeLessThan(4000);
      expect(silent.requests.length).toBeGreaterThanOrEqual(1);
    } finally {
      await host.stop();
      await silent.stop();
    }
  });
});

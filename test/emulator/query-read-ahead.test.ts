/**
 * Query read-ahead of the registry HTTP server: the next page, computed while the client works on the
 * current one, must be byte-for-byte what the request would have produced, and never outlive a change.
 */
import { FaultInjector } from '../../emulator/faults';
import { defaultPolicies, RegistryHttpServer } from '../../emulator/http-server';
import { HubRegistry } from '../../emulator/registry/hub-registry';

const SQL = "SELECT * FROM devices.modules WHERE moduleId = 'DefenderIotMicroAgent'";

interface RawPage {
  status: number;
  body: string;
  continuation: string | null;
  contentType: string | null;
}

const servers: RegistryHttpServer[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
});

function seeded(count: number): HubRegistry {
  const registry = new HubRegistry({ now: () => new Date('2024-05-01T10:00:00Z') });
  for (let i = 0; i < count; i++) {
    const deviceId = `d-${String(i).padStart(3, '0')}`;
    registry.createDevice({ deviceId }, { notify: false });
    registry.createModule({ deviceId, moduleId: 'DefenderIotMicroAgent' }, { notify: false });
    registry.updateReported(deviceId, 'DefenderIotMicroAgent', { latest_state: 'success', n: i }, { notify: false });
  }
  return registry;
}

async function serve(registry: HubRegistry, queryReadAhead: boolean): Promise<RegistryHttpServer> {
  const server = new RegistryHttpServer({
    registry,
    faults: new FaultInjector(),
    hostName: 'ra.azure-devices.net',
    policies: defaultPolicies(),
    queryReadAhead,
  });
  await server.start();
  servers.push(server);
  return server;
}

async function page(server: RegistryHttpServer, pageSize: number, continuation?: string | null): Promise<RawPage> {
  const headers: Record<string, string> = {
    authorization: 'Bearer test',
    'content-type': 'application/json',
    'x-ms-max-item-count': String(pageSize),
  };
  if (continuation) headers['x-ms-continuation'] = continuation;
  const response = await fetch(`${server.url}/devices/query?api-version=2021-04-12`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query: SQL }),
  });
  return {
    status: response.status,
    body: await response.text(),
    continuation: response.headers.get('x-ms-continuation'),
    contentType: response.headers.get('content-type'),
  };
}

async function allPages(server: RegistryHttpServer, pageSize: number): Promise<RawPage[]> {
  const pages: RawPage[] = [];
  let continuation: string | null = null;
  do {
    const next = await page(server, pageSize, continuation);
    pages.push(next);
    continuation = next.continuation;
    // Give the read-ahead its loop turns, so the next request finds it computed.
    await new Promise((resolve) => setTimeout(resolve, 5));
  } while (continuation);
  return pages;
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

test('pages served from read-ahead are byte-identical to pages computed on request', async () => {
  const registry = seeded(25);
  const withReadAhead = await allPages(await serve(registry, true), 10);
  const without = await allPages(await serve(registry, false), 10);
  expect(withReadAhead.map((p) => p.status)).toEqual([200, 200, 200]);
  expect(withReadAhead).toEqual(without);
  expect((JSON.parse(withReadAhead[2]?.body ?? '[]') as unknown[]).length).toBe(5);
  expect(withReadAhead[2]?.continuation).toBeNull();
});

test('a change after the read-ahead was computed is visible on the next page', async () => {
  const registry = seeded(4);
  const server = await serve(registry, true);
  const first = await page(server, 2);
  await settle();
  registry.updateReported('d-002', 'DefenderIotMicroAgent', { latest_state: 'failed' }, { notify: false });
  const second = await page(server, 2, first.continuation);
  const rows = JSON.parse(second.body) as Array<{ deviceId: string; properties: { reported: { latest_state: string } } }>;
  expect(rows.map((row) => [row.deviceId, row.properties.reported.latest_state])).toEqual([
    ['d-002', 'failed'],
    ['d-003', 'success'],
  ]);
});

test('a deleted identity is not served from a stale read-ahead', async () => {
  const registry = seeded(4);
  const server = await serve(registry, true);
  const first = await page(server, 2);
  await settle();
  registry.deleteDevice('d-003');
  const second = await page(server, 2, first.continuation);
  expect((JSON.parse(second.body) as Array<{ deviceId: string }>).map((row) => row.deviceId)).toEqual(['d-002']);
  expect(second.continuation).toBeNull();
});

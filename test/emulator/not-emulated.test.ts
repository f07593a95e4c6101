/**
 * What the emulator does not implement answers clearly: 501 NotImplemented with a message naming the construct (which
 * azure-iothub passes to the caller), never a bare 404 that the SDK reduces to "Not found"; unsupported query constructs
 * answer 400 naming the construct.
 */
import type { Registry } from 'azure-iothub';
import { startRegistryOnlyHub, type RegistryOnlyHub } from '../../testing/registry-only-hub';
import { caught } from '../support/caught';

let hub: RegistryOnlyHub;
let sdk: Registry;

beforeAll(async () => {
  hub = await startRegistryOnlyHub('not-emulated-hub');
  sdk = hub.client();
  await sdk.create({ deviceId: 'd1' });
});

afterAll(async () => {
  await hub.stop();
});

async function raw(method: string, path: string): Promise<{ status: number; message: string; code: string | null }> {
  const response = await fetch(`${hub.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: method === 'GET' ? undefined : '{}',
  });
  const body = (await response.json()) as { Message: string };
  return { status: response.status, message: body.Message, code: response.headers.get('iothub-errorcode') };
}

describe('routes the emulator does not implement', () => {
  it('Registry.getRegistryStatistics gets an error whose message names the API', async () => {
    const error = await caught(() => sdk.getRegistryStatistics());
    expect(error.response?.statusCode).toBe(501);
    expect(error.message).toBe('Registry and service statistics (GET /statistics/devices) is not supported by the IoT Hub emulator');
  });

  it.each([
    ['GET', '/digitaltwins/d1?api-version=2021-04-12', 'The digital twins (IoT Plug and Play) API'],
    ['POST', '/twins/d1/methods?api-version=2021-04-12', 'Direct methods'],
    ['POST', '/twins/d1/modules/m1/methods?api-version=2021-04-12', 'Direct methods'],
    ['GET', '/messages/devicebound?api-version=2021-04-12', 'Cloud-to-device messaging'],
    ['POST', '/files/notifications?api-version=2021-04-12', 'File upload'],
    ['POST', '/devices/d1/messages/events?api-version=2021-04-12', 'The HTTPS device endpoint'],
    ['GET', '/statistics/service?api-version=2021-04-12', 'Registry and service statistics'],
    ['PATCH', '/devices/d1?api-version=2021-04-12', 'This registry call (PATCH /devices/d1)'],
    ['DELETE', '/jobs/v2/j1?api-version=2021-04-12', 'This scheduled jobs call'],
    ['GET', '/nothing/here', 'GET /nothing/here is not supported by the IoT Hub emulator'],
  ])('%s %s names %s', async (method, path, name) => {
    const answer = await raw(method, path);
    expect(answer.status).toBe(501);
    expect(answer.code).toBe('NotImplemented');
    expect(answer.message).toMatch(/^ErrorCode:NotImplemented;/);
    expect(answer.message).toContain(name);
    expect(answer.message).toContain('is not supported by the IoT Hub emulator');
  });

  it('escapes ; in the path so the SDK keeps the whole message', async () => {
    const answer = await raw('PATCH', '/devices/a;b');
    expect(answer.message.split(';')).toHaveLength(2);
    expect(answer.message).toContain('/devices/a%3Bb');
  });
});

describe('query constructs the emulator does not implement', () => {
  it.each([
    ['SELECT * FROM devices.jobs', "Collection 'devices.jobs'"],
    ['SELECT * FROM devices GROUP BY tags.site', "'GROUP' at position"],
    ["SELECT * FROM devices WHERE STARTSWITH(deviceId, 'd')", "Function 'STARTSWITH'"],
    ['SELECT LENGTH(deviceId) FROM devices', "Function 'LENGTH' in SELECT"],
    ['SELECT tags.site, COUNT() FROM devices', "Function 'COUNT' in SELECT"],
  ])('%s names the construct', async (query, construct) => {
    const error = await caught(() => sdk.createQuery(query).nextAsTwin());
    expect(error.name).toBe('ArgumentError');
    expect(error.response?.statusCode).toBe(400);
    expect(error.message).toContain('not supported by the IoT Hub emulator');
    expect(error.message).toContain(construct);
  });
});

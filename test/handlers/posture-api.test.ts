import { HttpRequest, InvocationContext } from '@azure/functions';
import { makeDevicePostureHandler } from '../../functions/device-posture';
import { makeDeviceHistoryHandler } from '../../functions/device-posture-history';
import { MemoryPostureStore } from '../../shared/adapters/memory/memory-posture-store';
import type { HistoryEntry, LatestPosture } from '../../shared/domain/types';

const DEVICE = "plant-7#line?2%'a";

function posture(): LatestPosture {
  return {
    deviceId: DEVICE,
    moduleId: 'DefenderIotMicroAgent',
    modulePresent: true,
    deviceDeleted: false,
    configurationState: 'inSync',
    driftedKeys: [],
    invalidFields: [],
    agentState: 'success',
    updatedAt: '2026-11-20T10:00:00.000Z',
  };
}

function entry(minute: number): HistoryEntry {
  return {
    deviceId: DEVICE,
    at: new Date(Date.UTC(2026, 10, 20, 10, minute)),
    partitionId: '1',
    sequenceNumber: minute,
    kind: 'reportedChanged',
    moduleId: 'DefenderIotMicroAgent',
    summary: `reported v${minute}`,
    posture: { modulePresent: true, configurationState: 'inSync', driftedKeys: [], agentState: 'success', invalidFields: [] },
  };
}

async function setup(): Promise<MemoryPostureStore> {
  const store = new MemoryPostureStore();
  await store.writeLatest(posture(), undefined);
  await store.appendHistory([0, 1, 2, 3, 4].map(entry));
  return store;
}

function request(params: Record<string, string>, query: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({ method: 'GET', url: 'http://localhost/api/devices/x/posture', params, query });
}

const context = (): InvocationContext => new InvocationContext({ logHandler: () => undefined });

describe('posture API', () => {
  it('returns the latest posture of a device with an awkward id', async () => {
    const store = await setup();
    const response = await makeDevicePostureHandler(() => Promise.resolve({ posture: store }))(request({ deviceId: DEVICE }), context());
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({ deviceId: DEVICE, agentState: 'success', findings: [] });
  });

  it('answers 404 for an unknown device and 400 for an illegal id', async () => {
    const store = await setup();
    const handler = makeDevicePostureHandler(() => Promise.resolve({ posture: store }));
    expect((await handler(request({ deviceId: 'nobody' }), context())).status).toBe(404);
    const bad = await handler(request({ deviceId: 'has space' }), context());
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.jsonBody)).toMatch(/deviceId must be/);
  });

  it('pages history newest first with a continuation token and honours from/to', async () => {
    const store = await setup();
    const handler = makeDeviceHistoryHandler(() => Promise.resolve({ posture: store }));
    const first = await handler(request({ deviceId: DEVICE }, { limit: '2' }), context());
    const body = first.jsonBody as { entries: { summary: string }[]; continuationToken: string | null };
    expect(body.entries.map((e) => e.summary)).toEqual(['reported v4', 'reported v3']);
    expect(body.continuationToken).toEqual(expect.any(String));
    const second = await handler(request({ deviceId: DEVICE }, { limit: '2', continuationToken: body.continuationToken! }), context());
    expect((second.jsonBody as typeof body).entries.map((e) => e.summary)).toEqual(['reported v2', 'reported v1']);
    const ranged = await handler(request({ deviceId: DEVICE }, { from: '2026-11-20T10:01:00Z', to: '2026-11-20T10:02:00Z' }), context());
    expect((ranged.jsonBody as typeof body).entries.map((e) => e.summary)).toEqual(['reported v2', 'reported v1']);
  });

  it.each([
    [{ limit: '0' }, /limit must be an integer from 1 to 1000/],
    [{ limit: 'ten' }, /limit must be an integer/],
    [{ from: 'yesterday' }, /from must be an ISO 8601/],
    [{ from: '2026-11-20T10:00:00' }, /from must be an ISO 8601 date or date-time with a zone/],
    [{ from: '2026-11-21T00:00:00Z', to: '2026-11-20T00:00:00Z' }, /from must not be later than to/],
    [{ continuationToken: 'not-a-token' }, /continuationToken is not a token returned by a previous page/],
  ])('rejects bad query %j with a clear 400', async (query, message) => {
    const store = await setup();
    const response = await makeDeviceHistoryHandler(() => Promise.resolve({ posture: store }))(
      request({ deviceId: DEVICE }, query),
      context(),
    );
    expect(response.status).toBe(400);
    expect((response.jsonBody as { message: string }).message).toMatch(message);
  });
});

describe('history dates at the edges of what the keys represent (clamped, never 500)', () => {
  it.each<[Record<string, string>, string[]]>([
    [{ from: '0001-01-01T00:00:00Z' }, ['reported v4', 'reported v3', 'reported v2', 'reported v1', 'reported v0']],
    [{ from: '0000-01-01' }, ['reported v4', 'reported v3', 'reported v2', 'reported v1', 'reported v0']],
    [{ to: '0000-01-01' }, []],
    [{ to: '0001-01-01T00:00:00Z' }, []],
    [{ to: '9999-12-31T23:59:59-05:00' }, ['reported v4', 'reported v3', 'reported v2', 'reported v1', 'reported v0']],
    [{ from: '9999-12-31T23:59:59-05:00' }, []],
    [
      { from: '0001-01-01T00:00:00Z', to: '9999-12-31T23:59:59.999Z' },
      ['reported v4', 'reported v3', 'reported v2', 'reported v1', 'reported v0'],
    ],
    [{ from: '0000-01-01', to: '2026-11-20T10:01:00Z' }, ['reported v1', 'reported v0']],
  ])('%j answers 200 with exactly the entries in the window', async (query, summaries) => {
    const store = await setup();
    const response = await makeDeviceHistoryHandler(() => Promise.resolve({ posture: store }))(
      request({ deviceId: DEVICE }, query),
      context(),
    );
    expect(response.status).toBe(200);
    expect((response.jsonBody as { entries: { summary: string }[] }).entries.map((e) => e.summary)).toEqual(summaries);
  });

  it('still rejects a date that does not exist with 400', async () => {
    const store = await setup();
    const response = await makeDeviceHistoryHandler(() => Promise.resolve({ posture: store }))(
      request({ deviceId: DEVICE }, { to: '2026-11-20T10:00:00+99:99' }),
      context(),
    );
    expect(response.status).toBe(400);
  });
});

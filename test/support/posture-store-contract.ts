/**
 * The PostureStore contract, run against every implementation (memory in unit tests, tables on
 * Azurite in integration tests) so the fake used by handler tests cannot drift from the real adapter.
 */
import type { HistoryEntry, LatestPosture } from '../../shared/domain/types';
import type { PostureStore } from '../../shared/ports/posture-store';

/** Legal IoT Hub ID punctuation, several of which are forbidden in Table keys or special in OData. */
export const ODD_DEVICE_ID = "dev-:.+%_#*?!(),=@;$'x";

export function latestPosture(deviceId: string, overrides: Partial<LatestPosture> = {}): LatestPosture {
  return {
    deviceId,
    moduleId: 'DefenderIotMicroAgent',
    modulePresent: true,
    deviceDeleted: false,
    authType: 'sas',
    twinVersion: 7,
    desired: { Baseline_Disabled: false, nested: { a: [1, 2] } },
    desiredVersion: 3,
    reported: { latest_state: 'failed', Baseline_Disabled: true },
    reportedVersion: 5,
    reportedLastUpdated: '2024-05-01T10:00:00.123Z',
    configurationState: 'drifted',
    driftedKeys: ['Baseline_Disabled', 'key,with,commas'],
    agentState: 'failed',
    invalidFields: ['X_Disabled'],
    provisioning: 'created',
    updatedAt: '2024-05-01T10:00:01.000Z',
    ...overrides,
  };
}

export function historyEntry(deviceId: string, index: number, at: Date): HistoryEntry {
  return {
    deviceId,
    at,
    partitionId: String(index % 4),
    sequenceNumber: 1000 + index,
    kind: 'reportedChanged',
    moduleId: 'DefenderIotMicroAgent',
    summary: `reported v${index}`,
    twinVersion: index,
    reportedVersion: index,
    change: { latest_state: index % 2 === 0 ? 'success' : 'failed' },
    posture: {
      modulePresent: true,
      configurationState: 'inSync',
      driftedKeys: [],
      invalidFields: [],
      agentState: 'success',
      authType: 'sas',
    },
  };
}

const BASE_TIME = Date.UTC(2024, 4, 1, 12, 0, 0);

async function collectAll(
  store: PostureStore,
  deviceId: string,
  limit: number,
  window: { from?: Date; to?: Date } = {},
): Promise<{ entries: HistoryEntry[]; pages: number }> {
  const entries: HistoryEntry[] = [];
  let continuationToken: string | undefined;
  let pages = 0;
  do {
    const page = await store.listHistory(deviceId, { ...window, limit, continuationToken });
    expect(page.entries.length).toBeLessThanOrEqual(limit);
    entries.push(...page.entries);
    continuationToken = page.continuationToken;
    pages += 1;
  } while (continuationToken !== undefined && pages < 1000);
  return { entries, pages };
}

/** Registers the contract's tests; `getStore` is called per test after the implementation's setup ran. */
export function describePostureStoreContract(name: string, getStore: () => PostureStore): void {
  describe(`${name} — PostureStore contract`, () => {
    let counter = 0;
    const uniqueDevice = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${(counter += 1)}`;

    it('returns undefined for a device never written', async () => {
      await expect(getStore().getLatest(uniqueDevice('none'))).resolves.toBeUndefined();
    });

    it('creates, refuses a second create, replaces with the current etag and refuses a stale one', async () => {
      const store = getStore();
      const deviceId = uniqueDevice('latest');
      const first = latestPosture(deviceId);
      await expect(store.writeLatest(first, undefined)).resolves.toBe('written');
      await expect(store.writeLatest(first, undefined)).resolves.toBe('conflict');

      const read = await store.getLatest(deviceId);
      expect(read?.posture).toEqual(first);

      // Two instances read the same etag; only the first writer wins.
      const instanceA = await store.getLatest(deviceId);
      const instanceB = await store.getLatest(deviceId);
      const fromA = latestPosture(deviceId, { agentState: 'success', twinVersion: 8 });
      const fromB = latestPosture(deviceId, { agentState: 'failed', twinVersion: 9 });
      await expect(store.writeLatest(fromA, instanceA?.etag)).resolves.toBe('written');
      await expect(store.writeLatest(fromB, instanceB?.etag)).resolves.toBe('conflict');
      const after = await store.getLatest(deviceId);
      expect(after?.posture).toEqual(fromA);
      expect(after?.etag).not.toBe(instanceA?.etag);
    });

    it('round-trips a minimal posture without optional fields', async () => {
      const store = getStore();
      const deviceId = uniqueDevice('minimal');
      const minimal: LatestPosture = {
        deviceId,
        moduleId: 'm',
        modulePresent: false,
        deviceDeleted: true,
        configurationState: 'unknown',
        driftedKeys: [],
        invalidFields: [],
        updatedAt: '2024-01-01T00:00:00.000Z',
      };
      await store.writeLatest(minimal, undefined);
      expect((await store.getLatest(deviceId))?.posture).toEqual(minimal);
    });

    it('writes and reads a device whose ID uses every legal punctuation character', async () => {
      const store = getStore();
      const posture = latestPosture(ODD_DEVICE_ID);
      await store.writeLatest(posture, undefined);
      expect((await store.getLatest(ODD_DEVICE_ID))?.posture).toEqual(posture);
      const entries = [0, 1, 2].map((i) => historyEntry(ODD_DEVICE_ID, i, new Date(BASE_TIME + i * 1000)));
      await store.appendHistory(entries);
      const { entries: listed } = await collectAll(store, ODD_DEVICE_ID, 2);
      expect(listed).toEqual([...entries].reverse());
      // A prefix of the odd ID must not see its rows (the filter is an exact match, not a prefix).
      expect((await store.listHistory(ODD_DEVICE_ID.slice(0, -1), { limit: 10 })).entries).toEqual([]);
    });

    it('is idempotent: appending the same entries twice leaves identical rows', async () => {
      const store = getStore();
      const deviceId = uniqueDevice('replay');
      const entries = Array.from({ length: 5 }, (_, i) => historyEntry(deviceId, i, new Date(BASE_TIME + i * 60_000)));
      await store.appendHistory(entries);
      const once = await collectAll(store, deviceId, 100);
      await store.appendHistory(entries);
      await store.appendHistory([entries[2] as HistoryEntry, entries[2] as HistoryEntry]);
      const twice = await collectAll(store, deviceId, 100);
      expect(twice.entries).toHaveLength(5);
      expect(twice.entries).toEqual(once.entries);
    });

    it('lists newest first across pages, within an inclusive from/to window', async () => {
      const store = getStore();
      const deviceId = uniqueDevice('paging');
      const entries = Array.from({ length: 25 }, (_, i) => historyEntry(deviceId, i, new Date(BASE_TIME + i * 60_000)));
      await store.appendHistory(entries);

      const all = await collectAll(store, deviceId, 7);
      expect(all.entries.map((e) => e.sequenceNumber)).toEqual(entries.map((e) => e.sequenceNumber).reverse());
      expect(all.pages).toBeGreaterThanOrEqual(4);

      const from = entries[5]?.at as Date;
      const to = entries[14]?.at as Date;
      const windowed = await collectAll(store, deviceId, 4, { from, to });
      expect(windowed.entries.map((e) => e.sequenceNumber)).toEqual(
        entries
          .slice(5, 15)
          .map((e) => e.sequenceNumber)
          .reverse(),
      );
      expect((await collectAll(store, deviceId, 50, { to })).entries).toHaveLength(15);
      expect((await collectAll(store, deviceId, 50, { from })).entries).toHaveLength(20);
    });

    it('rejects a page size outside 1..1000', async () => {
      await expect(getStore().listHistory('d', { limit: 0 })).rejects.toThrow(RangeError);
    });

    it('commits many devices at once and reads them back at once, including odd IDs', async () => {
      const store = getStore();
      const ids = Array.from({ length: 40 }, (_, i) => `${uniqueDevice('many')}-${i}`).concat([`${ODD_DEVICE_ID}-many`]);
      const changes = ids.map((deviceId, i) => ({
        history: [historyEntry(deviceId, i, new Date(BASE_TIME + i))],
        latest: latestPosture(deviceId),
        etag: undefined,
      }));
      await expect(store.commit(changes)).resolves.toEqual({ conflicts: [] });
      const read = await store.getLatestMany([...ids, 'never-written']);
      expect([...read.keys()].sort()).toEqual([...ids].sort());
      expect(read.get(ODD_DEVICE_ID + '-many')?.posture).toEqual(latestPosture(`${ODD_DEVICE_ID}-many`));
      for (const deviceId of ids) expect((await store.listHistory(deviceId, { limit: 10 })).entries).toHaveLength(1);

      // A second round against the etags just read succeeds; a third against the same (now stale) etags conflicts.
      const next = ids.map((deviceId) => ({
        history: [],
        latest: latestPosture(deviceId, { reportedVersion: 6 }),
        etag: read.get(deviceId)?.etag,
      }));
      await expect(store.commit(next)).resolves.toEqual({ conflicts: [] });
      const stale = await store.commit(next.slice(0, 3));
      expect(stale.conflicts.sort()).toEqual(ids.slice(0, 3).sort());
      expect((await store.getLatest(ids[0]!))?.posture.reportedVersion).toBe(6);
    });

    it('reports a conflict when another writer changed a device in the same commit', async () => {
      const store = getStore();
      const deviceId = uniqueDevice('race');
      await store.writeLatest(latestPosture(deviceId), undefined);
      const seen = await store.getLatest(deviceId);
      await store.writeLatest(latestPosture(deviceId, { reportedVersion: 9 }), seen?.etag);
      const result = await store.commit([{ history: [], latest: latestPosture(deviceId, { reportedVersion: 8 }), etag: seen?.etag }]);
      expect(result.conflicts).toEqual([deviceId]);
      expect((await store.getLatest(deviceId))?.posture.reportedVersion).toBe(9);
    });
  });
}

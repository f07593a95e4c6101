import { odata, TableClient, type TableServiceClientOptions } from '@azure/data-tables';

import { createTableClient, ensureTables } from '../../shared/adapters/table-clients';
import { MAX_RAW_CHARS, TableDeadLetterStore } from '../../shared/adapters/table-dead-letter-store';
import { TablePostureStore } from '../../shared/adapters/table-posture-store';
import { historyKeys, latestKeys } from '../../shared/domain/table-keys';
import type { DeadLetter } from '../../shared/domain/types';
import { startAzurite, type AzuriteInstance } from '../support/azurite';
import { describePostureStoreContract, historyEntry } from '../support/posture-store-contract';

let azurite: AzuriteInstance;
let latest: TableClient;
let history: TableClient;
let deadLetterTable: TableClient;
let store: TablePostureStore;
/** `$batch` requests seen on the history client: proves how appendHistory splits transactions. */
let batchRequests = 0;

type PipelinePolicy = NonNullable<TableServiceClientOptions['additionalPolicies']>[number]['policy'];

const countBatches: PipelinePolicy = {
  name: 'countBatches',
  sendRequest: (request, next) => {
    if (request.url.includes('$batch')) batchRequests += 1;
    return next(request);
  },
};

beforeAll(async () => {
  azurite = await startAzurite();
  latest = createTableClient({ connectionString: azurite.connectionString }, 'PostureLatest');
  history = TableClient.fromConnectionString(azurite.connectionString, 'PostureHistory', {
    allowInsecureConnection: true,
    additionalPolicies: [{ policy: countBatches, position: 'perCall' }],
  });
  deadLetterTable = createTableClient({ connectionString: azurite.connectionString }, 'DeadLetters');
  await ensureTables([latest, history, deadLetterTable]);
  await ensureTables([latest]); // second call: 409 swallowed
  store = new TablePostureStore(latest, history, { retryBudgetMs: 2000 });
});

afterAll(async () => {
  await azurite?.stop();
});

describePostureStoreContract('TablePostureStore on Azurite', () => store);

describe('TablePostureStore specifics', () => {
  it('writes 250 entries for one device in 3 transactions, and a replay rewrites the same rows', async () => {
    const deviceId = 'bulk-device';
    const entries = Array.from({ length: 250 }, (_, i) => historyEntry(deviceId, i, new Date(Date.UTC(2024, 0, 1) + i * 1000)));
    batchRequests = 0;
    await store.appendHistory(entries);
    expect(batchRequests).toBe(3);

    const readRows = async (): Promise<Record<string, unknown>[]> => {
      const rows: Record<string, unknown>[] = [];
      for await (const row of history.listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`DeviceId eq ${deviceId}` } })) {
        const { etag: _etag, timestamp: _timestamp, ...content } = row;
        rows.push(content);
      }
      return rows;
    };
    const first = await readRows();
    await store.appendHistory(entries);
    const second = await readRows();
    expect(first).toHaveLength(250);
    expect(second).toEqual(first);
  });

  it('stores typed, operator-readable columns', async () => {
    const deviceId = "typed'device#1";
    await store.appendHistory([historyEntry(deviceId, 3, new Date('2024-02-03T04:05:06.789Z'))]);
    const rows = [];
    const { partitionKey } = latestKeys(deviceId);
    for await (const row of history.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${partitionKey} and DeviceId eq ${deviceId}` },
    }))
      rows.push(row);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      DeviceId: deviceId,
      Kind: 'reportedChanged',
      SequenceNumber: 1003n,
      PartitionId: '3',
      TwinVersion: 3,
      ModulePresent: true,
      SchemaVersion: 2,
    });
    expect(rows[0]?.rowKey).toBe(historyKeys(deviceId, new Date('2024-02-03T04:05:06.789Z'), '3', 1003).rowKey);
    expect(rows[0]?.At).toEqual(new Date('2024-02-03T04:05:06.789Z'));
    expect(JSON.parse(String(rows[0]?.DriftedKeys))).toEqual([]);
  });

  it('splits a desired section larger than one string property across columns', async () => {
    const deviceId = 'big-desired';
    // ASCII on purpose: Azurite 3.37 corrupts a multi-byte UTF-8 character that straddles a 64 KiB
    // request-body chunk (measured: one extra U+FFFD), which the real service does not.
    const big = { blob: 'e'.repeat(70_000) };
    const posture = {
      deviceId,
      moduleId: 'm',
      modulePresent: true,
      deviceDeleted: false,
      desired: big,
      configurationState: 'unknown' as const,
      driftedKeys: [],
      invalidFields: [],
      updatedAt: '2024-01-01T00:00:00.000Z',
    };
    await expect(store.writeLatest(posture, undefined)).resolves.toBe('written');
    const keys = latestKeys(deviceId);
    const raw = await latest.getEntity<Record<string, unknown>>(keys.partitionKey, keys.rowKey);
    expect(typeof raw.DesiredJson2).toBe('string');
    const parts = ['DesiredJson', 'DesiredJson1', 'DesiredJson2'].map((name) => String(raw[name]).length);
    const roundTripped = (await store.getLatest(deviceId))?.posture.desired?.blob;
    // Compare lengths and equality as booleans: a failure message with 70,000 characters helps nobody.
    expect({ parts, length: String(roundTripped).length, equal: roundTripped === big.blob }).toEqual({
      parts: [32_000, 32_000, JSON.stringify(big).length - 64_000],
      length: 70_000,
      equal: true,
    });
  });
});

describe('TableDeadLetterStore on Azurite', () => {
  const position = { partitionId: '2', sequenceNumber: 77, offset: '9000', enqueuedTime: new Date('2024-03-04T05:06:07.000Z') };

  it('keeps a 2 MB payload truncated with its original size, and a replay overwrites', async () => {
    const deadLetters = new TableDeadLetterStore(deadLetterTable, { retryBudgetMs: 2000 });
    const raw = '{"x":"' + 'y'.repeat(2 * 1024 * 1024) + '"}';
    const letter: DeadLetter = {
      position,
      deviceId: "dev'#?",
      reason: 'body is not a twin notification',
      raw,
      rawSize: raw.length,
      source: 'twinChangeEvents',
      schema: 'twinChangeNotification',
      recordedAt: new Date('2024-03-04T05:06:08.000Z'),
    };
    await deadLetters.record([letter]);
    await deadLetters.record([letter]);
    const rows = [];
    for await (const row of deadLetterTable.listEntities<Record<string, unknown>>({
      queryOptions: { filter: "PartitionKey eq '20240304'" },
    }))
      rows.push(row);
    expect(rows).toHaveLength(1);
    const row = rows[0] as Record<string, unknown>;
    expect(row).toMatchObject({
      DeviceId: "dev'#?",
      RawSize: raw.length,
      RawTruncated: true,
      SequenceNumber: 77n,
      Offset: '9000',
      PartitionId: '2',
      Source: 'twinChangeEvents',
    });
    const stored = Array.from({ length: 12 }, (_, i) => row[i === 0 ? 'Raw' : `Raw${i}`]).join('');
    expect(stored).toBe(raw.slice(0, MAX_RAW_CHARS));
  });

  it('stores a binary (base64) payload and many letters of one day across transactions', async () => {
    const deadLetters = new TableDeadLetterStore(deadLetterTable, { retryBudgetMs: 2000 });
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
    const letters: DeadLetter[] = Array.from({ length: 130 }, (_, i) => ({
      position: { ...position, enqueuedTime: new Date('2024-03-05T00:00:00Z'), sequenceNumber: i },
      reason: 'binary body',
      raw: `base64:${bytes.toString('base64')}`,
      rawSize: bytes.length,
      recordedAt: new Date('2024-03-05T00:00:01Z'),
    }));
    await deadLetters.record(letters);
    const rows = [];
    for await (const row of deadLetterTable.listEntities<Record<string, unknown>>({
      queryOptions: { filter: "PartitionKey eq '20240305'" },
    }))
      rows.push(row);
    expect(rows).toHaveLength(130);
    expect(Buffer.from(String(rows[0]?.Raw).slice('base64:'.length), 'base64')).toEqual(bytes);
    expect(rows[0]?.RawTruncated).toBe(false);
  });
});

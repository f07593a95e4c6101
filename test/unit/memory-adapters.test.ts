import { MemoryDeadLetterStore } from '../../shared/adapters/memory/memory-dead-letter-store';
import { MemoryDeviceRegistry } from '../../shared/adapters/memory/memory-device-registry';
import { MemoryPostureStore } from '../../shared/adapters/memory/memory-posture-store';
import { MAX_RAW_CHARS } from '../../shared/adapters/table-dead-letter-store';
import { EtagMismatchError, TransientError } from '../../shared/errors';
import { describePostureStoreContract, ODD_DEVICE_ID } from '../support/posture-store-contract';

let store = new MemoryPostureStore();
beforeEach(() => {
  store = new MemoryPostureStore();
});
describePostureStoreContract('MemoryPostureStore', () => store);

describe('MemoryDeviceRegistry', () => {
  it('creates a module once, then reports alreadyExists; deviceNotFound for unknown devices', async () => {
    const registry = new MemoryDeviceRegistry();
    registry.addDevice(ODD_DEVICE_ID);
    await expect(registry.getModule(ODD_DEVICE_ID, 'sec')).resolves.toBeUndefined();
    await expect(registry.createModule(ODD_DEVICE_ID, 'sec', { type: 'sas' })).resolves.toBe('created');
    await expect(registry.createModule(ODD_DEVICE_ID, 'sec', { type: 'sas' })).resolves.toBe('alreadyExists');
    await expect(registry.createModule('missing', 'sec', { type: 'sas' })).resolves.toBe('deviceNotFound');
    await expect(registry.getModule(ODD_DEVICE_ID, 'sec')).resolves.toMatchObject({
      deviceId: ODD_DEVICE_ID,
      moduleId: 'sec',
      authType: 'sas',
    });
  });

  it('updates desired with the current etag, rejects a stale etag and returns undefined for a missing module', async () => {
    const registry = new MemoryDeviceRegistry();
    registry.addDevice('d1');
    await registry.createModule('d1', 'sec', { type: 'sas' });
    const twin = await registry.getModuleTwin('d1', 'sec');
    const updated = await registry.updateModuleDesired('d1', 'sec', { a: 1, nested: { b: 2 } }, twin?.etag ?? '');
    expect(updated?.desired).toEqual({ a: 1, nested: { b: 2 }, $version: 2 });
    expect(updated?.version).toBe(2);
    await expect(registry.updateModuleDesired('d1', 'sec', { a: 2 }, twin?.etag ?? '')).rejects.toThrow(EtagMismatchError);
    const removed = await registry.updateModuleDesired('d1', 'sec', { nested: { b: null } }, '*');
    expect(removed?.desired).toEqual({ a: 1, nested: {}, $version: 3 });
    await expect(registry.updateModuleDesired('d1', 'other', {}, '*')).resolves.toBeUndefined();
  });

  it('pages module twin queries with continuation tokens and filters with WHERE', async () => {
    const registry = new MemoryDeviceRegistry();
    for (let i = 0; i < 5; i += 1) {
      registry.addDevice(`d${i}`);
      await registry.createModule(`d${i}`, i === 3 ? 'other' : 'sec', { type: 'sas' });
    }
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await registry.queryTwins("SELECT * FROM devices.modules WHERE moduleId = 'sec'", 2, token);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((item) => String(item.deviceId)));
      token = page.continuationToken;
    } while (token);
    expect(seen).toEqual(['d0', 'd1', 'd2', 'd4']);
  });

  it('throws scripted failures before touching state and counts calls', async () => {
    const registry = new MemoryDeviceRegistry();
    registry.addDevice('d1');
    registry.failNext('createModule', new TransientError('throttled', { statusCode: 429 }), 2);
    await expect(registry.createModule('d1', 'sec', { type: 'sas' })).rejects.toThrow('throttled');
    await expect(registry.createModule('d1', 'sec', { type: 'sas' })).rejects.toThrow('throttled');
    await expect(registry.createModule('d1', 'sec', { type: 'sas' })).resolves.toBe('created');
    expect(registry.calls.createModule).toBe(3);
  });
});

describe('MemoryDeadLetterStore', () => {
  it('overwrites on replay and truncates the payload like the table store', async () => {
    const deadLetters = new MemoryDeadLetterStore();
    const letter = {
      position: { partitionId: '1', sequenceNumber: 42, offset: '42', enqueuedTime: new Date('2024-05-01T00:00:00Z') },
      reason: 'not JSON',
      raw: 'x'.repeat(MAX_RAW_CHARS + 10),
      rawSize: MAX_RAW_CHARS + 10,
      recordedAt: new Date('2024-05-01T00:00:01Z'),
    };
    await deadLetters.record([letter]);
    await deadLetters.record([letter]);
    const stored = deadLetters.all();
    expect(stored).toHaveLength(1);
    expect(stored[0]?.raw).toHaveLength(MAX_RAW_CHARS);
    expect(stored[0]?.rawTruncated).toBe(true);
    expect(stored[0]?.rawSize).toBe(MAX_RAW_CHARS + 10);
  });
});

/**
 * Emulator state files (emulator/persistence.ts): a save/load round trip keeps identities, keys and
 * query order, creates a missing directory, and a restored registry never reuses a saved seq.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadState, saveState } from '../../emulator/persistence';
import { HubRegistry } from '../../emulator/registry/hub-registry';

let dir = '';

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinguard-state-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HEADER = { hubName: 'saved-hub', policies: [{ keyName: 'iothubowner', primaryKey: 'cHJpbWFyeQ==', secondaryKey: 'c2Vjb25kYXJ5' }] };

function deviceIds(registry: HubRegistry): string[] {
  return (registry.query('SELECT deviceId FROM devices', 100).items as Array<{ deviceId: string }>).map((row) => row.deviceId);
}

test('round trip into a directory that does not exist yet keeps identities, keys and order', async () => {
  const source = new HubRegistry();
  for (const deviceId of ['b', 'a', 'c']) source.createDevice({ deviceId }, { notify: false });
  source.createModule({ deviceId: 'a', moduleId: 'DefenderIotMicroAgent' }, { notify: false });
  source.updateTwin('a', undefined, { tags: { site: 'x' } }, '*', { notify: false });
  const file = join(dir, 'nested', 'state.json');
  await saveState(file, HEADER, source);

  const restored = new HubRegistry();
  const header = await loadState(file, restored);
  expect(header?.hubName).toBe('saved-hub');
  expect(header?.policies).toEqual(HEADER.policies);
  expect(deviceIds(restored)).toEqual(['b', 'a', 'c']);
  expect(restored.keysOf('a')).toEqual(source.keysOf('a'));
  expect(restored.keysOf('a', 'DefenderIotMicroAgent')).toEqual(source.keysOf('a', 'DefenderIotMicroAgent'));
  expect(restored.getTwin('a')).toEqual(JSON.parse(JSON.stringify(source.getTwin('a'))));
  restored.createDevice({ deviceId: 'd' }, { notify: false });
  expect(deviceIds(restored)).toEqual(['b', 'a', 'c', 'd']);
});

test('a missing file loads as undefined', async () => {
  await expect(loadState(join(dir, 'absent.json'), new HubRegistry())).resolves.toBeUndefined();
});

test('restore continues past the highest saved seq even when the saved counter lags behind', () => {
  const source = new HubRegistry();
  source.createDevice({ deviceId: 'a' }, { notify: false });
  source.createDevice({ deviceId: 'b' }, { notify: false });
  const restored = new HubRegistry();
  // As if 'b' had been created while the file was being written, after the header's counters.
  restored.restore(source.snapshot(), { nextSeq: 2, etagCounter: source.counters().etagCounter });
  restored.createDevice({ deviceId: 'c' }, { notify: false });
  expect(deviceIds(restored)).toEqual(['a', 'b', 'c']);
  const page = restored.query('SELECT deviceId FROM devices', 2);
  expect(restored.query('SELECT deviceId FROM devices', 2, page.continuationToken).items).toEqual([{ deviceId: 'c' }]);
});

/**
 * The pure side of automatic configurations shared by the emulator and TwinGuard: target conditions, content paths,
 * ranking (priority, then most recent creation), the configuration that manages a module, and what of its content a
 * twin lacks.
 */
import { desiredPatchOf, removalPatchOf } from '../../shared/domain/configurations/configuration-content';
import { parseConfigurationTarget, targetsTwin, TargetConditionError } from '../../shared/domain/configurations/configuration-target';
import { contentNotApplied, managingConfiguration } from '../../shared/domain/configurations/managing-configuration';
import {
  rankConfigurations,
  winningConfiguration,
  type AutomaticConfiguration,
} from '../../shared/domain/configurations/winning-configuration';

describe('parseConfigurationTarget', () => {
  it.each([
    ['', 'devices', { deviceId: 'd' }, false],
    ['*', 'devices', { deviceId: 'd' }, true],
    ["tags.env = 'prod'", 'devices', { deviceId: 'd', tags: { env: 'prod' } }, true],
    ["tags.env = 'prod'", 'devices', { deviceId: 'd', tags: { env: 'dev' } }, false],
    ["FROM devices.modules WHERE moduleId = 'm'", 'devices.modules', { deviceId: 'd', moduleId: 'm' }, true],
    [
      "from devices.modules where moduleId = 'm' AND tags.ring = 1",
      'devices.modules',
      { deviceId: 'd', moduleId: 'm', tags: { ring: 2 } },
      false,
    ],
    ['FROM devices.modules', 'devices.modules', { deviceId: 'd', moduleId: 'x' }, true],
  ])('%j reads %s and matches %j: %s', (text, collection, twin, matches) => {
    const target = parseConfigurationTarget(text);
    expect(target.collection).toBe(collection);
    expect(targetsTwin(target, twin)).toBe(matches);
  });

  it.each(["tags.env = = 'x'", 'SELECT * FROM devices', 'FROM devices.jobs WHERE x = 1', 'FROM devices.modules WHERE GROUP BY x'])(
    'refuses %j',
    (text) => expect(() => parseConfigurationTarget(text)).toThrow(TargetConditionError),
  );
});

describe('content paths', () => {
  it.each([
    [{ 'properties.desired': { a: 1, b: { c: 2 } } }, { a: 1, b: { c: 2 } }, { a: null, b: null }],
    [{ 'properties.desired.a': 1 }, { a: 1 }, { a: null }],
    [{ 'properties.desired.a.b': { c: 1 }, 'properties.desired.a.d': 2 }, { a: { b: { c: 1 }, d: 2 } }, { a: { b: null, d: null } }],
  ])('%j writes %j and is removed by %j', (content, desired, removal) => {
    expect(desiredPatchOf(content)).toEqual(desired);
    expect(removalPatchOf(content)).toEqual(removal);
  });

  it.each([{ 'properties.reported.a': 1 }, { tags: 1 }, { 'properties.desired..a': 1 }, { 'properties.desired': 5 }])(
    'refuses %j',
    (content) => expect(() => desiredPatchOf(content)).toThrow(),
  );
});

function configuration(
  id: string,
  priority: number,
  created: string,
  targetCondition: string,
  kind: 'device' | 'module' = 'module',
): AutomaticConfiguration {
  const section = { [`properties.desired.from`]: id };
  return {
    id,
    priority,
    createdTimeUtc: created,
    targetCondition,
    content: kind === 'module' ? { moduleContent: section } : { deviceContent: section },
  };
}

const MODULE = "FROM devices.modules WHERE moduleId = 'DefenderIotMicroAgent'";

describe('winningConfiguration', () => {
  it.each([
    [
      'the highest priority',
      [configuration('low', 1, '2026-01-02T00:00:00Z', MODULE), configuration('high', 9, '2026-01-01T00:00:00Z', MODULE)],
      'high',
    ],
    [
      'on a tie, the most recently created',
      [configuration('old', 5, '2026-01-01T00:00:00Z', MODULE), configuration('new', 5, '2026-01-03T00:00:00Z', MODULE)],
      'new',
    ],
    [
      'only matching ones',
      [
        configuration('other', 9, '2026-01-01T00:00:00Z', "FROM devices.modules WHERE moduleId = 'x'"),
        configuration('mine', 1, '2026-01-01T00:00:00Z', MODULE),
      ],
      'mine',
    ],
    [
      'module configurations only for module twins',
      [configuration('device', 9, '2026-01-01T00:00:00Z', '*', 'device'), configuration('module', 1, '2026-01-01T00:00:00Z', MODULE)],
      'module',
    ],
    [
      'none when nothing matches',
      [configuration('other', 9, '2026-01-01T00:00:00Z', "FROM devices.modules WHERE moduleId = 'x'")],
      undefined,
    ],
  ])('picks %s', (_what, configurations, expected) => {
    const { ranked } = rankConfigurations(configurations);
    expect(winningConfiguration(ranked, { deviceId: 'd', moduleId: 'DefenderIotMicroAgent' })?.configuration.id).toBe(expected);
  });

  it('leaves Edge deployments out and names unreadable configurations', () => {
    const { ranked, unreadable } = rankConfigurations([
      { id: 'edge', priority: 1, createdTimeUtc: '', targetCondition: '*', content: { modulesContent: { $edgeAgent: {} } } },
      configuration('broken', 1, '', 'FROM devices.modules WHERE = 1'),
      configuration('wrong-collection', 1, '', 'tags.x = 1'),
    ]);
    expect(ranked).toEqual([]);
    expect(unreadable.sort()).toEqual(['broken', 'wrong-collection']);
  });
});

describe('managingConfiguration and contentNotApplied', () => {
  it('evaluates module tags and reported properties of the module twin', () => {
    const { ranked } = rankConfigurations([configuration('ring1', 1, '2026-01-01T00:00:00Z', `${MODULE} AND tags.ring = 1`)]);
    expect(managingConfiguration(ranked, { deviceId: 'd', moduleId: 'DefenderIotMicroAgent', tags: { ring: 1 } })).toEqual({
      configurationId: 'ring1',
      desired: { from: 'ring1' },
    });
    expect(managingConfiguration(ranked, { deviceId: 'd', moduleId: 'DefenderIotMicroAgent' })).toBeUndefined();
  });

  it.each([
    [{ a: 1, b: 2 }, { a: 1 }, []],
    [{ a: 2 }, { a: 1 }, ['a']],
    [{}, { a: { b: 1, c: 2 } }, ['a']],
    [{ a: { b: 1, c: 3, extra: true } }, { a: { b: 1, c: 2 } }, ['a.c']],
    [{ a: 1 }, { a: null }, ['a']],
    [{}, { a: null }, []],
    [{ list: [1, 2] }, { list: [1, 2] }, []],
  ])('desired %j against content %j lacks %j', (desired, content, expected) => {
    expect(contentNotApplied(desired, content)).toEqual(expected);
  });
});

import { cloneJson, isJsonObject, mergePatch, sectionLastUpdated, sectionVersion, stripMetadata } from '../../shared/domain/twin-patch';
import type { JsonObject } from '../../shared/domain/types';

describe('stripMetadata', () => {
  it.each<[string, unknown, JsonObject]>([
    [
      'reported patch (wire format §2.3)',
      {
        color: 'Blue',
        $metadata: { $lastUpdated: '2021-02-13T17:56:23.2704925Z', color: { $lastUpdated: '2021-02-13T17:56:23.2704925Z' } },
        $version: 7,
      },
      { color: 'Blue' },
    ],
    [
      'nested objects keep data, lose per-level metadata',
      { agent: { mode: 1, $metadata: { $lastUpdated: 'x' }, inner: { a: [1, { b: 2 }], $lastUpdatedVersion: 3 } } },
      { agent: { mode: 1, inner: { a: [1, { b: 2 }] } } },
    ],
    ['null values survive (they mean delete)', { gone: null, $version: 2 }, { gone: null }],
    ['non-object yields empty', 'text', {}],
    ['null yields empty', null, {}],
    ['array yields empty', [1, 2], {}],
  ])('%s', (_name, section, expected) => {
    expect(stripMetadata(section)).toStrictEqual(expected);
  });

  it('returns a copy that shares no objects with the input', () => {
    const section = { nested: { list: [{ a: 1 }] } };
    const stripped = stripMetadata(section);
    (stripped['nested'] as { list: { a: number }[] }).list[0]!.a = 2;
    expect(section.nested.list[0]!.a).toBe(1);
  });
});

describe('mergePatch', () => {
  it.each<[string, JsonObject, JsonObject, JsonObject]>([
    ['adds and replaces scalars', { a: 1, b: 'x' }, { b: 'y', c: true }, { a: 1, b: 'y', c: true }],
    ['null deletes a key', { a: 1, b: 2 }, { b: null }, { a: 1 }],
    ['null for a missing key is a no-op', { a: 1 }, { z: null }, { a: 1 }],
    [
      'nested objects merge key by key',
      { n: { a: 1, b: { c: 2, d: 3 } } },
      { n: { b: { d: 4, e: 5 } } },
      { n: { a: 1, b: { c: 2, d: 4, e: 5 } } },
    ],
    ['null deletes a nested key', { n: { a: 1, b: 2 } }, { n: { a: null } }, { n: { b: 2 } }],
    ['null deletes a whole subtree', { n: { a: 1 }, m: 1 }, { n: null }, { m: 1 }],
    ['arrays replace, never merge', { list: [1, 2, 3] }, { list: [4] }, { list: [4] }],
    ['object replaces a scalar, dropping its nulls', { n: 5 }, { n: { a: 1, b: null } }, { n: { a: 1 } }],
    ['scalar replaces an object', { n: { a: 1 } }, { n: 'flat' }, { n: 'flat' }],
    ['empty patch changes nothing', { a: { b: 1 } }, {}, { a: { b: 1 } }],
  ])('%s', (_name, base, patch, expected) => {
    expect(mergePatch(base, patch)).toStrictEqual(expected);
  });

  it('modifies neither input and shares no objects with them', () => {
    const base = { n: { a: 1 }, list: [1] };
    const patch = { n: { b: 2 }, list: [{ x: 1 }] };
    const merged = mergePatch(base, patch);
    (merged['list'] as { x: number }[])[0]!.x = 9;
    (merged['n'] as JsonObject)['a'] = 99;
    expect(base).toStrictEqual({ n: { a: 1 }, list: [1] });
    expect(patch).toStrictEqual({ n: { b: 2 }, list: [{ x: 1 }] });
  });
});

describe('sectionVersion', () => {
  it.each<[string, unknown, number | undefined]>([
    ['integer $version', { a: 1, $version: 7 }, 7],
    ['zero', { $version: 0 }, 0],
    ['absent', { a: 1 }, undefined],
    ['string is not a version', { $version: '7' }, undefined],
    ['fraction is not a version', { $version: 1.5 }, undefined],
    ['negative is not a version', { $version: -1 }, undefined],
    ['not an object', 7, undefined],
  ])('%s', (_name, section, expected) => {
    expect(sectionVersion(section)).toBe(expected);
  });
});

describe('sectionLastUpdated', () => {
  it.each<[string, unknown, string | undefined]>([
    ['from $metadata', { $metadata: { $lastUpdated: '2021-02-13T17:56:23.2704925Z' }, $version: 7 }, '2021-02-13T17:56:23.2704925Z'],
    ['no $metadata', { $version: 7 }, undefined],
    ['$lastUpdated not a string', { $metadata: { $lastUpdated: 5 } }, undefined],
    ['not an object', undefined, undefined],
  ])('%s', (_name, section, expected) => {
    expect(sectionLastUpdated(section)).toBe(expected);
  });
});

describe('isJsonObject', () => {
  it.each<[unknown, boolean]>([
    [{}, true],
    [[], false],
    [null, false],
    ['x', false],
  ])('%j → %s', (value, expected) => {
    expect(isJsonObject(value)).toBe(expected);
  });
});

describe('property names that are special in JavaScript (IoT Hub accepts them as twin properties)', () => {
  // JSON.parse, like the worker and the table reader, makes `__proto__` an own property; an object literal would not.
  const wire = (text: string): JsonObject => JSON.parse(text) as JsonObject;
  const ownKeys = (value: unknown): string[] => Object.keys(value as object);

  it.each<[string, (section: JsonObject) => JsonObject]>([
    ['stripMetadata', (section) => stripMetadata(section)],
    ['cloneJson', (section) => cloneJson(section)],
    ['mergePatch onto {}', (section) => mergePatch({}, section)],
    ['mergePatch of {} onto the section', (section) => mergePatch(section, {})],
  ])('%s keeps __proto__, constructor and prototype as data, at every depth', (_name, copy) => {
    const section = wire(
      '{"__proto__":{"polluted":true,"__proto__":{"deep":1}},"constructor":"c","prototype":{"x":[{"__proto__":2}]},"toString":3}',
    );
    const result = copy(section);
    expect(JSON.stringify(result)).toBe(JSON.stringify(section));
    expect(ownKeys(result)).toEqual(['__proto__', 'constructor', 'prototype', 'toString']);
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('mergePatch merges into, replaces and deletes a __proto__ property like any other', () => {
    const base = wire('{"__proto__":{"a":1,"b":2},"constructor":{"k":1}}');
    expect(JSON.stringify(mergePatch(base, wire('{"__proto__":{"b":null,"c":3}}')))).toBe(
      '{"__proto__":{"a":1,"c":3},"constructor":{"k":1}}',
    );
    expect(JSON.stringify(mergePatch(base, wire('{"__proto__":5,"constructor":null}')))).toBe('{"__proto__":5}');
    expect(JSON.stringify(mergePatch(base, wire('{"__proto__":null}')))).toBe('{"constructor":{"k":1}}');
    // A patch object onto an absent key starts from empty, not from Object.prototype.
    expect(JSON.stringify(mergePatch({}, wire('{"constructor":{"x":1}}')))).toBe('{"constructor":{"x":1}}');
    expect(JSON.stringify(base)).toBe('{"__proto__":{"a":1,"b":2},"constructor":{"k":1}}');
  });
});

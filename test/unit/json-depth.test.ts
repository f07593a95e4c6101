import { jsonDepthExceeds } from '../../shared/domain/json-depth';

describe('jsonDepthExceeds', () => {
  const nestedArrays = (depth: number): unknown => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`);

  it.each<[string, unknown, number, boolean]>([
    ['a scalar', 'text', 0, false],
    ['null', null, 0, false],
    ['{} at limit 1', {}, 1, false],
    ['{} at limit 0', {}, 0, true],
    ['a flat body', { ruleId: '*', deviceId: 'd', reason: 'r' }, 1, false],
    ['a nested object one over', { a: { b: { c: 1 } } }, 2, true],
    ['a nested object at the limit', { a: { b: { c: 1 } } }, 3, false],
    ['arrays count like objects', [[[1]]], 2, true],
    ['only the deepest branch matters', { wide: Array.from({ length: 1000 }, () => ({})), deep: [[[[]]]] }, 5, false],
    ['16 levels at limit 16', nestedArrays(16), 16, false],
    ['17 levels at limit 16', nestedArrays(17), 16, true],
  ])('%s', (_name, value, maxDepth, expected) => {
    expect(jsonDepthExceeds(value, maxDepth)).toBe(expected);
  });

  it('measures 1,000,000 levels without recursion (JSON.stringify of the same value overflows the stack)', () => {
    const deep = nestedArrays(1_000_000);
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    expect(jsonDepthExceeds(deep, 16)).toBe(true);
  });
});

import { ConditionSyntaxError } from '../../../shared/domain/iothub-query/condition-syntax-error';
import { parseQuery, QuerySyntaxError } from '../../../shared/domain/iothub-query/parse-query';
import { evaluateCondition, MAX_CONDITION_DEPTH, parseCondition } from '../../../shared/domain/iothub-query/twin-condition';

const twin = { tags: { a: 1, site: 'lab' } };
const nestedParens = (depth: number): string => `${'('.repeat(depth)}tags.a = 1${')'.repeat(depth)}`;
const nots = (count: number): string => `${'NOT '.repeat(count)}tags.a = 1`;

describe('condition nesting is bounded (no input exhausts the stack)', () => {
  it.each<[string, string, boolean]>([
    [`${MAX_CONDITION_DEPTH} parentheses`, nestedParens(MAX_CONDITION_DEPTH), true],
    [`${MAX_CONDITION_DEPTH} NOTs`, nots(MAX_CONDITION_DEPTH), true],
    [`${MAX_CONDITION_DEPTH - 1} NOTs`, nots(MAX_CONDITION_DEPTH - 1), false],
    [
      'parentheses and NOT mixed up to the limit',
      `${'NOT ('.repeat(MAX_CONDITION_DEPTH / 2)}tags.a = 1${')'.repeat(MAX_CONDITION_DEPTH / 2)}`,
      true,
    ],
    ['siblings do not add up', `${nestedParens(MAX_CONDITION_DEPTH)} AND ${nestedParens(MAX_CONDITION_DEPTH)}`, true],
  ])('accepts %s', (_name, text, expected) => {
    expect(evaluateCondition(parseCondition(text), twin)).toBe(expected);
  });

  it.each<[string, string, number]>([
    [`${MAX_CONDITION_DEPTH + 1} parentheses`, nestedParens(MAX_CONDITION_DEPTH + 1), MAX_CONDITION_DEPTH],
    [`${MAX_CONDITION_DEPTH + 1} NOTs`, nots(MAX_CONDITION_DEPTH + 1), 4 * MAX_CONDITION_DEPTH],
    ['20,000 nested parentheses', nestedParens(20_000), MAX_CONDITION_DEPTH],
    ['NOT × 20,000', nots(20_000), 4 * MAX_CONDITION_DEPTH],
    ['20,000 unclosed parentheses', '('.repeat(20_000), MAX_CONDITION_DEPTH],
  ])('refuses %s with a ConditionSyntaxError naming the position', (_name, text, position) => {
    expect(() => parseCondition(text)).toThrow(ConditionSyntaxError);
    expect(() => parseCondition(text)).toThrow(
      `Condition nests parentheses and NOT more than ${MAX_CONDITION_DEPTH} levels deep (at position ${position})`,
    );
  });

  it('the query parser refuses the same depth as a QuerySyntaxError (the emulator answers 400)', () => {
    expect(() => parseQuery(`SELECT * FROM devices WHERE ${nestedParens(20_000)}`)).toThrow(QuerySyntaxError);
  });

  it.each([
    ['OR', 20_000, false],
    ['AND', 20_000, true],
  ])('a flat chain of 20,000 %s terms parses and evaluates without deep recursion', (op, count, expected) => {
    const terms = Array.from({ length: count }, (_, i) => (op === 'OR' ? `tags.a = ${i + 2}` : 'tags.a = 1'));
    const condition = parseCondition(terms.join(` ${op} `));
    expect(evaluateCondition(condition, twin)).toBe(expected);
    expect(evaluateCondition(parseCondition(`${terms.join(` ${op} `)} OR tags.site = 'lab'`), twin)).toBe(true);
  });

  it('keeps AND binding tighter than OR in long chains', () => {
    expect(evaluateCondition(parseCondition('tags.a = 2 AND tags.a = 2 OR tags.a = 1 AND tags.site = "lab" OR tags.a = 3'), twin)).toBe(
      true,
    );
    expect(evaluateCondition(parseCondition('tags.a = 1 AND tags.a = 2 OR tags.a = 3 AND tags.site = "lab" OR tags.a = 4'), twin)).toBe(
      false,
    );
    expect(evaluateCondition(parseCondition('NOT tags.a = 2 AND tags.a = 1 AND tags.site = "lab"'), twin)).toBe(true);
  });
});

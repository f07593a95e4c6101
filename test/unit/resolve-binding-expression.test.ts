import { BindingExpressionError, resolveBindingExpression } from '../../shared/config/resolve-binding-expression';

describe('resolveBindingExpression (the Functions host: NameResolverExtensions.ResolveWholeString)', () => {
  const env = { SCHEDULE: '0 0 2 * * *', HOUR: '3', 'Section:Key': 'v', NESTED: '%HOUR%' };

  it.each([
    ['0 0 2 * * *', '0 0 2 * * *'],
    ['%SCHEDULE%', '0 0 2 * * *'],
    ['0 0 %HOUR% * * *', '0 0 3 * * *'],
    ['%HOUR%%HOUR%', '33'],
    ['%Section:Key%', 'v'],
    // One pass: a value that itself holds %NAME% is not resolved again.
    ['%NESTED%', '%HOUR%'],
  ])('%s → %s', (value, expected) => {
    expect(resolveBindingExpression(value, env)).toBe(expected);
  });

  it.each([
    ['%MISSING%', 'binding expression %MISSING% refers to an app setting that is not defined'],
    ['%EMPTY%', 'binding expression %EMPTY% refers to an app setting that is not defined'],
    ['0 0 2 % * *', "the '%' at position 6 of a binding expression has no closing '%'"],
  ])('rejects %s', (value, message) => {
    expect(() => resolveBindingExpression(value, { EMPTY: '' })).toThrow(BindingExpressionError);
    expect(() => resolveBindingExpression(value, { EMPTY: '' })).toThrow(message);
  });
});

/**
 * The WHERE-expression subset of the IoT Hub query language, shared by the query engine (parse-query.ts,
 * execute-query-page.ts) and TwinGuard's provisioning target condition and compliance sweep.
 *
 * Supported: comparisons `= != <> < > <= >=`, `IN [...]`, `NIN [...]`, `AND`, `OR`, `NOT`, parentheses,
 * `IS_DEFINED(path)`; paths with `.` segments and `[[...]]` segments for names holding characters that are
 * not identifier characters (`properties.desired.[[azureiot*com^securityAgentConfiguration^1*0*0]]`);
 * literals: strings in single or double quotes with backslash escapes, numbers, `true`, `false`, `null`.
 * Keywords and function names are case-insensitive; paths are case-sensitive.
 *
 * Semantics: two-valued. A comparison whose operands differ in type (or where a path is missing) is false,
 * and so is `!=` in that case; `NOT` negates the boolean result. Objects and arrays never compare equal.
 */
import { compilePath, type ValueGetter } from './compile-path';
import { ConditionSyntaxError } from './condition-syntax-error';
import { tokenize, type Token } from './query-lexer';
import { TokenCursor, unexpectedToken } from './token-cursor';

/** A parsed, compiled condition. Opaque: only `text` is public; evaluate with {@link evaluateCondition}. */
export interface TwinCondition {
  readonly text: string;
}

type Predicate = (twin: Record<string, unknown>) => boolean;

class CompiledCondition implements TwinCondition {
  constructor(
    readonly text: string,
    readonly test: Predicate,
  ) {}
}

const COMPARISON_OPERATORS = new Set(['=', '!=', '<>', '<', '>', '<=', '>=']);
const SUPPORTED_FUNCTIONS = new Set(['IS_DEFINED']);
const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'NIN', 'SELECT', 'FROM', 'WHERE', 'GROUP', 'BY', 'ORDER', 'TOP', 'AS']);
const LITERAL_WORDS = new Set(['TRUE', 'FALSE', 'NULL']);

type Operand = { kind: 'path'; get: ValueGetter } | { kind: 'literal'; value: string | number | boolean | null };

function compare(op: string, left: unknown, right: unknown): boolean {
  if (left === undefined || right === undefined) return false;
  const type = left === null ? 'null' : typeof left;
  const rightType = right === null ? 'null' : typeof right;
  if (type !== rightType || type === 'object') return false;
  switch (op) {
    case '=':
      return left === right;
    case '!=':
    case '<>':
      return left !== right;
    default:
      if (type !== 'number' && type !== 'string') return false;
  }
  const l = left as number | string;
  const r = right as number | string;
  switch (op) {
    case '<':
      return l < r;
    case '>':
      return l > r;
    case '<=':
      return l <= r;
    default:
      return l >= r;
  }
}

/**
 * How deeply parentheses and `NOT`s may nest. The parser and the compiled predicate recurse once per level, so an
 * unbounded depth lets a 20,000-character condition exhaust the stack; 32 is far beyond any hand-written condition.
 * IoT Hub documents no nesting limit of its own (nor a condition length limit: bound the text where it is accepted).
 * `AND`/`OR` chains do not count: they are parsed and evaluated as flat lists, however long.
 */
export const MAX_CONDITION_DEPTH = 32;

/** `a OR b OR c` as one loop over the terms, not a chain of closures as deep as the list is long. */
function anyOf(terms: Predicate[]): Predicate {
  if (terms.length === 1) return terms[0]!;
  if (terms.length === 2) {
    const [a, b] = terms as [Predicate, Predicate];
    return (twin) => a(twin) || b(twin);
  }
  return (twin) => {
    for (const term of terms) if (term(twin)) return true;
    return false;
  };
}

function allOf(terms: Predicate[]): Predicate {
  if (terms.length === 1) return terms[0]!;
  if (terms.length === 2) {
    const [a, b] = terms as [Predicate, Predicate];
    return (twin) => a(twin) && b(twin);
  }
  return (twin) => {
    for (const term of terms) if (!term(twin)) return false;
    return true;
  };
}

class ConditionParser {
  private depth = 0;

  constructor(private readonly cursor: TokenCursor) {}

  parseOr(): Predicate {
    const terms = [this.parseAnd()];
    while (this.cursor.isKeyword('OR')) {
      this.cursor.next();
      terms.push(this.parseAnd());
    }
    return anyOf(terms);
  }

  private parseAnd(): Predicate {
    const terms = [this.parseNot()];
    while (this.cursor.isKeyword('AND')) {
      this.cursor.next();
      terms.push(this.parseNot());
    }
    return allOf(terms);
  }

  /** Enters one level of `(` or `NOT` at `token`, refusing to go past MAX_CONDITION_DEPTH. */
  private enter(token: Token): void {
    this.depth += 1;
    if (this.depth > MAX_CONDITION_DEPTH) {
      throw new ConditionSyntaxError(
        `Condition nests parentheses and NOT more than ${MAX_CONDITION_DEPTH} levels deep (at position ${token.position})`,
      );
    }
  }

  private parseNot(): Predicate {
    if (this.cursor.isKeyword('NOT')) {
      this.enter(this.cursor.next());
      const inner = this.parseNot();
      this.depth -= 1;
      return (twin) => !inner(twin);
    }
    return this.parsePrimary();
  }

  private parsePrimary(): Predicate {
    if (this.cursor.isPunct('(')) {
      this.enter(this.cursor.next());
      const inner = this.parseOr();
      this.cursor.expectPunct(')');
      this.depth -= 1;
      return inner;
    }
    const token = this.cursor.peek();
    if (token.kind === 'identifier' && this.cursor.isPunct('(', 1)) return this.parseFunction();
    const left = this.parseOperand();
    if (this.cursor.isKeyword('IN') || this.cursor.isKeyword('NIN')) return this.parseMembership(left);
    const op = this.cursor.next();
    if (op.kind !== 'operator' || !COMPARISON_OPERATORS.has(op.text))
      throw unexpectedToken(op, 'a comparison operator (=, !=, <>, <, >, <=, >=, IN, NIN)');
    const right = this.parseOperand();
    return buildComparison(op.text, left, right);
  }

  private parseFunction(): Predicate {
    const name = this.cursor.next();
    const upper = name.text.toUpperCase();
    if (!SUPPORTED_FUNCTIONS.has(upper)) {
      throw new ConditionSyntaxError(
        `Function '${name.text}' at position ${name.position} is not supported by the emulator (supported: IS_DEFINED)`,
      );
    }
    this.cursor.expectPunct('(');
    const get = compilePath(this.cursor.parsePath());
    this.cursor.expectPunct(')');
    return (twin) => get(twin) !== undefined;
  }

  private parseMembership(left: Operand): Predicate {
    const negate = this.cursor.next().text.toUpperCase() === 'NIN';
    this.cursor.expectPunct('[');
    const values: Array<string | number | boolean | null> = [];
    if (!this.cursor.isPunct(']')) {
      for (;;) {
        const operand = this.parseOperand();
        if (operand.kind !== 'literal')
          throw new ConditionSyntaxError(`IN/NIN lists may only hold literals (position ${this.cursor.peek().position})`);
        values.push(operand.value);
        if (!this.cursor.isPunct(',')) break;
        this.cursor.next();
      }
    }
    this.cursor.expectPunct(']');
    const get = left.kind === 'path' ? left.get : () => left.value;
    return (twin) => {
      const value = get(twin);
      if (value === undefined || (typeof value === 'object' && value !== null)) return false;
      const found = values.some((candidate) => compare('=', value, candidate));
      return negate ? !found : found;
    };
  }

  private parseOperand(): Operand {
    const token = this.cursor.peek();
    switch (token.kind) {
      case 'string':
        this.cursor.next();
        return { kind: 'literal', value: token.text };
      case 'number':
        this.cursor.next();
        return { kind: 'literal', value: token.numberValue ?? Number(token.text) };
      case 'bracketName':
        return { kind: 'path', get: compilePath(this.cursor.parsePath()) };
      case 'identifier': {
        const upper = token.text.toUpperCase();
        if (LITERAL_WORDS.has(upper) && !this.cursor.isPunct('.', 1)) {
          this.cursor.next();
          return { kind: 'literal', value: upper === 'NULL' ? null : upper === 'TRUE' };
        }
        if (KEYWORDS.has(upper))
          throw new ConditionSyntaxError(`Keyword '${token.text}' at position ${token.position} is not supported by the emulator here`);
        return { kind: 'path', get: compilePath(this.cursor.parsePath()) };
      }
      default:
        throw unexpectedToken(token, 'a property path or a literal');
    }
  }
}

function buildComparison(op: string, left: Operand, right: Operand): Predicate {
  if (left.kind === 'path' && right.kind === 'literal') {
    const get = left.get;
    const value = right.value;
    if (op === '=') {
      // Fast path for the overwhelmingly common `path = literal`.
      return value === null ? (twin) => get(twin) === null : (twin) => get(twin) === value;
    }
    return (twin) => compare(op, get(twin), value);
  }
  const l: ValueGetter = left.kind === 'path' ? left.get : () => left.value;
  const r: ValueGetter = right.kind === 'path' ? right.get : () => right.value;
  return (twin) => compare(op, l(twin), r(twin));
}

/**
 * Parses and compiles a WHERE expression from `cursor`, stopping at the first token that cannot continue
 * it. Used by the query parser (parse-query.ts); `text` is kept on the result for diagnostics.
 */
export function parseConditionTokens(cursor: TokenCursor, text: string): TwinCondition {
  return new CompiledCondition(text, new ConditionParser(cursor).parseOr());
}

/**
 * Parses a WHERE expression (without the `WHERE` keyword), e.g.
 * `tags.environment = 'prod' AND NOT capabilities.iotEdge = true`.
 * @throws ConditionSyntaxError naming the offending token and its 0-based position.
 */
export function parseCondition(text: string): TwinCondition {
  const cursor = new TokenCursor(tokenize(text));
  if (cursor.peek().kind === 'end') throw new ConditionSyntaxError('Empty condition');
  const condition = parseConditionTokens(cursor, text);
  const rest = cursor.peek();
  if (rest.kind !== 'end') {
    const upper = rest.text.toUpperCase();
    if (rest.kind === 'identifier' && KEYWORDS.has(upper)) {
      throw new ConditionSyntaxError(`'${rest.text}' at position ${rest.position} is not supported by the emulator in a condition`);
    }
    throw unexpectedToken(rest, 'AND, OR or end of condition');
  }
  return condition;
}

/**
 * Evaluates a parsed condition against a twin document (as returned by GET /twins). Pure and
 * allocation-free on the common paths; safe to call per twin on fleet-wide scans.
 */
export function evaluateCondition(condition: TwinCondition, twin: Record<string, unknown>): boolean {
  if (!(condition instanceof CompiledCondition)) throw new TypeError('condition was not created by parseCondition');
  return condition.test(twin);
}

/**
 * The WHERE-expression subset of the IoT Hub query language, shared by the emulator's query engine and
 * TwinGuard's provisioning target condition and compliance sweep.
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

/** Thrown for anything the subset does not parse; the message names the position (0-based offset). */
export class ConditionSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConditionSyntaxError';
  }
}

/** A parsed, compiled condition. Opaque: only `text` is public; evaluate with {@link evaluateCondition}. */
export interface TwinCondition {
  readonly text: string;
}

type Predicate = (twin: Record<string, unknown>) => boolean;
type ValueGetter = (twin: Record<string, unknown>) => unknown;

class CompiledCondition implements TwinCondition {
  constructor(
    readonly text: string,
    readonly test: Predicate,
  ) {}
}

type TokenKind = 'identifier' | 'bracketName' | 'string' | 'number' | 'operator' | 'punct' | 'end';

interface Token {
  kind: TokenKind;
  /** Raw text for identifiers/operators/punctuation; decoded value for strings and bracket names. */
  text: string;
  position: number;
  numberValue?: number;
}

const IDENTIFIER_START = /[A-Za-z_$]/;
const IDENTIFIER_PART = /[A-Za-z0-9_$-]/;
const COMPARISON_OPERATORS = new Set(['=', '!=', '<>', '<', '>', '<=', '>=']);
const SUPPORTED_FUNCTIONS = new Set(['IS_DEFINED']);
const STRING_ESCAPES: Record<string, string> = { "'": "'", '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Splits condition text into tokens. Exported for the query parser, which shares the lexical rules. */
export function tokenize(text: string, offset = 0): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const at = (index: number): string => text.charAt(index);
  while (i < text.length) {
    const ch = at(i);
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const start = i;
    if (ch === "'" || ch === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new ConditionSyntaxError(`Unterminated string literal starting at position ${start + offset}`);
        const c = at(i);
        if (c === '\\') {
          const next = at(i + 1);
          if (next === 'u') {
            const hex = text.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new ConditionSyntaxError(`Invalid \\u escape at position ${i + offset}`);
            value += String.fromCharCode(parseInt(hex, 16));
            i += 6;
            continue;
          }
          const escaped = STRING_ESCAPES[next];
          if (escaped === undefined) throw new ConditionSyntaxError(`Invalid escape sequence '\\${next}' at position ${i + offset}`);
          value += escaped;
          i += 2;
          continue;
        }
        if (c === ch) {
          i++;
          break;
        }
        value += c;
        i++;
      }
      tokens.push({ kind: 'string', text: value, position: start + offset });
      continue;
    }
    if (ch === '[' && at(i + 1) === '[') {
      const close = text.indexOf(']]', i + 2);
      if (close < 0) throw new ConditionSyntaxError(`Unterminated '[[' property name at position ${start + offset}`);
      const name = text.slice(i + 2, close);
      if (name.length === 0) throw new ConditionSyntaxError(`Empty '[[]]' property name at position ${start + offset}`);
      tokens.push({ kind: 'bracketName', text: name, position: start + offset });
      i = close + 2;
      continue;
    }
    const numberMatch = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (numberMatch && (ch !== '-' || /[\d.]/.test(at(i + 1)))) {
      const raw = numberMatch[0];
      tokens.push({ kind: 'number', text: raw, position: start + offset, numberValue: Number(raw) });
      i += raw.length;
      continue;
    }
    if (IDENTIFIER_START.test(ch)) {
      i++;
      while (i < text.length && IDENTIFIER_PART.test(at(i))) i++;
      tokens.push({ kind: 'identifier', text: text.slice(start, i), position: start + offset });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '!=' || two === '<>' || two === '<=' || two === '>=') {
      tokens.push({ kind: 'operator', text: two, position: start + offset });
      i += 2;
      continue;
    }
    if (ch === '=' || ch === '<' || ch === '>') {
      tokens.push({ kind: 'operator', text: ch, position: start + offset });
      i++;
      continue;
    }
    if ('().,[]*'.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch, position: start + offset });
      i++;
      continue;
    }
    throw new ConditionSyntaxError(`Unexpected character '${ch}' at position ${start + offset}`);
  }
  tokens.push({ kind: 'end', text: '', position: text.length + offset });
  return tokens;
}

/** A cursor over tokens with the shared path and literal grammar. Exported for the query parser. */
export class TokenCursor {
  private index = 0;
  constructor(private readonly tokens: Token[]) {}

  peek(ahead = 0): Token {
    const token = this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)];
    if (!token) throw new ConditionSyntaxError('Empty expression');
    return token;
  }

  next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index++;
    return token;
  }

  isKeyword(word: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.kind === 'identifier' && token.text.toUpperCase() === word;
  }

  isPunct(text: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.kind === 'punct' && token.text === text;
  }

  expectPunct(text: string): Token {
    const token = this.next();
    if (token.kind !== 'punct' || token.text !== text) throw unexpected(token, `'${text}'`);
    return token;
  }

  /** Parses `segment(.segment)*` where a segment is an identifier or a `[[name]]`. */
  parsePath(): string[] {
    const first = this.next();
    if (first.kind !== 'identifier' && first.kind !== 'bracketName') throw unexpected(first, 'a property path');
    const segments = [first.text];
    while (this.isPunct('.')) {
      this.next();
      const segment = this.next();
      if (segment.kind !== 'identifier' && segment.kind !== 'bracketName') throw unexpected(segment, 'a property name after \'.\'');
      segments.push(segment.text);
    }
    return segments;
  }
}

function describe(token: Token): string {
  if (token.kind === 'end') return 'end of expression';
  if (token.kind === 'string') return `string '${token.text}'`;
  return `'${token.text}'`;
}

function unexpected(token: Token, expected: string): ConditionSyntaxError {
  return new ConditionSyntaxError(`Expected ${expected} but found ${describe(token)} at position ${token.position}`);
}

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'NIN', 'SELECT', 'FROM', 'WHERE', 'GROUP', 'BY', 'ORDER', 'TOP', 'AS']);
const LITERAL_WORDS = new Set(['TRUE', 'FALSE', 'NULL']);

/** Builds a getter that walks `segments` through nested plain objects; missing → undefined. */
export function compilePath(segments: readonly string[]): ValueGetter {
  const [a, b, c, d] = segments;
  const own = Object.prototype.hasOwnProperty;
  const step = (value: unknown, key: string): unknown =>
    typeof value === 'object' && value !== null && !Array.isArray(value) && own.call(value, key) ? (value as Record<string, unknown>)[key] : undefined;
  // Unrolled for the common depths: this runs per twin on fleet-wide scans.
  switch (segments.length) {
    case 1:
      return (twin) => step(twin, a as string);
    case 2:
      return (twin) => step(step(twin, a as string), b as string);
    case 3:
      return (twin) => step(step(step(twin, a as string), b as string), c as string);
    case 4:
      return (twin) => step(step(step(step(twin, a as string), b as string), c as string), d as string);
    default:
      return (twin) => {
        let value: unknown = twin;
        for (const segment of segments) {
          value = step(value, segment);
          if (value === undefined) return undefined;
        }
        return value;
      };
  }
}

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

class ConditionParser {
  constructor(private readonly cursor: TokenCursor) {}

  parseOr(): Predicate {
    let left = this.parseAnd();
    while (this.cursor.isKeyword('OR')) {
      this.cursor.next();
      const l = left;
      const r = this.parseAnd();
      left = (twin) => l(twin) || r(twin);
    }
    return left;
  }

  private parseAnd(): Predicate {
    let left = this.parseNot();
    while (this.cursor.isKeyword('AND')) {
      this.cursor.next();
      const l = left;
      const r = this.parseNot();
      left = (twin) => l(twin) && r(twin);
    }
    return left;
  }

  private parseNot(): Predicate {
    if (this.cursor.isKeyword('NOT')) {
      this.cursor.next();
      const inner = this.parseNot();
      return (twin) => !inner(twin);
    }
    return this.parsePrimary();
  }

  private parsePrimary(): Predicate {
    if (this.cursor.isPunct('(')) {
      this.cursor.next();
      const inner = this.parseOr();
      this.cursor.expectPunct(')');
      return inner;
    }
    const token = this.cursor.peek();
    if (token.kind === 'identifier' && this.cursor.isPunct('(', 1)) return this.parseFunction();
    const left = this.parseOperand();
    if (this.cursor.isKeyword('IN') || this.cursor.isKeyword('NIN')) return this.parseMembership(left);
    const op = this.cursor.next();
    if (op.kind !== 'operator' || !COMPARISON_OPERATORS.has(op.text)) throw unexpected(op, 'a comparison operator (=, !=, <>, <, >, <=, >=, IN, NIN)');
    const right = this.parseOperand();
    return buildComparison(op.text, left, right);
  }

  private parseFunction(): Predicate {
    const name = this.cursor.next();
    const upper = name.text.toUpperCase();
    if (!SUPPORTED_FUNCTIONS.has(upper)) {
      throw new ConditionSyntaxError(`Function '${name.text}' at position ${name.position} is not supported (supported: IS_DEFINED)`);
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
        if (operand.kind !== 'literal') throw new ConditionSyntaxError(`IN/NIN lists may only hold literals (position ${this.cursor.peek().position})`);
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
        if (KEYWORDS.has(upper)) throw new ConditionSyntaxError(`Keyword '${token.text}' at position ${token.position} is not supported here`);
        return { kind: 'path', get: compilePath(this.cursor.parsePath()) };
      }
      default:
        throw unexpected(token, 'a property path or a literal');
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
 * it. Used by the query parser; `text` is kept on the result for diagnostics.
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
      throw new ConditionSyntaxError(`'${rest.text}' at position ${rest.position} is not supported in a condition`);
    }
    throw unexpected(rest, 'AND, OR or end of condition');
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

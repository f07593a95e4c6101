/**
 * Whole queries of the IoT Hub query language: `SELECT … FROM devices | devices.modules [WHERE …]`. The WHERE
 * grammar lives in twin-condition.ts; this file adds SELECT/FROM. Anything outside the subset is rejected
 * with QuerySyntaxError (the emulator answers 400), never answered wrongly.
 */
import { compilePath } from './compile-path';
import { ConditionSyntaxError } from './condition-syntax-error';
import type { ProjectedField, Projection } from './projection';
import { tokenize } from './query-lexer';
import { TokenCursor } from './token-cursor';
import { parseConditionTokens, type TwinCondition } from './twin-condition';

/** A query the subset cannot parse or does not support; the emulator's HTTP layer answers 400 with its message. */
export class QuerySyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuerySyntaxError';
  }
}

export type QueryCollection = 'devices' | 'devices.modules';

export interface ParsedQuery {
  readonly text: string;
  readonly collection: QueryCollection;
  readonly projection: Projection;
  readonly condition?: TwinCondition;
  /** `SELECT TOP n`: total rows across all pages. */
  readonly top?: number;
}

const UNSUPPORTED_CLAUSES = new Set(['GROUP', 'ORDER', 'JOIN', 'HAVING', 'LIMIT', 'OFFSET', 'UNION', 'DISTINCT', 'VALUE']);

/**
 * Parses a full query. Supported: `SELECT *`, `SELECT TOP n …`, a field list of paths with optional
 * `AS alias`, `SELECT COUNT() [AS alias]`; `FROM devices` / `FROM devices.modules`; optional WHERE.
 * @throws QuerySyntaxError naming the unsupported construct and its position.
 */
export function parseQuery(text: string): ParsedQuery {
  try {
    return parseQueryUnchecked(text);
  } catch (error) {
    if (error instanceof ConditionSyntaxError) throw new QuerySyntaxError(error.message);
    throw error;
  }
}

function parseQueryUnchecked(text: string): ParsedQuery {
  const cursor = new TokenCursor(tokenize(text));
  if (!cursor.isKeyword('SELECT')) throw new QuerySyntaxError(`Query must start with SELECT (position ${cursor.peek().position})`);
  cursor.next();
  let top: number | undefined;
  if (cursor.isKeyword('TOP')) {
    cursor.next();
    const count = cursor.next();
    if (count.kind !== 'number' || !Number.isInteger(count.numberValue) || (count.numberValue ?? 0) < 0) {
      throw new QuerySyntaxError(`TOP needs a non-negative integer (position ${count.position})`);
    }
    top = count.numberValue;
  }
  const projection = parseProjection(cursor);
  if (!cursor.isKeyword('FROM')) throw new QuerySyntaxError(`Expected FROM at position ${cursor.peek().position}`);
  cursor.next();
  const collectionToken = cursor.peek();
  const collectionPath = cursor.parsePath().join('.');
  let collection: QueryCollection;
  if (collectionPath.toLowerCase() === 'devices') collection = 'devices';
  else if (collectionPath.toLowerCase() === 'devices.modules') collection = 'devices.modules';
  else
    throw new QuerySyntaxError(
      `Collection '${collectionPath}' at position ${collectionToken.position} is not supported by the emulator (supported: devices, devices.modules)`,
    );
  let condition: TwinCondition | undefined;
  if (cursor.isKeyword('WHERE')) {
    const where = cursor.next();
    const start = where.position + where.text.length;
    condition = parseConditionTokens(cursor, text.slice(start).trim());
  }
  const rest = cursor.peek();
  if (rest.kind !== 'end') {
    const upper = rest.text.toUpperCase();
    if (UNSUPPORTED_CLAUSES.has(upper))
      throw new QuerySyntaxError(`'${rest.text}' at position ${rest.position} is not supported by the emulator`);
    throw new QuerySyntaxError(`Unexpected '${rest.text}' at position ${rest.position}`);
  }
  return { text, collection, projection, condition, top };
}

function parseProjection(cursor: TokenCursor): Projection {
  if (cursor.isPunct('*')) {
    cursor.next();
    return { kind: 'all' };
  }
  if (cursor.isKeyword('COUNT') && cursor.isPunct('(', 1)) {
    cursor.next();
    cursor.expectPunct('(');
    cursor.expectPunct(')');
    let name = '$1';
    if (cursor.isKeyword('AS')) {
      cursor.next();
      name = cursor.next().text;
    }
    if (cursor.isPunct(','))
      throw new QuerySyntaxError(
        `COUNT() combined with other fields needs GROUP BY, which is not supported by the emulator (position ${cursor.peek().position})`,
      );
    return { kind: 'count', name };
  }
  const fields: ProjectedField[] = [];
  for (;;) {
    const token = cursor.peek();
    if (token.kind === 'identifier' && cursor.isPunct('(', 1)) {
      throw new QuerySyntaxError(`Function '${token.text}' in SELECT at position ${token.position} is not supported by the emulator`);
    }
    if (token.kind === 'identifier' && UNSUPPORTED_CLAUSES.has(token.text.toUpperCase())) {
      throw new QuerySyntaxError(`'${token.text}' at position ${token.position} is not supported by the emulator`);
    }
    const segments = cursor.parsePath();
    let name = segments[segments.length - 1] ?? '';
    if (cursor.isKeyword('AS')) {
      cursor.next();
      const alias = cursor.next();
      if (alias.kind !== 'identifier') throw new QuerySyntaxError(`Expected an alias after AS at position ${alias.position}`);
      name = alias.text;
    }
    fields.push({ name, get: compilePath(segments) });
    if (!cursor.isPunct(',')) break;
    cursor.next();
  }
  return { kind: 'fields', fields };
}

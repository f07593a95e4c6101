/**
 * The emulator's query engine: `SELECT … FROM devices | devices.modules [WHERE …]` with cursor paging.
 * The WHERE grammar lives in shared/domain/twin-condition.ts; this file adds SELECT/FROM, projection
 * and paging. Anything outside the subset is rejected with QuerySyntaxError (→ 400), never answered wrongly.
 */
import {
  compilePath,
  ConditionSyntaxError,
  evaluateCondition,
  parseConditionTokens,
  TokenCursor,
  tokenize,
  type TwinCondition,
} from '../shared/domain/twin-condition';

/** A query the subset cannot parse or does not support; the HTTP layer answers 400 with its message. */
export class QuerySyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuerySyntaxError';
  }
}

export type QueryCollection = 'devices' | 'devices.modules';

interface ProjectedField {
  /** Output property name: the alias, else the last path segment (as IoT Hub/Cosmos DB name projected paths). */
  name: string;
  get: (twin: Record<string, unknown>) => unknown;
}

export type Projection = { kind: 'all' } | { kind: 'fields'; fields: ProjectedField[] } | { kind: 'count'; name: string };

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
  else throw new QuerySyntaxError(`Collection '${collectionPath}' at position ${collectionToken.position} is not supported (supported: devices, devices.modules)`);
  let condition: TwinCondition | undefined;
  if (cursor.isKeyword('WHERE')) {
    const where = cursor.next();
    const start = where.position + where.text.length;
    condition = parseConditionTokens(cursor, text.slice(start).trim());
  }
  const rest = cursor.peek();
  if (rest.kind !== 'end') {
    const upper = rest.text.toUpperCase();
    if (UNSUPPORTED_CLAUSES.has(upper)) throw new QuerySyntaxError(`'${rest.text}' at position ${rest.position} is not supported by the emulator`);
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
    if (cursor.isPunct(',')) throw new QuerySyntaxError(`COUNT() combined with other fields needs GROUP BY, which is not supported (position ${cursor.peek().position})`);
    return { kind: 'count', name };
  }
  const fields: ProjectedField[] = [];
  for (;;) {
    const token = cursor.peek();
    if (token.kind === 'identifier' && cursor.isPunct('(', 1)) {
      throw new QuerySyntaxError(`Function '${token.text}' in SELECT at position ${token.position} is not supported`);
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

/** One queryable identity in a collection's stable order. `seq` only grows; a deleted slot keeps its seq. */
export interface QuerySlot {
  readonly seq: number;
  readonly twin: Record<string, unknown>;
  readonly deleted: boolean;
}

/** What the registry exposes to the engine: per collection, slots in ascending `seq` order. */
export interface QuerySource {
  slots(collection: QueryCollection): readonly QuerySlot[];
}

export interface QueryPage {
  items: unknown[];
  /** Present when more rows may follow; the value for `x-ms-continuation`. */
  continuationToken?: string;
}

interface Continuation {
  collection: QueryCollection;
  afterSeq: number;
  returned: number;
}

function encodeContinuation(value: Continuation): string {
  return Buffer.from(JSON.stringify({ c: value.collection === 'devices' ? 'd' : 'm', s: value.afterSeq, n: value.returned })).toString('base64');
}

function decodeContinuation(token: string, collection: QueryCollection): Continuation {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw new QuerySyntaxError('Invalid continuation token');
  }
  if (typeof parsed !== 'object' || parsed === null) throw new QuerySyntaxError('Invalid continuation token');
  const { c, s, n } = parsed as Record<string, unknown>;
  if (typeof s !== 'number' || typeof n !== 'number' || (c !== 'd' && c !== 'm')) throw new QuerySyntaxError('Invalid continuation token');
  if ((c === 'd') !== (collection === 'devices')) throw new QuerySyntaxError('Continuation token belongs to a different query');
  return { collection, afterSeq: s, returned: n };
}

/** Index of the first slot whose seq is greater than `afterSeq` (binary search: slots are seq-ordered). */
function firstAfter(slots: readonly QuerySlot[], afterSeq: number): number {
  let low = 0;
  let high = slots.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((slots[mid] as QuerySlot).seq <= afterSeq) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Builds the row IoT Hub returns for one twin under `projection` (never called for COUNT). */
export function projectRow(projection: Projection, twin: Record<string, unknown>): unknown {
  if (projection.kind !== 'fields') return twin;
  const row: Record<string, unknown> = {};
  for (const field of projection.fields) {
    const value = field.get(twin);
    if (value !== undefined) row[field.name] = value;
  }
  return row;
}

/**
 * Runs one page. The continuation token is the seq of the last returned slot, so paging never copies the
 * fleet, stays valid when identities are added or deleted meanwhile (new ones appear at the end), and each
 * page costs O(log n + rows scanned). Rows reference live twin objects: serialize them before yielding.
 */
export function executeQueryPage(source: QuerySource, query: ParsedQuery, pageSize: number, continuationToken?: string): QueryPage {
  const slots = source.slots(query.collection);
  const condition = query.condition;
  if (query.projection.kind === 'count') {
    let count = 0;
    for (const slot of slots) if (!slot.deleted && (!condition || evaluateCondition(condition, slot.twin))) count++;
    return { items: [{ [query.projection.name]: count }] };
  }
  const position = continuationToken ? decodeContinuation(continuationToken, query.collection) : { collection: query.collection, afterSeq: -1, returned: 0 };
  const remainingTop = query.top === undefined ? Infinity : query.top - position.returned;
  const limit = Math.min(pageSize, remainingTop);
  const items: unknown[] = [];
  let lastSeq = position.afterSeq;
  let index = firstAfter(slots, position.afterSeq);
  for (; index < slots.length && items.length < limit; index++) {
    const slot = slots[index] as QuerySlot;
    if (slot.deleted || (condition && !evaluateCondition(condition, slot.twin))) continue;
    items.push(projectRow(query.projection, slot.twin));
    lastSeq = slot.seq;
  }
  if (items.length >= remainingTop) return { items };
  // Look ahead for one more match so the last page carries no token and hasMoreResults ends exactly.
  let more = false;
  for (; index < slots.length; index++) {
    const slot = slots[index] as QuerySlot;
    if (!slot.deleted && (!condition || evaluateCondition(condition, slot.twin))) {
      more = true;
      break;
    }
  }
  return more ? { items, continuationToken: encodeContinuation({ collection: query.collection, afterSeq: lastSeq, returned: position.returned + items.length }) } : { items };
}

/**
 * Runs a parsed query over an ordered source of twins, one page at a time with continuation tokens: the
 * engine behind the emulator's `POST /devices/query` and the in-memory registry's queryTwins.
 */
import { evaluateCondition } from './twin-condition';
import { QuerySyntaxError, type ParsedQuery, type QueryCollection } from './parse-query';
import { projectRow } from './projection';

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
  return Buffer.from(JSON.stringify({ c: value.collection === 'devices' ? 'd' : 'm', s: value.afterSeq, n: value.returned })).toString(
    'base64',
  );
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
  const position = continuationToken
    ? decodeContinuation(continuationToken, query.collection)
    : { collection: query.collection, afterSeq: -1, returned: 0 };
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
  return more
    ? {
        items,
        continuationToken: encodeContinuation({
          collection: query.collection,
          afterSeq: lastSeq,
          returned: position.returned + items.length,
        }),
      }
    : { items };
}

/**
 * Opaque paging tokens: a small JSON object, base64-encoded. The stores that hand them out decide their fields;
 * this file only makes reading one total: whatever a client sends comes back as an object or as undefined, never
 * as an exception, and never as something larger than a token the store could have issued.
 */

/** Longer than any token the stores issue (a findings token with the Table service's own token inside is < 2,000). */
export const MAX_PAGING_TOKEN_LENGTH = 4096;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The token of `fields`: standard base64 (with padding) of their JSON. */
export function encodePagingToken(fields: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(fields), 'utf8').toString('base64');
}

/**
 * The JSON object inside `token` when it is canonical standard base64 (what {@link encodePagingToken} and
 * Buffer produce: no whitespace, no URL-safe alphabet, correct padding) of valid UTF-8 JSON whose top level is an
 * object, at most `maxLength` characters; otherwise undefined.
 */
export function decodePagingToken(token: string, maxLength: number = MAX_PAGING_TOKEN_LENGTH): Record<string, unknown> | undefined {
  if (token.length === 0 || token.length > maxLength || !BASE64.test(token)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(token, 'base64')));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** True when `record` has no keys but `allowed` (each of which may be absent). */
export function hasOnlyKeys(record: Record<string, unknown>, allowed: readonly string[]): boolean {
  return Object.keys(record).every((key) => allowed.includes(key));
}

/** A shard index a paging token may carry: an integer in [0, shards). */
export function isShardIndex(value: unknown, shards: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < shards;
}

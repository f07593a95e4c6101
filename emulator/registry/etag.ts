/**
 * Etags of the emulated registry: both kinds are derived from one counter that only grows (and survives a
 * restart, see persistence.ts), so every write gets an etag no earlier state had.
 */

function stripQuotes(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

/** True when an If-Match value (possibly quoted, possibly `*`) allows a write over `current`. */
export function etagMatches(ifMatch: string | undefined, current: string): boolean {
  if (ifMatch === undefined || ifMatch === '') return true;
  const value = stripQuotes(ifMatch.trim());
  return value === '*' || value === current;
}

/** A twin's etag for counter value `counter`: its 8 big-endian bytes, base64. */
export function twinEtag(counter: bigint): string {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(counter);
  return buffer.toString('base64');
}

/** An identity's etag (`deviceEtag`) for counter value `counter`: its decimal digits, base64. */
export function identityEtag(counter: bigint): string {
  return Buffer.from(counter.toString()).toString('base64');
}

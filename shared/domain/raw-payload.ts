/** An event body as dead-letter text, and a cheap bound on its size. */

interface RawPayload {
  raw: string;
  rawSize: number;
}

/** Dead-letter text: strings as they are, bytes as `base64:…`, anything else re-serialised as JSON. */
export function rawPayload(body: unknown): RawPayload {
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    return { raw: `base64:${Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64')}`, rawSize: body.byteLength };
  }
  if (typeof body === 'string') return { raw: body, rawSize: Buffer.byteLength(body, 'utf8') };
  if (body === undefined) return { raw: '', rawSize: 0 };
  let raw: string | undefined;
  try {
    raw = JSON.stringify(body);
  } catch {
    raw = undefined;
  }
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- last resort for what JSON cannot carry (functions, symbols, bigints, cycles): String()'s text, '[object Object]' included, is the intended fallback
  raw ??= String(body);
  return { raw, rawSize: Buffer.byteLength(raw, 'utf8') };
}

/**
 * Cheap upper-bound check before the exact one: serializing every body just to measure it was the
 * largest single cost of decoding. The walk over-estimates (every character counted as up to 3
 * UTF-8 bytes, generous punctuation), so `false` is a proof the body fits.
 */
export function mayExceed(body: unknown, limit: number): boolean {
  if (typeof body === 'string') return body.length * 3 > limit;
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) return body.byteLength > limit;
  let budget = limit;
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') budget -= value.length * 3 + 2;
    else if (value === null || typeof value !== 'object') budget -= 24;
    else if (Array.isArray(value)) {
      budget -= 2 + value.length;
      for (const item of value) stack.push(item);
    } else {
      budget -= 2;
      for (const key in value as Record<string, unknown>) {
        budget -= key.length * 3 + 4;
        stack.push((value as Record<string, unknown>)[key]);
      }
    }
    if (budget < 0) return true;
  }
  return false;
}

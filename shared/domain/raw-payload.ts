/** An event body as dead-letter text, its size, and the strict UTF-8 reading notifications are parsed from. */

interface RawPayload {
  raw: string;
  rawSize: number;
}

// `fatal`: a malformed sequence is an error, never a silent U+FFFD; `ignoreBOM`: a leading BOM stays in the text,
// so the text is exactly the bytes (and JSON.parse refuses it, as it refuses any other stray character).
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isBytes(body: unknown): body is Uint8Array {
  // Buffer.isBuffer as well: under jest's per-test realms a Buffer need not be an instance of this realm's Uint8Array.
  return Buffer.isBuffer(body) || body instanceof Uint8Array;
}

/** The bytes as text when they are well-formed UTF-8, else undefined (lone surrogates, overlongs, truncations, …). */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** C0 and C1 controls other than tab, LF and CR: text that holds them is binary in all but name. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/**
 * Dead-letter text. Bytes (dataType 'binary', the app's binding) that are well-formed UTF-8 without control
 * characters are kept as that text, so a malformed JSON notification stays readable; any other bytes are kept
 * exactly, as `base64:` + their base64, never as lossy text. Strings (dataType 'string') are kept as they are;
 * anything else (a value the worker already parsed) is re-serialised as JSON. A text body that itself starts with
 * `base64:` is indistinguishable from encoded bytes; `RawSize` (bytes) and the text length tell them apart.
 */
export function rawPayload(body: unknown): RawPayload {
  if (isBytes(body)) {
    const text = decodeUtf8(body);
    if (text !== undefined && !CONTROL.test(text)) return { raw: text, rawSize: body.byteLength };
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

/** The body's size in bytes: exact and cheap for bytes and strings, the re-serialised JSON's size otherwise. */
export function payloadSize(body: unknown): number {
  if (isBytes(body)) return body.byteLength;
  if (typeof body === 'string') return Buffer.byteLength(body, 'utf8');
  return rawPayload(body).rawSize;
}

/**
 * Cheap upper-bound check before the exact one: serializing every body just to measure it was the
 * largest single cost of decoding. The walk over-estimates (every character counted as up to 3
 * UTF-8 bytes, generous punctuation), so `false` is a proof the body fits.
 */
export function mayExceed(body: unknown, limit: number): boolean {
  if (typeof body === 'string') return body.length * 3 > limit;
  if (isBytes(body)) return body.byteLength > limit;
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

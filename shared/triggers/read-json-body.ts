import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { errorResponse } from './api-response';
import { ClientAbortedError } from './client-aborted-error';
import { REQUEST_BODY_LIMIT_BYTES } from './request-body-limit';

/** 413 with the limit in the message. */
export function payloadTooLarge(limitBytes: number = REQUEST_BODY_LIMIT_BYTES): HttpResponseInit {
  return errorResponse(413, 'PayloadTooLarge', `request body exceeds the limit of ${limitBytes} bytes`);
}

/** 413 when the request declares (Content-Length) a body larger than the limit; undefined otherwise. */
export function declaredBodyTooLarge(request: HttpRequest, limitBytes: number = REQUEST_BODY_LIMIT_BYTES): HttpResponseInit | undefined {
  const declared = request.headers.get('content-length');
  return declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > limitBytes ? payloadTooLarge(limitBytes) : undefined;
}

/**
 * Reads the body stream up to `limitBytes`: the bytes, or 'tooLarge' as soon as more arrived (the rest is never read:
 * the stream is cancelled). `request.text()` would buffer whatever the client sends; with `enableHttpStream` (see
 * register-functions.ts) `request.body` is the socket's stream in Azure as in the standalone host.
 * Throws ClientAbortedError when the stream fails (the client went away mid-body).
 */
async function readCapped(request: HttpRequest, limitBytes: number): Promise<Buffer | 'tooLarge'> {
  const stream = request.body;
  if (stream === null) return Buffer.alloc(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  try {
    for (;;) {
      const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
      if (done) break;
      if (!value) continue;
      received += value.byteLength;
      if (received > limitBytes) {
        await reader.cancel().catch(() => undefined);
        return 'tooLarge';
      }
      chunks.push(value);
    }
  } catch (error) {
    throw new ClientAbortedError({ cause: error });
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The request's JSON body; undefined for an empty one. Answers 413 for a body over REQUEST_BODY_LIMIT_BYTES
 * (declared or counted while reading, so a chunked body is cut off at the limit too) and 400 for one that is not
 * UTF-8 JSON.
 */
export async function readJsonBody(
  request: HttpRequest,
  limitBytes: number = REQUEST_BODY_LIMIT_BYTES,
): Promise<{ ok: true; body: unknown } | { ok: false; response: HttpResponseInit }> {
  const declared = declaredBodyTooLarge(request, limitBytes);
  if (declared) return { ok: false, response: declared };
  const bytes = await readCapped(request, limitBytes);
  if (bytes === 'tooLarge') return { ok: false, response: payloadTooLarge(limitBytes) };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, response: errorResponse(400, 'BadRequest', 'body is not valid UTF-8') };
  }
  if (text.trim() === '') return { ok: true, body: undefined };
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, response: errorResponse(400, 'BadRequest', 'body is not valid JSON') };
  }
}

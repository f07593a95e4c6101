import type { HttpRequest, HttpResponseInit } from '@azure/functions';

/** The request's JSON body; undefined for an empty one. A body that is not JSON answers 400 instead. */
export async function readJsonBody(request: HttpRequest): Promise<{ ok: true; body: unknown } | { ok: false; response: HttpResponseInit }> {
  const text = await request.text();
  if (text.trim() === '') return { ok: true, body: undefined };
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, response: { status: 400, jsonBody: { error: 'BadRequest', message: 'body is not valid JSON' } } };
  }
}

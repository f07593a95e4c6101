import type { HttpResponse, HttpResponseInit } from '@azure/functions';

/** A service's answer to an API call: the status and the JSON body (none for 204). */
export interface ApiAnswer {
  status: number;
  body?: unknown;
}

/**
 * Headers on every API answer, in Azure Functions and in the standalone host alike: browsers must not sniff a JSON
 * or CSV answer into something executable, and no cache may keep one (they describe state that changes with every
 * event and sweep, and may name devices).
 */
export const API_RESPONSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
});

/** The `error` of an error answer `{ error, message }`: what kind of failure, never an internal name. */
export type ApiErrorCode =
  | 'BadRequest'
  | 'Unauthorized'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'RequestTimeout'
  | 'PayloadTooLarge'
  | 'HeadersTooLarge'
  | 'InternalError'
  | 'ConfigurationError'
  | 'ServiceUnavailable';

export function toHttpResponse(answer: ApiAnswer): HttpResponseInit {
  return answer.body === undefined
    ? { status: answer.status, headers: { ...API_RESPONSE_HEADERS } }
    : { status: answer.status, jsonBody: answer.body, headers: { ...API_RESPONSE_HEADERS } };
}

/** An error answer: `{ error, message }` (plus `requestId` where the detail went to the log), JSON, no stack, no internal names. */
export function errorResponse(
  status: number,
  error: ApiErrorCode,
  message: string,
  options: { headers?: Record<string, string>; requestId?: string } = {},
): HttpResponseInit {
  const body: { error: ApiErrorCode; message: string; requestId?: string } = { error, message };
  if (options.requestId !== undefined) body.requestId = options.requestId;
  return { status, jsonBody: body, headers: { ...API_RESPONSE_HEADERS, ...options.headers } };
}

/** Adds the API headers a handler's answer lacks (a handler may set its own Cache-Control, never drop nosniff). */
export function withApiHeaders(response: HttpResponseInit): HttpResponseInit;
export function withApiHeaders(response: HttpResponse): HttpResponse;
export function withApiHeaders(response: HttpResponseInit | HttpResponse): HttpResponseInit | HttpResponse {
  const headers = 'arrayBuffer' in response ? response.headers : new Headers(response.headers);
  for (const [name, value] of Object.entries(API_RESPONSE_HEADERS)) if (!headers.has(name)) headers.set(name, value);
  if ('arrayBuffer' in response) return response;
  return { ...response, headers: Object.fromEntries(headers.entries()) };
}

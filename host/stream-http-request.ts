import { HttpRequest, type HttpRequestInit } from '@azure/functions';

export interface StreamHttpRequestInit {
  method: string;
  url: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  params: Record<string, string>;
  /** The body as it arrives; absent for GET and HEAD, as under Functions. */
  body?: AsyncIterable<Uint8Array>;
}

/**
 * Builds the HttpRequest a handler gets under Azure Functions with `enableHttpStream` on: a fetch `Request` whose
 * body is the socket's stream, read only when the handler reads it. This mirrors `createStreamRequest` in
 * @azure/functions 4.16.5 (src/http/HttpRequest.ts), which is not exported: it passes the proxied Node request as
 * the body with `duplex: 'half'` and hands the Request to the HttpRequest constructor as `nativeRequest`, a
 * constructor field the public HttpRequestInit type leaves out (hence the one cast; the version is pinned).
 * `query` is given explicitly (as the Functions host gives it) so the `code` key parameter stays out of it.
 */
export function streamHttpRequest(init: StreamHttpRequestInit): HttpRequest {
  const withBody = init.body !== undefined && init.method !== 'GET' && init.method !== 'HEAD';
  const nativeRequest = new Request(init.url, {
    method: init.method,
    headers: init.headers,
    ...(withBody ? { body: init.body, duplex: 'half' as const } : {}),
  });
  return new HttpRequest({ nativeRequest, query: init.query, params: init.params } as HttpRequestInit);
}

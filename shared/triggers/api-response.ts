import type { HttpResponseInit } from '@azure/functions';

/** A service's answer to an API call: the status and the JSON body (none for 204). */
export interface ApiAnswer {
  status: number;
  body?: unknown;
}

/** API answers are never cached: they describe state that changes with every event and sweep. */
export function toHttpResponse(answer: ApiAnswer): HttpResponseInit {
  return answer.body === undefined
    ? { status: answer.status }
    : { status: answer.status, jsonBody: answer.body, headers: { 'cache-control': 'no-store' } };
}

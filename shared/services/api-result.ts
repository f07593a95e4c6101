/** What an HTTP API use case answers: a status and a JSON body. Handlers in functions/ only encode it. */
export interface ApiResult {
  status: number;
  body: unknown;
}

export function badRequest(message: string): ApiResult {
  return { status: 400, body: { error: 'BadRequest', message } };
}

export function notFound(message: string): ApiResult {
  return { status: 404, body: { error: 'NotFound', message } };
}

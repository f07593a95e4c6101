import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { ConfigError } from '../config/config-error';
import { classifyServiceError, errorMessage, isRetryable, TransientError } from '../errors';
import { errorResponse, withApiHeaders } from './api-response';
import { ClientAbortedError } from './client-aborted-error';
import { loggerFor } from './invocation-logger';
import { declaredBodyTooLarge } from './read-json-body';

/** Retry-After when the failing service named no delay. */
export const DEFAULT_RETRY_AFTER_MS = 5000;

export type ApiHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/** What a failure thrown by a handler answers; the detail goes to the log, never to the client. */
function failureResponse(err: unknown, context: InvocationContext): HttpResponseInit {
  const requestId = context.invocationId;
  const logger = loggerFor(context, { functionName: context.functionName, requestId });
  if (err instanceof ClientAbortedError) {
    logger.info('client aborted');
    return errorResponse(400, 'BadRequest', 'the request body was not received completely', { requestId });
  }
  const classification = classifyServiceError(err);
  if (err instanceof TransientError || isRetryable(classification)) {
    const retryAfterMs = (err instanceof TransientError ? err.retryAfterMs : classification.retryAfterMs) ?? DEFAULT_RETRY_AFTER_MS;
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    logger.warn('HTTP request failed: a backing service is unavailable', { error: errorMessage(err), retryAfterSeconds: seconds });
    return errorResponse(503, 'ServiceUnavailable', 'a backing service is unavailable; retry after the Retry-After delay', {
      headers: { 'retry-after': String(seconds) },
      requestId,
    });
  }
  if (err instanceof ConfigError) {
    // The problems name settings, never a secret value (ConfigError's contract); they go to the log only.
    logger.error('HTTP request failed: the configuration is invalid', { error: errorMessage(err) });
    return errorResponse(500, 'ConfigurationError', 'the function app configuration is invalid; an operator must fix its settings', {
      requestId,
    });
  }
  logger.error('HTTP request failed', { error: errorMessage(err) });
  return errorResponse(500, 'InternalError', 'internal error', { requestId });
}

/**
 * Wraps every HTTP function's handler, so Azure Functions and the standalone host (which runs the same registered
 * handler) answer alike: a declared body over the limit is 413 before the handler runs; a TransientError (or any
 * retryable storage / IoT Hub failure) is 503 with Retry-After (the error's `retryAfterMs`, else 5 s); a ConfigError
 * is 500 `ConfigurationError`; anything else a generic 500 `{ error: 'InternalError', message: 'internal error',
 * requestId }` with the detail logged; every answer carries the API headers (nosniff, no-store).
 */
export function httpHandler(handler: ApiHandler): ApiHandler {
  return async function handleHttp(request, context) {
    const tooLarge = declaredBodyTooLarge(request);
    if (tooLarge) return tooLarge;
    try {
      return withApiHeaders(await handler(request, context));
    } catch (err) {
      return failureResponse(err, context);
    }
  };
}

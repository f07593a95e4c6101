/**
 * Error taxonomy by what the caller should do (retry, record and skip, re-read), plus one classifier
 * for the errors thrown by @azure/data-tables (RestError) and azure-iothub (translated REST errors,
 * whose classes are not exported, so classification is by status code and body error code).
 */
import { redactSecrets } from './logger';

/** A failure worth retrying later: throttling, 5xx, timeouts, connection resets. */
export class TransientError extends Error {
  override readonly name: string = 'TransientError';
  /**
   * How long the caller should wait before trying again: the service's Retry-After when it sent one, otherwise (when
   * retryTransient gave up) the backoff it would have waited next, at least a second. The HTTP API answers 503 with
   * `Retry-After: ceil(retryAfterMs / 1000)`; an enclosing retry waits at least this long.
   */
  readonly retryAfterMs?: number;
  readonly statusCode?: number;

  constructor(message: string, options: { cause?: unknown; retryAfterMs?: number; statusCode?: number } = {}) {
    super(redactSecrets(message), { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
    this.statusCode = options.statusCode;
  }
}

/**
 * One attempt of an outbound call (IoT Hub REST, Table, Queue, Blob) got no answer within OUTBOUND_TIMEOUT_MS and was
 * abandoned (its socket destroyed or its request aborted). Transient: the retry loop tries again within its budget.
 */
export class OutboundTimeoutError extends TransientError {
  override readonly name = 'OutboundTimeoutError';
  readonly timeoutMs: number;

  constructor(what: string, timeoutMs: number, options: { cause?: unknown } = {}) {
    super(`${what} got no answer within ${timeoutMs} ms`, { cause: options.cause });
    this.timeoutMs = timeoutMs;
  }
}

/** A failure that retrying cannot fix (bad request, bad key, quota, schema): record and skip. */
export class PermanentError extends Error {
  override readonly name: string = 'PermanentError';
  readonly statusCode?: number;
  readonly code?: string;

  constructor(message: string, options: { cause?: unknown; statusCode?: number; code?: string } = {}) {
    super(redactSecrets(message), { cause: options.cause });
    this.statusCode = options.statusCode;
    this.code = options.code;
  }
}

/**
 * The resource changed since it was read (HTTP 412). Not retried as-is because the same etag would
 * fail again; the caller re-reads and re-applies.
 */
export class EtagMismatchError extends PermanentError {
  override readonly name = 'EtagMismatchError';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause, statusCode: 412, code: 'PreconditionFailed' });
  }
}

export type ServiceErrorKind =
  'notFound' | 'conflict' | 'preconditionFailed' | 'throttled' | 'transient' | 'unauthorized' | 'badRequest' | 'permanent';

export interface ServiceErrorClassification {
  kind: ServiceErrorKind;
  statusCode?: number;
  /** From `x-ms-retry-after-ms`, `retry-after-ms` or `Retry-After` (seconds or HTTP date). */
  retryAfterMs?: number;
  /** Service error code: RestError `code`, or `ErrorCode:<Code>` from an IoT Hub body, or a socket code. */
  code?: string;
}

const TRANSIENT_STATUS = new Set([408, 500, 502, 503, 504]);
const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'REQUEST_SEND_ERROR',
]);
const TRANSIENT_MESSAGE = /socket hang up|ECONNRESET|ETIMEDOUT|ECONNREFUSED|network timeout/i;

type HeaderBag = { get(name: string): string | undefined } | Record<string, unknown>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function readHeader(headers: unknown, name: string): string | undefined {
  if (!isRecord(headers)) return undefined;
  const bag = headers as HeaderBag;
  if (typeof bag.get === 'function') {
    const value = (bag as { get(name: string): string | undefined }).get(name);
    return typeof value === 'string' ? value : undefined;
  }
  const value = (bag as Record<string, unknown>)[name] ?? (bag as Record<string, unknown>)[name.toLowerCase()];
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

/** Parses a Retry-After value: delta seconds or an HTTP date (relative to `nowMs`). */
export function parseRetryAfter(value: string, nowMs: number): number | undefined {
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function retryAfterFrom(headers: unknown, nowMs: number): number | undefined {
  for (const name of ['x-ms-retry-after-ms', 'retry-after-ms']) {
    const ms = readHeader(headers, name);
    if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  }
  const retryAfter = readHeader(headers, 'retry-after');
  return retryAfter === undefined ? undefined : parseRetryAfter(retryAfter, nowMs);
}

/** Finds `ErrorCode:<Code>` in an IoT Hub body (string or parsed `{ Message }`). */
function iotHubErrorCode(body: unknown): string | undefined {
  let text: string | undefined;
  if (typeof body === 'string') text = body;
  else if (isRecord(body))
    text = typeof body.Message === 'string' ? body.Message : typeof body.message === 'string' ? body.message : undefined;
  const match = text === undefined ? null : /ErrorCode:\s*([A-Za-z0-9]+)/.exec(text);
  return match?.[1];
}

function kindForStatus(statusCode: number): ServiceErrorKind {
  if (statusCode === 404) return 'notFound';
  if (statusCode === 409) return 'conflict';
  if (statusCode === 412) return 'preconditionFailed';
  if (statusCode === 429) return 'throttled';
  if (statusCode === 401 || statusCode === 403) return 'unauthorized';
  if (statusCode === 400) return 'badRequest';
  if (TRANSIENT_STATUS.has(statusCode)) return 'transient';
  return 'permanent';
}

/**
 * Classifies any error thrown by the storage or IoT Hub SDKs (or by this project) by what the caller
 * should do. `nowMs` only matters for a Retry-After given as an HTTP date.
 */
export function classifyServiceError(err: unknown, nowMs: number = Date.now()): ServiceErrorClassification {
  if (err instanceof TransientError) {
    return { kind: err.statusCode === 429 ? 'throttled' : 'transient', statusCode: err.statusCode, retryAfterMs: err.retryAfterMs };
  }
  if (err instanceof EtagMismatchError) return { kind: 'preconditionFailed', statusCode: 412, code: err.code };
  if (err instanceof PermanentError) return { kind: 'permanent', statusCode: err.statusCode, code: err.code };
  if (!isRecord(err)) return { kind: 'permanent' };

  const response = isRecord(err.response) ? err.response : undefined;
  const statusCode =
    typeof err.statusCode === 'number'
      ? err.statusCode
      : typeof response?.statusCode === 'number'
        ? response.statusCode
        : typeof response?.status === 'number'
          ? response.status
          : undefined;
  const socketCode = typeof err.code === 'string' ? err.code : undefined;
  const code = iotHubErrorCode(err.responseBody) ?? socketCode;

  if (statusCode === undefined) {
    const message = typeof err.message === 'string' ? err.message : '';
    const isNetwork =
      (socketCode !== undefined && TRANSIENT_SOCKET_CODES.has(socketCode)) ||
      TRANSIENT_MESSAGE.test(message) ||
      err.name === 'TimeoutError';
    return isNetwork ? { kind: 'transient', code } : { kind: 'permanent', code };
  }

  const classification: ServiceErrorClassification = { kind: kindForStatus(statusCode), statusCode };
  if (code !== undefined) classification.code = code;
  const retryAfterMs = retryAfterFrom(response?.headers, nowMs);
  if (retryAfterMs !== undefined) classification.retryAfterMs = retryAfterMs;
  return classification;
}

/**
 * IoT Hub refused a job because its job slots are taken: one import/export job at a time per hub (409, emulator and
 * IoT Hub), or the tier's concurrent-job quota (403 JobQuotaExceeded, Microsoft.Azure.Devices 403001). Retrying once
 * the other job ends succeeds; it is neither a fault of the request nor worth a tight retry loop.
 */
export function isJobQuotaExceeded(err: unknown): boolean {
  const { code } = classifyServiceError(err);
  return code === 'JobQuotaExceeded' || code === '403001' || code === '409001';
}

/** True when retrying the same request later may succeed. */
export function isRetryable(classification: ServiceErrorClassification): boolean {
  return classification.kind === 'transient' || classification.kind === 'throttled';
}

/** Coerces anything thrown into an Error without losing it (kept as `cause`). */
export function ensureError(err: unknown): Error {
  return err instanceof Error ? err : new Error(errorMessage(err), { cause: err });
}

/** A one-line, secret-free description of anything thrown, for logs and stored failure reasons. */
export function errorMessage(err: unknown): string {
  let text: string;
  if (err instanceof Error) text = err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  else if (typeof err === 'string') text = err;
  else {
    try {
      text = JSON.stringify(err) ?? String(err);
    } catch {
      text = String(err);
    }
  }
  return redactSecrets(text);
}

/** A paging token that this store did not issue (or that was altered): the caller's input, not a fault. */
export class InvalidContinuationTokenError extends Error {
  constructor() {
    super('continuationToken is not a token returned by a previous page');
    this.name = 'InvalidContinuationTokenError';
  }
}

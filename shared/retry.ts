/**
 * Retry with full-jitter exponential backoff inside a time budget: the one retry layer of every outbound call. The
 * SDK clients are built with their own retries off (shared/adapters/table-clients.ts, storage-clients.ts; azure-iothub's
 * Registry never retries), so the budget, not a product of two retry policies, bounds how long a call may take:
 * at most `budgetMs` plus one attempt's timeout (OUTBOUND_TIMEOUT_MS).
 */
import { classifyServiceError, errorMessage, isRetryable, OutboundTimeoutError, TransientError } from './errors';
import type { LogFields, Logger } from './logger';

export interface RetryInfo {
  /** The attempt that just failed (1-based). */
  attempt: number;
  /** How long we wait before the next attempt. */
  delayMs: number;
  kind: string;
  statusCode?: number;
}

export interface RetryOptions {
  /** Total time allowed, measured from the first attempt; a wait that would end past it is not started. */
  budgetMs: number;
  /** First backoff ceiling; doubles per attempt. Default 200. */
  baseDelayMs?: number;
  /** Cap on the exponential backoff ceiling (not on a service-requested Retry-After). Default 10000. */
  maxDelayMs?: number;
  /** Used in the give-up message and as the retry line's `operation`, e.g. "getModule(d1)". */
  operationName?: string;
  /**
   * Per-attempt timeout for operations that take an AbortSignal (Queue and Blob calls: `{ abortSignal }`): each attempt
   * gets a signal that aborts after this long, and a failure once it fired is an OutboundTimeoutError (transient).
   */
  attemptTimeoutMs?: number;
  /** Each retry is logged here at WARN (rate-limit it: shared/rate-limited-logger.ts). */
  logger?: Logger;
  /** The retry line's message. Default "call retried". */
  retryMessage?: string;
  /** Fields of the retry line besides attempt, delayMs, kind, statusCode and error; `operation` defaults to operationName. */
  logFields?: LogFields;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  onRetry?: (info: RetryInfo) => void;
}

/** Resolves after `ms` milliseconds. */
export function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs one attempt, aborting it through its signal after `timeoutMs` (when given). */
async function runAttempt<T>(
  operation: (attempt: number, signal?: AbortSignal) => Promise<T>,
  attempt: number,
  timeoutMs: number | undefined,
  name: string,
): Promise<T> {
  if (timeoutMs === undefined) return operation(attempt);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await operation(attempt, controller.signal);
  } catch (err) {
    // An answer the service did give (a status code) keeps its meaning, even if it came as the timer fired.
    if (controller.signal.aborted && classifyServiceError(err).statusCode === undefined)
      throw new OutboundTimeoutError(name, timeoutMs, { cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `operation` until it succeeds, a non-retryable error occurs (rethrown as is), or the budget is
 * spent (TransientError with the last failure as `cause`, so the invocation fails and the platform
 * retries). When the service sent Retry-After (or x-ms-retry-after-ms), the wait is at least that long: waiting less
 * only earns another 429. When even that wait would end past the budget, it gives up at once instead of sleeping.
 */
export async function retryTransient<T>(
  operation: (attempt: number, signal?: AbortSignal) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const baseDelayMs = options.baseDelayMs ?? 200;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? sleepMs;
  const now = options.now ?? Date.now;
  const name = options.operationName ?? 'operation';
  const startedAt = now();

  for (let attempt = 1; ; attempt += 1) {
    try {
      return await runAttempt(operation, attempt, options.attemptTimeoutMs, name);
    } catch (err) {
      const classification = classifyServiceError(err, now());
      if (!isRetryable(classification)) throw err;

      const backoffCeiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      let delayMs = Math.floor(random() * backoffCeiling);
      if (classification.retryAfterMs !== undefined) {
        // Spread clients that got the same Retry-After so they do not return in lockstep.
        const jitter = Math.floor(random() * Math.min(baseDelayMs, 1000));
        delayMs = Math.max(delayMs, classification.retryAfterMs + jitter);
      }

      const elapsedMs = now() - startedAt;
      if (elapsedMs + delayMs > options.budgetMs) {
        throw new TransientError(`${name} gave up after ${attempt} attempts in ${elapsedMs} ms: ${errorMessage(err)}`, {
          cause: err,
          retryAfterMs: classification.retryAfterMs ?? Math.max(1000, backoffCeiling),
          statusCode: classification.statusCode,
        });
      }
      const info: RetryInfo = { attempt, delayMs, kind: classification.kind, statusCode: classification.statusCode };
      options.onRetry?.(info);
      options.logger?.warn(options.retryMessage ?? 'call retried', {
        operation: name,
        ...options.logFields,
        ...info,
        error: errorMessage(err),
      });
      await sleep(delayMs);
    }
  }
}

/**
 * Retry with full-jitter exponential backoff inside a time budget. Neither the IoT Hub Registry nor
 * our batching does retries of its own, so every service call goes through here.
 */
import { classifyServiceError, errorMessage, isRetryable, TransientError } from './errors';

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
  /** Used in the give-up message, e.g. "getModule". */
  operationName?: string;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  onRetry?: (info: RetryInfo) => void;
}

/** Resolves after `ms` milliseconds. */
export function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `operation` until it succeeds, a non-retryable error occurs (rethrown as is), or the budget is
 * spent (TransientError with the last failure as `cause`, so the invocation fails and the platform
 * retries). When the service sent Retry-After, the wait is at least that long: waiting less only
 * earns another 429.
 */
export async function retryTransient<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const baseDelayMs = options.baseDelayMs ?? 200;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? sleepMs;
  const now = options.now ?? Date.now;
  const startedAt = now();

  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation(attempt);
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
        const name = options.operationName ?? 'operation';
        throw new TransientError(`${name} gave up after ${attempt} attempts in ${elapsedMs} ms: ${errorMessage(err)}`, {
          cause: err,
          retryAfterMs: classification.retryAfterMs,
          statusCode: classification.statusCode,
        });
      }
      options.onRetry?.({ attempt, delayMs, kind: classification.kind, statusCode: classification.statusCode });
      await sleep(delayMs);
    }
  }
}

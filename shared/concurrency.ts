/** Bounded parallelism and rate limiting for fan-out over devices, partitions and pages. */
import { sleepMs } from './retry';

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

/**
 * Maps `items` with at most `limit` calls of `fn` in flight; results keep input order. On the first
 * failure no new work starts, and the promise rejects with that error once the in-flight calls have
 * settled (so no work is left running behind the caller's back).
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  assertPositiveInteger('limit', limit);
  const results = new Array<R>(items.length);
  let nextIndex = 0;
  let failure: { error: unknown } | undefined;

  const worker = async (): Promise<void> => {
    while (failure === undefined && nextIndex < items.length) {
      const index = nextIndex;
      nextIndex += 1;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };

  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}

export interface TokenBucketOptions {
  /** Tokens added per interval (e.g. IoT Hub's 100 registry operations per minute per unit). */
  ratePerInterval: number;
  intervalMs: number;
  /** Burst size; defaults to `ratePerInterval`. The bucket starts full. */
  capacity?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A FIFO token bucket: `take()` resolves when a token is available, in call order, so a burst of
 * callers is spread out at the configured rate instead of tripping the service's throttle.
 */
export class TokenBucket {
  private readonly refillPerMs: number;
  private readonly capacity: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private tokens: number;
  private lastRefill: number;
  private queueTail: Promise<void> = Promise.resolve();

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerInterval > 0)) throw new RangeError(`ratePerInterval must be > 0, got ${options.ratePerInterval}`);
    if (!(options.intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${options.intervalMs}`);
    this.capacity = options.capacity ?? options.ratePerInterval;
    if (!(this.capacity >= 1)) throw new RangeError(`capacity must be >= 1, got ${this.capacity}`);
    this.refillPerMs = options.ratePerInterval / options.intervalMs;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleepMs;
    this.tokens = this.capacity;
    this.lastRefill = this.now();
  }

  /** Waits for and consumes one token. */
  take(): Promise<void> {
    const turn = this.queueTail.then(() => this.acquire());
    this.queueTail = turn.catch(() => undefined);
    return turn;
  }

  private refill(): void {
    const at = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + (at - this.lastRefill) * this.refillPerMs);
    this.lastRefill = at;
  }

  private async acquire(): Promise<void> {
    for (;;) {
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.sleep(Math.max(1, Math.ceil((1 - this.tokens) / this.refillPerMs)));
    }
  }
}

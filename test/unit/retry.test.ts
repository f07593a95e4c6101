import { mapWithConcurrency, TokenBucket } from '../../shared/concurrency';
import { classifyServiceError, OutboundTimeoutError, PermanentError, TransientError } from '../../shared/errors';
import type { LogFields } from '../../shared/logger';
import { retryTransient, type RetryInfo } from '../../shared/retry';

function fakeClock(start = 0): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let time = start;
  const slept: number[] = [];
  const sleep = (ms: number): Promise<void> => {
    slept.push(ms);
    time += ms;
    return Promise.resolve();
  };
  return { now: () => time, sleep, slept };
}

const throttled = (retryAfterMs?: number): TransientError => new TransientError('429', { statusCode: 429, retryAfterMs });

/** Work that takes `n` turns of the promise job queue: orders completions without waiting on the clock. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe('retryTransient', () => {
  it.each([
    // [failures before success, random, expected sleeps]
    [0, 0.5, []],
    [3, 0.5, [100, 200, 400]],
    [3, 0, [0, 0, 0]],
  ])('full jitter: %i failures with random=%d sleeps %p', async (failures, random, expected) => {
    const clock = fakeClock();
    let calls = 0;
    const result = await retryTransient(
      () => {
        calls += 1;
        if (calls <= failures) return Promise.reject(new TransientError('503', { statusCode: 503 }));
        return Promise.resolve('ok');
      },
      { budgetMs: 10_000, random: () => random, ...clock },
    );
    expect(result).toBe('ok');
    expect(clock.slept).toEqual(expected);
  });

  it('caps the backoff ceiling at maxDelayMs', async () => {
    const clock = fakeClock();
    let calls = 0;
    await retryTransient(() => ((calls += 1) <= 6 ? Promise.reject(new TransientError('503')) : Promise.resolve()), {
      budgetMs: 1e6,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      random: () => 0.999,
      ...clock,
    });
    expect(clock.slept).toEqual([99, 199, 399, 799, 999, 999]);
  });

  it('waits at least Retry-After plus bounded jitter', async () => {
    const clock = fakeClock();
    let calls = 0;
    const infos: RetryInfo[] = [];
    await retryTransient(() => ((calls += 1) <= 2 ? Promise.reject(throttled(1000)) : Promise.resolve()), {
      budgetMs: 10_000,
      random: () => 0.5,
      onRetry: (info) => infos.push(info),
      ...clock,
    });
    expect(clock.slept).toEqual([1100, 1100]);
    expect(infos).toEqual([
      { attempt: 1, delayMs: 1100, kind: 'throttled', statusCode: 429 },
      { attempt: 2, delayMs: 1100, kind: 'throttled', statusCode: 429 },
    ]);
  });

  it('rethrows non-retryable errors at once', async () => {
    const clock = fakeClock();
    const permanent = new PermanentError('bad');
    await expect(retryTransient(() => Promise.reject(permanent), { budgetMs: 1000, ...clock })).rejects.toBe(permanent);
    expect(clock.slept).toEqual([]);
  });

  it('gives up with TransientError carrying the last cause when the next wait would exceed the budget', async () => {
    const clock = fakeClock();
    const last = throttled(400);
    const error = await retryTransient(() => Promise.reject(last), {
      budgetMs: 1000,
      random: () => 0,
      operationName: 'getModule(d1)',
      ...clock,
    }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).message).toBe('getModule(d1) gave up after 3 attempts in 800 ms: TransientError: 429');
    expect((error as TransientError).cause).toBe(last);
    expect((error as TransientError).retryAfterMs).toBe(400);
    expect(clock.slept).toEqual([400, 400]);
  });

  /** A RestError-shaped 429 (what @azure/data-tables and the storage SDKs throw) with the given response headers. */
  function restError(statusCode: number, headers: Record<string, string>): Error {
    const lower = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
    return Object.assign(new Error(`status ${statusCode}`), {
      statusCode,
      response: { status: statusCode, headers: { get: (name: string) => lower.get(name.toLowerCase()) } },
    });
  }

  it.each([
    ['Retry-After in seconds', { 'Retry-After': '3' }, 3000],
    ['Retry-After as an HTTP date', { 'Retry-After': new Date(Date.UTC(2024, 4, 1, 12, 0, 5)).toUTCString() }, 5000],
    ['x-ms-retry-after-ms', { 'x-ms-retry-after-ms': '1500' }, 1500],
    ['x-ms-retry-after-ms over Retry-After', { 'x-ms-retry-after-ms': '250', 'Retry-After': '9' }, 250],
  ])('takes %s as the floor of the next wait', async (_label, headers, floorMs) => {
    const clock = fakeClock(Date.UTC(2024, 4, 1, 12, 0, 0));
    let calls = 0;
    await retryTransient(() => ((calls += 1) === 1 ? Promise.reject(restError(429, headers)) : Promise.resolve()), {
      budgetMs: 60_000,
      random: () => 0,
      ...clock,
    });
    expect(clock.slept).toEqual([floorMs]);
  });

  it('fails fast, without sleeping, when the wait Retry-After asks for would end past the budget', async () => {
    const clock = fakeClock();
    let calls = 0;
    const error = await retryTransient(
      () => {
        calls += 1;
        return Promise.reject(restError(429, { 'Retry-After': '5' }));
      },
      { budgetMs: 3000, random: () => 0, ...clock },
    ).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TransientError);
    expect([calls, clock.slept, (error as TransientError).retryAfterMs, (error as TransientError).statusCode]).toEqual([1, [], 5000, 429]);
  });

  it('without a Retry-After, the give-up error suggests the next backoff ceiling (at least 1 s) as retryAfterMs', async () => {
    const clock = fakeClock();
    const error = await retryTransient(() => Promise.reject(new TransientError('503', { statusCode: 503 })), {
      budgetMs: 5000,
      random: () => 0.999,
      ...clock,
    }).catch((err: unknown) => err);
    // Waits 199, 399, 799, 1598 (elapsed 2995); the next (ceiling 3200) would end past 5000.
    expect(clock.slept).toEqual([199, 399, 799, 1598]);
    expect((error as TransientError).retryAfterMs).toBe(3200);
  });

  it('logs each retry at WARN with the operation, the attempt, the wait and the failure', async () => {
    const clock = fakeClock();
    const lines: { message: string; fields?: LogFields }[] = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      error: () => undefined,
      warn: (message: string, fields?: LogFields) => lines.push({ message, fields }),
    };
    let calls = 0;
    await retryTransient(() => ((calls += 1) === 1 ? Promise.reject(throttled(1000)) : Promise.resolve()), {
      budgetMs: 10_000,
      random: () => 0,
      operationName: 'getModule(d1/sec)',
      logger,
      retryMessage: 'IoT Hub registry call retried',
      logFields: { operation: 'getModule', deviceId: 'd1' },
      ...clock,
    });
    expect(lines).toEqual([
      {
        message: 'IoT Hub registry call retried',
        fields: {
          operation: 'getModule',
          deviceId: 'd1',
          attempt: 1,
          delayMs: 1000,
          kind: 'throttled',
          statusCode: 429,
          error: 'TransientError: 429',
        },
      },
    ]);
  });

  it('aborts an attempt after attemptTimeoutMs through its signal, and retries it as an OutboundTimeoutError', async () => {
    const clock = fakeClock();
    const signals: (AbortSignal | undefined)[] = [];
    const result = await retryTransient(
      (attempt, signal) => {
        signals.push(signal);
        if (attempt > 1) return Promise.resolve('answered');
        // Never answers on its own: only the abort ends it.
        return new Promise<string>((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted'))));
      },
      { budgetMs: 10_000, attemptTimeoutMs: 5, random: () => 0, ...clock, onRetry: (info) => expect(info.kind).toBe('transient') },
    );
    expect(result).toBe('answered');
    expect(signals.map((signal) => signal?.aborted)).toEqual([true, false]);
  });

  it('classifies OutboundTimeoutError as transient', () => {
    expect(classifyServiceError(new OutboundTimeoutError('GET /x', 1000))).toEqual({ kind: 'transient' });
  });
});

describe('mapWithConcurrency', () => {
  it('keeps order and never exceeds the limit', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await mapWithConcurrency([5, 1, 3, 2, 4], 2, async (item, index) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await turns(item);
      inFlight -= 1;
      return item * 10 + index;
    });
    expect(results).toEqual([50, 11, 32, 23, 44]);
    expect(peak).toBe(2);
  });

  it('stops starting work after the first failure and rejects once in-flight work settled', async () => {
    const started: number[] = [];
    let settled = 0;
    const failure = new Error('item 1 failed');
    await expect(
      mapWithConcurrency([0, 1, 2, 3, 4], 2, async (item) => {
        started.push(item);
        await turns(item === 0 ? 20 : 1);
        settled += 1;
        if (item === 1) throw failure;
        return item;
      }),
    ).rejects.toBe(failure);
    expect(started).toEqual([0, 1]);
    expect(settled).toBe(2);
  });

  it('rejects a non-positive limit', async () => {
    await expect(mapWithConcurrency([1], 0, (x) => Promise.resolve(x))).rejects.toThrow(RangeError);
  });
});

describe('TokenBucket', () => {
  it('allows a burst of capacity, then spaces takes at the refill rate in call order', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ ratePerInterval: 2, intervalMs: 1000, ...clock });
    const order: number[] = [];
    await Promise.all([1, 2, 3, 4].map((n) => bucket.take().then(() => order.push(n))));
    expect(order).toEqual([1, 2, 3, 4]);
    expect(clock.slept).toEqual([500, 500]);
  });
});

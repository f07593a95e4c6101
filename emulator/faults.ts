/**
 * Fault injection for the emulated registry REST API: per-operation-class throttling (token buckets sized
 * from the IoT Hub quota table or explicit rates), scripted 429s and 5xx, random 5xx, and added latency.
 * Everything is off by default.
 */

/**
 * The quota classes IoT Hub throttles separately. `jobs`: jobs operations (create, get, list of import/export jobs),
 * 100/min/unit on S1 and S2, 5,000/min/unit on S3; `configurations`: automatic configurations and Edge deployments
 * (create, update, list, get, delete), 20/min/unit on every tier (iot-hub-devguide-quotas-throttling; reference
 * limits.md B3).
 */
export type OperationClass = 'registry' | 'query' | 'twinRead' | 'twinUpdate' | 'jobs' | 'configurations';

export const OPERATION_CLASSES: readonly OperationClass[] = ['registry', 'query', 'twinRead', 'twinUpdate', 'jobs', 'configurations'];

/**
 * How fast an import job applies its lines: it waits `startDelayMs` in `enqueued`, then applies at most
 * `linesPerSecond`. IoT Hub documents no import-job throughput (iot-hub-bulk-identity-mgmt names none), so the tier
 * model is an assumption, chosen conservatively: 10 s queued, then 50 lines/s per unit on S1 and S2 and 500 per
 * unit on S3 — 3,000 modules in about 70 s, 50,000 in about 17 minutes on one S1 unit. Off (as fast as the emulator
 * can) unless a tier is configured or pacing is set explicitly.
 */
export interface ImportJobPacing {
  startDelayMs: number;
  linesPerSecond: number;
}

export function importJobPacingForTier(tier: HubTier, units: number): ImportJobPacing {
  if (!Number.isFinite(units) || units < 1) throw new RangeError(`units must be ≥ 1, got ${units}`);
  return { startDelayMs: 10_000, linesPerSecond: (tier === 'S3' ? 500 : 50) * units };
}

export type HubTier = 'S1' | 'S2' | 'S3';

/** A sustained rate with a burst capacity (defaults to one second, or one minute for per-minute quotas). */
export interface Rate {
  perSecond: number;
  burst?: number;
}

export type ThrottleConfig = { tier: HubTier; units: number } | { rates: Partial<Record<OperationClass, Rate>> };

export type FaultDecision = { kind: 'pass' } | { kind: 'throttle'; retryAfterSeconds: number } | { kind: 'fail'; status: 500 | 503 };

/**
 * The IoT Hub quota table (S1/S2/S3 per unit). Per-minute quotas get a one-minute burst, which is how the
 * hub's traffic shaping behaves for short spikes.
 */
export function ratesForTier(tier: HubTier, units: number): Record<OperationClass, Rate> {
  if (!Number.isFinite(units) || units < 1) throw new RangeError(`units must be ≥ 1, got ${units}`);
  const perMinute = (count: number): Rate => ({ perSecond: count / 60, burst: count });
  const perSecond = (count: number): Rate => ({ perSecond: count, burst: count });
  switch (tier) {
    case 'S1':
      return {
        registry: perMinute(100 * units),
        query: perMinute(20 * units),
        twinRead: perSecond(100),
        twinUpdate: perSecond(50),
        jobs: perMinute(100 * units),
        configurations: perMinute(20 * units),
      };
    case 'S2':
      return {
        registry: perMinute(100 * units),
        query: perMinute(20 * units),
        twinRead: perSecond(Math.max(100, 10 * units)),
        twinUpdate: perSecond(Math.max(50, 5 * units)),
        jobs: perMinute(100 * units),
        configurations: perMinute(20 * units),
      };
    case 'S3':
      return {
        registry: perMinute(5000 * units),
        query: perMinute(1000 * units),
        twinRead: perSecond(500 * units),
        twinUpdate: perSecond(250 * units),
        jobs: perMinute(5000 * units),
        configurations: perMinute(20 * units),
      };
  }
}

class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private readonly capacity: number;

  constructor(
    private readonly rate: Rate,
    private readonly clock: () => number,
  ) {
    this.capacity = Math.max(1, rate.burst ?? rate.perSecond);
    this.tokens = this.capacity;
    this.updatedAt = clock();
  }

  /** Takes a token, or returns the whole seconds until one is available. */
  take(): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = this.clock();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) / 1000) * this.rate.perSecond);
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    const seconds = (1 - this.tokens) / this.rate.perSecond;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(seconds)) };
  }
}

export interface FaultInjectorOptions {
  /** Milliseconds clock for the token buckets (injectable for tests). */
  clock?: () => number;
  /** Uniform [0,1) source for failure probabilities. */
  random?: () => number;
}

/**
 * Decides, per request, whether the emulator answers normally, throttles (429) or fails (5xx), and how long
 * it waits first. Scripted faults (`throttleNext`, `failNext`) win over probabilities and buckets.
 */
export class FaultInjector {
  private buckets = new Map<OperationClass, TokenBucket>();
  private readonly scripted = new Map<OperationClass, FaultDecision[]>();
  private readonly probabilities = new Map<OperationClass, { probability: number; status: 500 | 503 }>();
  private latency: Partial<Record<OperationClass, number>> = {};
  private pacing: ImportJobPacing | undefined;
  private readonly counted = new Map<OperationClass, { requests: number; throttled: number }>();
  private readonly clock: () => number;
  private readonly random: () => number;

  constructor(options: FaultInjectorOptions = {}) {
    this.clock = options.clock ?? (() => Date.now());
    this.random = options.random ?? Math.random;
  }

  /**
   * Turns throttling on (from a tier or explicit rates) or off (`null`). Buckets start full. A tier also paces import
   * jobs ({@link importJobPacingForTier}); explicit rates leave the pacing as it is.
   */
  configureThrottling(config: ThrottleConfig | null): void {
    this.buckets = new Map();
    if (config === null) {
      this.pacing = undefined;
      return;
    }
    if ('tier' in config) this.pacing = importJobPacingForTier(config.tier, config.units);
    const rates = 'tier' in config ? ratesForTier(config.tier, config.units) : config.rates;
    for (const opClass of OPERATION_CLASSES) {
      const rate = rates[opClass];
      if (rate) {
        if (!(rate.perSecond > 0)) throw new RangeError(`${opClass} rate must be > 0`);
        this.buckets.set(opClass, new TokenBucket(rate, this.clock));
      }
    }
  }

  /** The next `count` requests of `opClass` get 429 with `Retry-After: retryAfterSeconds` (integer ≥ 1). */
  throttleNext(opClass: OperationClass, count = 1, retryAfterSeconds = 1): void {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    this.enqueue(opClass, count, { kind: 'throttle', retryAfterSeconds: seconds });
  }

  /** The next `count` requests of `opClass` fail with `status` (500 InternalServerError or 503 ServiceUnavailable). */
  failNext(opClass: OperationClass, count = 1, status: 500 | 503 = 500): void {
    this.enqueue(opClass, count, { kind: 'fail', status });
  }

  /** Each request of `opClass` fails with `status` with this probability (0 turns it off). */
  setFailureProbability(opClass: OperationClass, probability: number, status: 500 | 503 = 503): void {
    if (!(probability >= 0 && probability <= 1)) throw new RangeError('probability must be within [0, 1]');
    if (probability === 0) this.probabilities.delete(opClass);
    else this.probabilities.set(opClass, { probability, status });
  }

  /** Adds latency before every response: one value for all classes, or per class. */
  setLatency(ms: number | Partial<Record<OperationClass, number>>): void {
    this.latency = typeof ms === 'number' ? Object.fromEntries(OPERATION_CLASSES.map((c) => [c, ms])) : { ...ms };
  }

  /** Paces import jobs (`null`: as fast as the emulator can). Applies to jobs created afterwards. */
  setImportJobPacing(pacing: ImportJobPacing | null): void {
    if (pacing !== null && !(pacing.linesPerSecond > 0 && pacing.startDelayMs >= 0)) {
      throw new RangeError('import job pacing needs linesPerSecond > 0 and startDelayMs ≥ 0');
    }
    this.pacing = pacing ?? undefined;
  }

  /** The pacing of import jobs created now, if any. */
  get importJobPacing(): ImportJobPacing | undefined {
    return this.pacing && { ...this.pacing };
  }

  latencyFor(opClass: OperationClass): number {
    return this.latency[opClass] ?? 0;
  }

  /** Clears every fault and turns throttling off. */
  reset(): void {
    this.buckets = new Map();
    this.scripted.clear();
    this.probabilities.clear();
    this.latency = {};
    this.pacing = undefined;
  }

  /** Requests decided per class since start (benchmarks count a workload's calls with it), and how many got 429. */
  requestCounts(): Record<OperationClass, { requests: number; throttled: number }> {
    return Object.fromEntries(OPERATION_CLASSES.map((c) => [c, { ...(this.counted.get(c) ?? { requests: 0, throttled: 0 }) }])) as Record<
      OperationClass,
      { requests: number; throttled: number }
    >;
  }

  /** Consumes scripted faults and bucket tokens for one request. */
  decide(opClass: OperationClass): FaultDecision {
    const decision = this.decideOnce(opClass);
    const count = this.counted.get(opClass) ?? { requests: 0, throttled: 0 };
    count.requests += 1;
    if (decision.kind === 'throttle') count.throttled += 1;
    this.counted.set(opClass, count);
    return decision;
  }

  private decideOnce(opClass: OperationClass): FaultDecision {
    const queue = this.scripted.get(opClass);
    const scripted = queue?.shift();
    if (scripted) return scripted;
    const failure = this.probabilities.get(opClass);
    if (failure && this.random() < failure.probability) return { kind: 'fail', status: failure.status };
    const bucket = this.buckets.get(opClass);
    if (bucket) {
      const result = bucket.take();
      if (!result.ok) return { kind: 'throttle', retryAfterSeconds: result.retryAfterSeconds };
    }
    return { kind: 'pass' };
  }

  private enqueue(opClass: OperationClass, count: number, decision: FaultDecision): void {
    const queue = this.scripted.get(opClass) ?? [];
    for (let i = 0; i < count; i++) queue.push(decision);
    this.scripted.set(opClass, queue);
  }
}

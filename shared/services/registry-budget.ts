/**
 * A DeviceRegistry decorator that keeps a sweep inside its share of the hub's quotas: queries and registry/twin
 * operations each wait for a token (SWEEP_QUERIES_PER_MINUTE, SWEEP_REGISTRY_OPS_PER_MINUTE), so a sweep never
 * starves the devices' own traffic; 429s that still happen are retried with Retry-After by the adapter underneath
 * and counted here through {@link RegistryMeter.recordRetry}.
 */
import { TokenBucket } from '../concurrency';
import type { Logger, LogFields } from '../logger';
import type { DeviceRegistry, ModuleTwin, TwinQueryPage } from '../ports/device-registry';
import type { ModuleAuthentication } from '../domain/module-authentication';
import type { JsonObject } from '../domain/types';

/** Running totals; callers take deltas around a unit of work. */
export class RegistryMeter {
  queries = 0;
  operations = 0;
  throttles = 0;

  /** Feed it the adapter's retry notices (see {@link meteringLogger}). */
  recordRetry(fields: LogFields | undefined): void {
    if (fields?.['kind'] === 'throttled' || fields?.['statusCode'] === 429) this.throttles += 1;
  }

  snapshot(): { queries: number; operations: number; throttles: number } {
    return { queries: this.queries, operations: this.operations, throttles: this.throttles };
  }
}

/** Wraps a logger so the registry adapter's "call retried" warnings also count throttles on `meter`. */
export function meteringLogger(meter: RegistryMeter, inner: Logger): Logger {
  return {
    debug: (message, fields) => inner.debug(message, fields),
    info: (message, fields) => inner.info(message, fields),
    warn: (message, fields) => {
      meter.recordRetry(fields);
      inner.warn(message, fields);
    },
    error: (message, fields) => inner.error(message, fields),
  };
}

export interface RegistryBudget {
  queriesPerMinute: number;
  operationsPerMinute: number;
}

export class BudgetedRegistry implements DeviceRegistry {
  private readonly queryBucket: TokenBucket;
  private readonly operationBucket: TokenBucket;

  constructor(
    private readonly inner: DeviceRegistry,
    readonly meter: RegistryMeter,
    budget: RegistryBudget,
  ) {
    // Capacity of a tenth of a minute: a sweep may burst briefly but cannot take a whole minute's quota at once.
    this.queryBucket = new TokenBucket({
      ratePerInterval: budget.queriesPerMinute,
      intervalMs: 60_000,
      capacity: Math.max(1, Math.ceil(budget.queriesPerMinute / 10)),
    });
    this.operationBucket = new TokenBucket({
      ratePerInterval: budget.operationsPerMinute,
      intervalMs: 60_000,
      capacity: Math.max(1, Math.ceil(budget.operationsPerMinute / 10)),
    });
  }

  private async operation<T>(call: () => Promise<T>): Promise<T> {
    await this.takeOperation();
    return call();
  }

  /** Waits for one registry-operation token and counts it: for registry calls made outside this class (mitigations). */
  async takeOperation(): Promise<void> {
    await this.operationBucket.take();
    this.meter.operations += 1;
  }

  getDevice(deviceId: string) {
    return this.operation(() => this.inner.getDevice(deviceId));
  }

  getModule(deviceId: string, moduleId: string) {
    return this.operation(() => this.inner.getModule(deviceId, moduleId));
  }

  createModule(deviceId: string, moduleId: string, authentication: ModuleAuthentication) {
    return this.operation(() => this.inner.createModule(deviceId, moduleId, authentication));
  }

  getModuleTwin(deviceId: string, moduleId: string): Promise<ModuleTwin | undefined> {
    return this.operation(() => this.inner.getModuleTwin(deviceId, moduleId));
  }

  updateModuleDesired(deviceId: string, moduleId: string, desiredPatch: JsonObject, etag: string): Promise<ModuleTwin | undefined> {
    return this.operation(() => this.inner.updateModuleDesired(deviceId, moduleId, desiredPatch, etag));
  }

  async queryTwins(query: string, pageSize: number, continuationToken?: string): Promise<TwinQueryPage> {
    await this.queryBucket.take();
    this.meter.queries += 1;
    return this.inner.queryTwins(query, pageSize, continuationToken);
  }

  listConfigurations() {
    return this.operation(() => this.inner.listConfigurations());
  }
}

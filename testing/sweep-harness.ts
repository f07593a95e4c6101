/**
 * Builds SweepServices around a running IoT Hub emulator: the real IotHubDeviceRegistry (azure-iothub over HTTP)
 * behind the sweep's budget, with in-memory or given stores, and drains the sweep queue.
 */
import type { Registry } from 'azure-iothub';
import { IotHubDeviceRegistry } from '../shared/adapters/iothub-registry';
import { MemoryPostureStore } from '../shared/adapters/memory/memory-posture-store';
import { MemorySuppressionStore } from '../shared/adapters/memory/memory-suppression-store';
import { MemorySweepQueue } from '../shared/adapters/memory/memory-sweep-queue';
import { MemorySweepStore } from '../shared/adapters/memory/memory-sweep-store';
import { closeRegistryClient, createRegistryClient } from '../shared/adapters/registry-client';
import { MICRO_AGENT_MODULE_ID } from '../shared/domain/security-module/module-ids';
import { silentLogger } from '../shared/logger';
import type { DeviceRegistry } from '../shared/ports/device-registry';
import type { PostureStore } from '../shared/ports/posture-store';
import { handleSweepMessage } from '../shared/services/sweep/handle-sweep-message';
import { startSweep } from '../shared/services/sweep/start-sweep';
import type { SweepServices, SweepSettings } from '../shared/services/sweep/sweep-services';
import { BudgetedRegistry, meteringLogger, RegistryMeter } from '../shared/services/registry-budget';
import { ConfigurationCatalog } from '../shared/services/configuration-catalog';
import type { ModuleImportJobs } from '../shared/ports/module-import-jobs';
import type { SuppressionStore } from '../shared/ports/suppression-store';
import type { SweepRun, SweepStore } from '../shared/ports/sweep-store';

export function defaultSweepSettings(overrides: Partial<SweepSettings> = {}): SweepSettings {
  return {
    rules: {
      moduleId: MICRO_AGENT_MODULE_ID,
      schema: 'microAgent',
      baseline: {},
      staleAgentHours: 24,
      inactiveModuleHours: 72,
      requiredModuleAuth: 'any',
    },
    provisionEdgeDevices: false,
    repairRules: new Set(['module-missing', 'baseline-not-applied']),
    shards: 4,
    bucketDevices: 100,
    pageSize: 1000,
    shardTimeBudgetMs: 60_000,
    bulkImportThreshold: 1_000_000,
    writeConcurrency: 16,
    ...overrides,
  };
}

export interface SweepHarness {
  services: SweepServices;
  queue: MemorySweepQueue;
  sweeps: SweepStore;
  posture: PostureStore;
  sdk: Registry;
  /** Starts a sweep and drains the queue; returns the stored run. */
  sweep(options?: { dryRun?: boolean; sweepId?: string; wrapRegistry?: (registry: DeviceRegistry) => DeviceRegistry }): Promise<SweepRun>;
  close(): void;
}

export function sweepHarness(
  hub: { serviceConnectionString: string; registryUrl: string },
  options: {
    settings?: Partial<SweepSettings>;
    sweeps?: SweepStore;
    posture?: PostureStore;
    suppressions?: SuppressionStore;
    imports?: ModuleImportJobs;
    now?: () => Date;
    budget?: { queriesPerMinute: number; operationsPerMinute: number };
    retryBudgetMs?: number;
  } = {},
): SweepHarness {
  const sdk = createRegistryClient({ connectionString: hub.serviceConnectionString, serviceEndpoint: hub.registryUrl });
  const meter = new RegistryMeter();
  const inner = new IotHubDeviceRegistry(sdk, {
    retryBudgetMs: options.retryBudgetMs ?? 30_000,
    logger: meteringLogger(meter, silentLogger),
  });
  const queue = new MemorySweepQueue();
  const sweeps = options.sweeps ?? new MemorySweepStore();
  const posture = options.posture ?? new MemoryPostureStore();
  const budget = options.budget ?? { queriesPerMinute: 1_000_000, operationsPerMinute: 1_000_000 };
  const budgeted = new BudgetedRegistry(inner, meter, budget);
  const now = options.now ?? (() => new Date());
  const services: SweepServices = {
    registry: budgeted,
    configurations: new ConfigurationCatalog(budgeted, { now }),
    meter,
    posture,
    sweeps,
    suppressions: options.suppressions ?? new MemorySuppressionStore(),
    queue,
    imports: options.imports,
    settings: defaultSweepSettings(options.settings),
    now,
    logger: silentLogger,
  };
  let counter = 0;
  return {
    services,
    queue,
    sweeps,
    posture,
    sdk,
    async sweep(run = {}) {
      counter += 1;
      const sweepId = run.sweepId ?? `sw-test-${counter}`;
      const registry = run.wrapRegistry ? run.wrapRegistry(services.registry) : services.registry;
      const scoped = { ...services, registry };
      await startSweep({ sweepId, trigger: 'api', dryRun: run.dryRun ?? false }, scoped);
      await queue.drain((message) => handleSweepMessage(message, scoped).then(() => undefined));
      const stored = await sweeps.getRun(sweepId);
      if (!stored) throw new Error('run vanished');
      return stored.value;
    },
    close() {
      closeRegistryClient(sdk);
    },
  };
}

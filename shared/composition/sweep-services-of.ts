/** The compliance sweep's view of the service graph (the sweep's timer, queue and HTTP functions). */
import type { Config } from '../config/config';
import { silentLogger } from '../logger';
import type { SweepServices, SweepSettings } from '../services/sweep/sweep-services';
import type { ServiceGraph } from './service-graph';

/** The sweep's settings from the validated configuration. */
export function sweepSettingsFrom(config: Config): SweepSettings {
  const sweep = config.compliance;
  return {
    rules: {
      moduleId: config.securityModule.moduleId,
      schema: config.securityModule.schema,
      baseline: config.securityModule.baseline,
      staleAgentHours: config.staleAgentHours,
      inactiveModuleHours: sweep.inactiveModuleHours,
      requiredModuleAuth: sweep.requiredModuleAuth,
    },
    provisionEdgeDevices: config.provisioning.edgeDevices,
    targetCondition: config.provisioning.targetCondition,
    repairRules: new Set(sweep.repairRules),
    shards: sweep.shards,
    bucketDevices: sweep.bucketDevices,
    pageSize: sweep.pageSize,
    shardTimeBudgetMs: sweep.shardTimeBudgetMs,
    bulkImportThreshold: sweep.bulkImportThreshold,
    retentionDays: sweep.retentionDays,
    writeConcurrency: config.postureWriteConcurrency,
  };
}

/** @throws when AzureWebJobsStorage is not set: the sweep fans out through its queue. */
export function sweepServicesOf(graph: ServiceGraph): SweepServices {
  const host = graph.hostStorage();
  return {
    registry: graph.sweepRegistry,
    configurations: graph.sweepConfigurations,
    meter: graph.meter,
    posture: graph.posture,
    sweeps: graph.sweeps,
    suppressions: graph.suppressions,
    queue: host.queue,
    ...(host.imports ? { imports: host.imports } : {}),
    settings: sweepSettingsFrom(graph.config),
    mitigations: graph.responses.sweep,
    ...(graph.responses.alerts ? { alerts: graph.responses.alerts } : {}),
    now: graph.now,
    logger: silentLogger,
  };
}

/** The registration-storm import timer's view of the service graph (functions/registration-storm-import.ts). */
import { silentLogger } from '../logger';
import type { ModuleImportJobs } from '../ports/module-import-jobs';
import { DEFAULT_STORM_IMPORT_SETTINGS, type StormServices } from '../services/storm/storm-services';
import { processingSettingsFrom } from './event-services';
import type { ServiceGraph } from './service-graph';

export function stormServicesOf(graph: ServiceGraph): StormServices {
  let imports: ModuleImportJobs | undefined;
  try {
    imports = graph.hostStorage().imports;
  } catch {
    // Without AzureWebJobsStorage the rows wait (the drain says so); the event path keeps working.
    imports = undefined;
  }
  return {
    pending: graph.pendingProvisioning,
    ...(imports ? { imports } : {}),
    // The sweep's budgeted registry: fact queries and baselines stay inside the same per-minute share of the quota.
    registry: graph.sweepRegistry,
    posture: graph.posture,
    settings: processingSettingsFrom(graph.config),
    storm: {
      ...DEFAULT_STORM_IMPORT_SETTINGS,
      // Creating the job is one registry call with its own retry budget; nobody else may try meanwhile.
      submitLeaseMs: graph.config.registryRetryBudgetMs + 2 * graph.config.outboundTimeoutMs,
      timeBudgetMs: graph.config.compliance.shardTimeBudgetMs,
    },
    now: graph.now,
    logger: silentLogger,
  };
}

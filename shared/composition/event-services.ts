/** The event path's narrow view of the service graph (functions/iothub-events.ts). */
import type { Config } from '../config/config';
import type { DeadLetterStore } from '../ports/dead-letter-store';
import type { DeviceRegistry } from '../ports/device-registry';
import type { PendingProvisioningStore } from '../ports/pending-provisioning-store';
import type { PostureStore } from '../ports/posture-store';
import type { ConfigurationCatalog } from '../services/configuration-catalog';
import type { ProcessingSettings } from '../services/settings';
import type { ServiceGraph } from './service-graph';

export interface EventServices {
  registry: DeviceRegistry;
  /** Absent (tests, benchmarks): configurations are read through `registry` per device creation. */
  configurations?: ConfigurationCatalog;
  posture: PostureStore;
  deadLetters: DeadLetterStore;
  settings: ProcessingSettings;
  now: () => Date;
  /** Storm mode (REGISTRATION_STORM_THRESHOLD); its threshold is undefined when it is off. */
  storm?: { threshold: number | undefined; pending: PendingProvisioningStore };
}

/** How often "latest" may be found changed underneath before a device counts as a transient failure. */
const MAX_LATEST_CONFLICTS = 5;

export function processingSettingsFrom(config: Config): ProcessingSettings {
  return {
    securityModuleId: config.securityModule.moduleId,
    baseline: config.securityModule.baseline,
    baselineSchema: config.securityModule.schema,
    provisioningEnabled: config.provisioning.enabled,
    provisionEdgeDevices: config.provisioning.edgeDevices,
    targetCondition: config.provisioning.targetCondition,
    writeConcurrency: config.postureWriteConcurrency,
    maxLatestConflicts: MAX_LATEST_CONFLICTS,
  };
}

export function eventServicesOf(graph: ServiceGraph): EventServices {
  return {
    registry: graph.registry,
    configurations: graph.configurations,
    posture: graph.posture,
    deadLetters: graph.deadLetters,
    settings: processingSettingsFrom(graph.config),
    now: graph.now,
    storm: { threshold: graph.config.storm.threshold, pending: graph.pendingProvisioning },
  };
}

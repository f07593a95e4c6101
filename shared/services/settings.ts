import type { TwinCondition } from '../domain/iothub-query/twin-condition';
import type { JsonObject, SecurityAgentSchema } from '../domain/types';

/** What the event pipeline needs from the validated configuration (shared/config.ts maps onto it). */
export interface ProcessingSettings {
  securityModuleId: string;
  /** Validated baseline; `{}` means "create the module, configure nothing". */
  baseline: JsonObject;
  baselineSchema: SecurityAgentSchema;
  provisioningEnabled: boolean;
  provisionEdgeDevices: boolean;
  /** Devices whose twin does not match are not provisioned (same syntax as the sweep). */
  targetCondition?: TwinCondition;
  /** Bounded fan-out across devices within one batch. */
  writeConcurrency: number;
  /** Attempts to re-read and re-merge "latest" when another instance wrote it first. */
  maxLatestConflicts: number;
}

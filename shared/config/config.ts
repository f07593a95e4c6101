/** The validated, frozen configuration every part of TwinGuard reads (built by load-config.ts). */
import type { LogRecordExportMode } from '../telemetry/log-record-export';
import type { TwinCondition } from '../domain/iothub-query/twin-condition';
import type { HubTier } from '../domain/registration-storm';
import type { JsonObject, SecurityAgentSchema } from '../domain/types';

import type { LogLevel } from '../log-level';
import type { AlertConfig, MitigationConfig } from './response-config';

export type IotHubAccess =
  { kind: 'connectionString'; hostName: string; connectionString: string } | { kind: 'identity'; hostName: string };

export type EventsAccess = { kind: 'connectionString'; namespace: string } | { kind: 'identity'; namespace: string };

export type StorageAccess =
  | { kind: 'connectionString'; source: 'POSTURE_STORAGE_CONNECTION' | 'AzureWebJobsStorage'; connectionString: string }
  | { kind: 'identity'; tableEndpoint: string };

export interface Config {
  readonly iotHub: { readonly access: IotHubAccess; readonly serviceEndpoint?: string };
  /** The trigger reads its settings itself; they are validated here so a bad value fails at startup. */
  readonly events: { readonly access: EventsAccess; readonly eventHubName: string; readonly consumerGroup: string };
  readonly storage: {
    readonly access: StorageAccess;
    readonly latestTable: string;
    readonly historyTable: string;
    readonly deadLetterTable: string;
  };
  readonly securityModule: { readonly moduleId: string; readonly baseline: JsonObject; readonly schema: SecurityAgentSchema };
  readonly provisioning: { readonly enabled: boolean; readonly edgeDevices: boolean; readonly targetCondition?: TwinCondition };
  /** Registration-storm mode: `threshold` undefined = off (REGISTRATION_STORM_THRESHOLD, IOTHUB_TIER, IOTHUB_UNITS). */
  readonly storm: { readonly threshold?: number; readonly tier: HubTier; readonly units: number; readonly pendingTable: string };
  /** Retry budget per call of the event path and the sweep (IoT Hub and storage): REGISTRY_RETRY_BUDGET_MS. */
  readonly registryRetryBudgetMs: number;
  /** Per-attempt timeout of every outbound call: OUTBOUND_TIMEOUT_MS. */
  readonly outboundTimeoutMs: number;
  /** Retry budget per storage call of the HTTP API: API_RETRY_BUDGET_MS. */
  readonly apiRetryBudgetMs: number;
  readonly postureWriteConcurrency: number;
  readonly staleAgentHours: number;
  readonly logLevel: LogLevel;
  readonly compliance: ComplianceConfig;
  readonly mitigations: MitigationConfig;
  readonly alerts: AlertConfig;
  /**
   * AzureWebJobsStorage: the sweep's queue (the queue trigger reads the same account) and the import-job blobs.
   * Absent only outside Azure Functions; the sweep functions then fail with a clear message.
   */
  readonly hostStorage?: { readonly connectionString: string };
  /** APPLICATIONINSIGHTS_CONNECTION_STRING: telemetry to Application Insights when set (shared/composition/telemetry.ts). */
  /** TELEMETRY_LOG_RECORDS: whether log records are exported as well as metrics (shared/telemetry/log-record-export.ts). */
  readonly telemetry: { readonly applicationInsightsConnectionString?: string; readonly logRecords: LogRecordExportMode };
  /** Every setting with its effective value, secrets redacted: safe to log at startup. */
  describe(): Record<string, string>;
}

export type RequiredModuleAuth = 'any' | 'x509';

/** Settings of the scheduled compliance sweep (see SETTINGS for meanings and ranges). */
export interface ComplianceConfig {
  readonly schedule: string;
  readonly queueName: string;
  readonly shards: number;
  readonly bucketDevices: number;
  readonly pageSize: number;
  readonly shardTimeBudgetMs: number;
  readonly queriesPerMinute: number;
  readonly registryOpsPerMinute: number;
  /** Rule ids repaired by the sweep; a subset of module-missing, baseline-not-applied. */
  readonly repairRules: readonly string[];
  readonly bulkImportThreshold: number;
  readonly importContainer: string;
  /** Days runs and findings are kept (the sweep deletes older ones itself). */
  readonly retentionDays: number;
  readonly inactiveModuleHours: number;
  readonly requiredModuleAuth: RequiredModuleAuth;
  readonly runsTable: string;
  readonly findingsTable: string;
  readonly suppressionsTable: string;
}

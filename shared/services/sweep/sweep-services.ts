import type { Logger } from '../../logger';
import type { RuleSettings } from '../../domain/compliance-rules';
import type { TwinCondition } from '../../domain/iothub-query/twin-condition';
import type { DeviceRegistry } from '../../ports/device-registry';
import type { ModuleImportJobs } from '../../ports/module-import-jobs';
import type { PostureStore } from '../../ports/posture-store';
import type { SuppressionStore } from '../../ports/suppression-store';
import type { SweepQueue } from '../../ports/sweep-queue';
import type { SweepStore } from '../../ports/sweep-store';
import type { ConfigurationCatalog } from '../configuration-catalog';
import type { RegistryMeter } from '../registry-budget';
import type { AlertRecorder } from '../alerts/alert-recorder';
import type { MitigationServices } from '../mitigations/mitigation-services';

export interface SweepSettings {
  rules: RuleSettings;
  provisionEdgeDevices: boolean;
  targetCondition?: TwinCondition;
  repairRules: ReadonlySet<string>;
  shards: number;
  bucketDevices: number;
  pageSize: number;
  shardTimeBudgetMs: number;
  bulkImportThreshold: number;
  /** Parallel posture reads/writes within a bucket. */
  writeConcurrency: number;
  /** Seconds between import-job polls (default 15). */
  importPollSeconds?: number;
  /** Uniform sample size for split points (default 16,384: ±12 % bucket size at 250 buckets). */
  sampleSize?: number;
  /** Page size of the planning walk (default SAMPLE_PAGE_SIZE, 10,000; smaller only in tests). */
  samplePageSize?: number;
  /** Days runs and findings are kept (COMPLIANCE_RETENTION_DAYS, default 90). */
  retentionDays?: number;
  /** Rows the retention cleanup deletes per store call (default 1,000), so it checks its time budget between calls. */
  retentionBatchRows?: number;
}

export interface SweepServices {
  /** Budgeted and metered (BudgetedRegistry). */
  registry: DeviceRegistry;
  meter: RegistryMeter;
  posture: PostureStore;
  sweeps: SweepStore;
  suppressions: SuppressionStore;
  queue: SweepQueue;
  /** Absent: bulk import is unavailable and missing modules are always created one by one. */
  imports?: ModuleImportJobs;
  settings: SweepSettings;
  /** The hub's automatic configurations, read once per sweep; absent: read through `registry` for each bucket. */
  configurations?: ConfigurationCatalog;
  /** Absent or with no rules: the sweep mitigates nothing (SWEEP_MITIGATION_RULES). */
  mitigations?: MitigationServices;
  /** Absent: no compliance alerts (ALERT_SINK=none). */
  alerts?: AlertRecorder;
  /** The clock of every timestamp and of every time budget (planning, shards, import results, retention). */
  now: () => Date;
  logger: Logger;
}

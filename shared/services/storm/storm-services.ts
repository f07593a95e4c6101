import type { Logger } from '../../logger';
import type { DeviceRegistry } from '../../ports/device-registry';
import type { ModuleImportJobs } from '../../ports/module-import-jobs';
import type { PendingProvisioningStore } from '../../ports/pending-provisioning-store';
import type { PostureStore } from '../../ports/posture-store';
import type { ProcessingSettings } from '../settings';

export interface StormImportSettings {
  /** Lines one import job is given at most; the rest wait for the next job. */
  maxLinesPerJob: number;
  /** Lines per staged block of `devices.txt`. */
  blockLines: number;
  /** How long an instance that is creating the job keeps others from doing the same (OUTBOUND_TIMEOUT_MS and more). */
  submitLeaseMs: number;
  /** One invocation stops starting new pages of work after this long. */
  timeBudgetMs: number;
}

/** What the `registration-storm-import` timer needs (shared/composition/storm-services-of.ts builds it). */
export interface StormServices {
  pending: PendingProvisioningStore;
  /** Absent when AzureWebJobsStorage has no shared key (import SAS URLs need one): the rows wait, logged. */
  imports?: ModuleImportJobs;
  /** Queries for devices whose notification lacked their facts, and the baseline of a module found already present. */
  registry: DeviceRegistry;
  posture: PostureStore;
  settings: ProcessingSettings;
  storm: StormImportSettings;
  now: () => Date;
  logger: Logger;
}

export const DEFAULT_STORM_IMPORT_SETTINGS: StormImportSettings = {
  maxLinesPerJob: 100_000,
  blockLines: 1_000,
  submitLeaseMs: 120_000,
  timeBudgetMs: 240_000,
};

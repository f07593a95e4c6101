/** IoT Hub bulk import jobs for module identities. Real adapter: shared/adapters/iothub-import-jobs.ts. */
export interface ImportJobStatus {
  status: 'running' | 'completed' | 'failed';
  failureReason?: string;
  /** Lines the job rejected (from the output blob), device by device; `deviceId` is '' for a line that names no device. */
  errors: Array<{ deviceId: string; message: string }>;
}

/**
 * IoT Hub bulk import of module identities: lines are staged per bucket (idempotently, keyed by `blockKey`) while
 * shards run, then committed as one `devices.txt` and imported by one job (IoT Hub allows one import/export job at a
 * time per hub).
 */
export interface ModuleImportJobs {
  stage(sweepId: string, blockKey: string, lines: string[]): Promise<void>;
  /** Commits the staged blocks in key order and starts the job; returns its id and how many lines were staged. */
  start(sweepId: string): Promise<{ jobId: string; staged: number }>;
  status(sweepId: string, jobId: string): Promise<ImportJobStatus>;
  /**
   * The id of an import job already created for `sweepId`'s container (found in the hub's job list by its input
   * container), so a caller that crashed between creating a job and recording its id adopts it instead of creating
   * a second one; undefined when none was created.
   */
  findJob(sweepId: string): Promise<string | undefined>;
}

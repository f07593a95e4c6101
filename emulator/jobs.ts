/**
 * Bulk import jobs of the emulated hub (`POST /jobs/create` with `type: import`, `GET /jobs/{id}` and
 * `GET /jobs/v2/{id}`), as azure-iothub 1.16 `Registry.importDevicesFromBlob` / `getJob` call them.
 *
 * Like IoT Hub, a job reads `devices.txt` (one ExportImportDevice JSON object per line) from the input container
 * through the caller's SAS URL — over HTTP, with @azure/storage-blob, so Azurite serves it as Blob storage would —
 * applies each line to the registry (module lines carry `moduleId`; creations fire lifecycle notifications), writes
 * rejected lines to `importErrors.log` in the output container and completes asynchronously. One import/export job
 * at a time, as on every IoT Hub tier. Every import mode of IoT Hub is supported (see
 * registry/apply-export-import-device.ts), with `tags` and `properties.desired` applied to the twin.
 *
 * Throughput: as fast as the emulator can, unless the fault injector paces jobs (a tier, or setImportJobPacing:
 * emulator/faults.ts ImportJobPacing, a conservative assumption since IoT Hub documents none): the job then stays
 * `enqueued` for the start delay and applies at most that many lines per second, reporting `progress` as it goes.
 */
import { randomUUID } from 'node:crypto';
import { ContainerClient } from '@azure/storage-blob';
import type { ImportJobPacing } from './faults';
import { applyExportImportDevice, type DeviceOperationError } from './registry/apply-export-import-device';
import { HubError } from './registry/hub-error';
import type { HubRegistry } from './registry/hub-registry';

export type JobStatus = 'enqueued' | 'running' | 'completed' | 'failed';

/** The job document GET /jobs/{id} returns (JobProperties shape). */
export interface ImportJobJson {
  jobId: string;
  type: 'import';
  status: JobStatus;
  startTimeUtc: string;
  endTimeUtc?: string;
  progress: number;
  inputBlobContainerUri: string;
  outputBlobContainerUri: string;
  failureReason?: string;
  /** Emulator extension: lines applied and rejected. */
  statistics?: { processed: number; failed: number };
}

export const IMPORT_INPUT_BLOB = 'devices.txt';
export const IMPORT_ERRORS_BLOB = 'importErrors.log';

export class ImportJobRunner {
  private readonly jobs = new Map<string, ImportJobJson>();
  private readonly running = new Set<Promise<void>>();
  private readonly sleepers = new Set<() => void>();
  private stopped = false;

  constructor(
    private readonly registry: HubRegistry,
    /** The pacing of a job created now (the fault injector's); undefined: no pacing. */
    private readonly pacing: () => ImportJobPacing | undefined = () => undefined,
  ) {}

  /** Validates and enqueues an import job; it runs after the response is sent. @throws HubError 400 / 409. */
  create(body: unknown): ImportJobJson {
    if (typeof body !== 'object' || body === null) throw new HubError(400, 'ArgumentInvalid', 'The job request must be a JSON object');
    const request = body as Record<string, unknown>;
    if (request['type'] !== 'import')
      throw new HubError(400, 'ArgumentInvalid', `Job type '${String(request['type'])}' is not supported by the emulator (only import)`);
    const input = request['inputBlobContainerUri'];
    const output = request['outputBlobContainerUri'];
    if (typeof input !== 'string' || typeof output !== 'string' || !/^https?:\/\//.test(input) || !/^https?:\/\//.test(output)) {
      throw new HubError(400, 'ArgumentInvalid', 'inputBlobContainerUri and outputBlobContainerUri must be container SAS URLs');
    }
    if ([...this.jobs.values()].some((job) => job.status === 'enqueued' || job.status === 'running')) {
      throw new HubError(409, 'JobQuotaExceeded', 'Only one import/export job may run at a time on this hub');
    }
    const job: ImportJobJson = {
      jobId: randomUUID(),
      type: 'import',
      status: 'enqueued',
      startTimeUtc: new Date().toISOString(),
      progress: 0,
      inputBlobContainerUri: input,
      outputBlobContainerUri: output,
    };
    this.jobs.set(job.jobId, job);
    const pacing = this.pacing();
    const run = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.run(job, pacing));
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
    return { ...job };
  }

  /** True while a job is enqueued or running (export jobs share the one import/export slot). */
  get hasActiveJob(): boolean {
    return [...this.jobs.values()].some((job) => job.status === 'enqueued' || job.status === 'running');
  }

  /** Every job, in creation order (`GET /jobs`, azure-iothub `Registry.listJobs`). */
  list(): ImportJobJson[] {
    return [...this.jobs.values()].map((job) => ({ ...job }));
  }

  /** @throws HubError 404 JobNotFound. */
  get(jobId: string): ImportJobJson {
    const job = this.jobs.get(jobId);
    if (!job) throw new HubError(404, 'JobNotFound', `Job ${jobId} not found`);
    return { ...job };
  }

  /** Resolves when no job is running (stop() waits for it so no request to Azurite outlives the emulator). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  /** Ends paced jobs early (as failed) instead of waiting them out, then waits for every job. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of [...this.sleepers]) wake();
    await this.idle();
  }

  /** Waits `ms` unless the runner stops first; throws once stopped. */
  private async pause(ms: number): Promise<void> {
    if (ms > 0 && !this.stopped) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.sleepers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        this.sleepers.add(wake);
      });
    }
    if (this.stopped) throw new Error('the emulator stopped while the job ran');
  }

  private async run(job: ImportJobJson, pacing: ImportJobPacing | undefined): Promise<void> {
    try {
      if (pacing) await this.pause(pacing.startDelayMs);
      job.status = 'running';
      const text = (await new ContainerClient(job.inputBlobContainerUri).getBlobClient(IMPORT_INPUT_BLOB).downloadToBuffer()).toString(
        'utf8',
      );
      const lines = text
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '');
      const errors: string[] = [];
      const startedMs = Date.now();
      for (const [index, line] of lines.entries()) {
        const problem = this.apply(line);
        if (problem) errors.push(JSON.stringify({ line: index + 1, ...problem }));
        job.progress = Math.floor(((index + 1) * 100) / lines.length);
        // Sleep only when ahead by more than a few milliseconds, so pacing costs timers per batch of lines, not per line.
        if (pacing) {
          const ahead = startedMs + ((index + 1) * 1000) / pacing.linesPerSecond - Date.now();
          if (ahead > 20) await this.pause(ahead);
        }
      }
      const log = errors.join('\n');
      await new ContainerClient(job.outputBlobContainerUri).getBlockBlobClient(IMPORT_ERRORS_BLOB).upload(log, Buffer.byteLength(log));
      job.statistics = { processed: lines.length, failed: errors.length };
      job.status = 'completed';
      job.progress = 100;
    } catch (error) {
      job.status = 'failed';
      job.failureReason = error instanceof Error ? error.message : String(error);
    }
    job.endTimeUtc = new Date().toISOString();
  }

  /**
   * Applies one line through the ExportImportDevice rules bulk `POST /devices` uses (registry/apply-export-import-device.ts:
   * every import mode, identities, twins and Edge scopes); returns the error record for importErrors.log (`deviceId`,
   * `moduleId`, `errorCode`, `errorStatus`), or undefined on success.
   */
  private apply(text: string): DeviceOperationError | undefined {
    let line: unknown;
    try {
      line = JSON.parse(text);
    } catch {
      return { errorCode: 'ArgumentInvalid', errorStatus: 'line is not valid JSON' };
    }
    return applyExportImportDevice(this.registry, line, 'createorupdate');
  }
}

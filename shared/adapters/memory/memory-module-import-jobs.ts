/**
 * In-memory ModuleImportJobs over a MemoryDeviceRegistry, for handler tests of storm mode: staged blocks are kept per
 * key, `start` creates a running job (or refuses while another runs, as the hub's one import/export slot does), and
 * `finish` applies its `create` lines to the registry the way an import job reports them — ModuleAlreadyExistsOnDevice
 * and DeviceNotFound lines in the error log, everything else created with its desired properties.
 */
import type { JsonObject } from '../../domain/types';
import type { ImportJobStatus, ModuleImportJobs } from '../../ports/module-import-jobs';
import type { MemoryDeviceRegistry } from './memory-device-registry';
import { settle } from './settle';

interface MemoryJob {
  key: string;
  status: ImportJobStatus;
}

export class MemoryModuleImportJobs implements ModuleImportJobs {
  readonly blocks = new Map<string, Map<string, string[]>>();
  readonly jobs = new Map<string, MemoryJob>();
  private counter = 0;

  constructor(private readonly registry: MemoryDeviceRegistry) {}

  stage(key: string, blockKey: string, lines: string[]): Promise<void> {
    return settle(() => {
      const blocks = this.blocks.get(key) ?? new Map<string, string[]>();
      blocks.set(blockKey, [...lines]);
      this.blocks.set(key, blocks);
    });
  }

  start(key: string): Promise<{ jobId: string; staged: number }> {
    return settle(() => {
      if ([...this.jobs.values()].some((job) => job.status.status === 'running')) {
        throw Object.assign(new Error('Only one import/export job may run at a time'), {
          responseBody: { Message: 'ErrorCode:JobQuotaExceeded;Only one import/export job may run at a time' },
          response: { statusCode: 409 },
        });
      }
      const jobId = `memory-job-${++this.counter}`;
      this.jobs.set(jobId, { key, status: { status: 'running', errors: [] } });
      return { jobId, staged: this.linesOf(key).length };
    });
  }

  status(_key: string, jobId: string): Promise<ImportJobStatus> {
    return settle(() => {
      const job = this.jobs.get(jobId);
      if (!job) throw Object.assign(new Error(`Job ${jobId} not found`), { response: { statusCode: 404 } });
      return structuredClone(job.status);
    });
  }

  findJob(key: string): Promise<string | undefined> {
    return settle(() => [...this.jobs.entries()].find(([, job]) => job.key === key)?.[0]);
  }

  /** Ends a running job: applies its lines (or fails it as a whole with `failureReason`). */
  async finish(jobId: string, failureReason?: string): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    if (failureReason !== undefined) {
      job.status = { status: 'failed', failureReason, errors: [] };
      return;
    }
    const errors: ImportJobStatus['errors'] = [];
    for (const text of this.linesOf(job.key)) {
      const line = JSON.parse(text) as {
        id: string;
        moduleId: string;
        authentication: { type: 'sas' | 'certificateAuthority' };
        properties?: { desired?: JsonObject };
      };
      const created = await this.registry.createModule(line.id, line.moduleId, line.authentication);
      if (created === 'alreadyExists') errors.push({ deviceId: line.id, message: 'ModuleAlreadyExistsOnDevice: exists' });
      else if (created === 'deviceNotFound')
        errors.push({ deviceId: line.id, message: `DeviceNotFound: Device ${line.id} not registered` });
      else if (line.properties?.desired) await this.registry.updateModuleDesired(line.id, line.moduleId, line.properties.desired, '*');
    }
    job.status = { status: 'completed', errors };
  }

  private linesOf(key: string): string[] {
    const blocks = this.blocks.get(key) ?? new Map<string, string[]>();
    return [...blocks.keys()].sort().flatMap((blockKey) => blocks.get(blockKey) ?? []);
  }
}

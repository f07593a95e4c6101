/**
 * ModuleImportJobs over Blob storage and azure-iothub: one container per sweep holds `devices.txt`, built from
 * blocks staged bucket by bucket (block id = bucket key + line count, so a re-run bucket restages the same block
 * and the commit orders blocks deterministically), then `Registry.importDevicesFromBlob` gets short-lived SAS URLs
 * for it (read/list for input, write for `importErrors.log`) and `getJob` reports progress.
 * SAS URLs need a shared-key (account key) connection string; they are never logged.
 */
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { ContainerSASPermissions } from '@azure/storage-blob';
import type { Registry } from 'azure-iothub';
import { retryTransient } from '../retry';
import type { ImportJobStatus, ModuleImportJobs } from '../ports/module-import-jobs';

const INPUT_BLOB = 'devices.txt';
const ERRORS_BLOB = 'importErrors.log';
const SAS_LIFETIME_MS = 24 * 3_600_000;

/** Blob container name for a sweep: lower case, letters/digits/single hyphens, ≤ 63 characters. */
export function importContainerName(prefix: string, sweepId: string): string {
  const suffix = sweepId.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  return `${prefix}-${suffix}`.replace(/-+/g, '-').slice(0, 63).replace(/-$/, '');
}

function blockId(blockKey: string, lines: number): string {
  // All block ids of a blob must have the same length: keys are fixed-width, counts padded.
  return Buffer.from(`${blockKey}:${String(lines).padStart(7, '0')}`).toString('base64');
}

/** The SDK resolves some job calls with the body and others with `{ responseBody, httpResponse }`. */
function bodyOf(result: unknown): unknown {
  return typeof result === 'object' && result !== null && 'responseBody' in result ? result.responseBody : result;
}

/** A field of an import error log line as text: strings as they are, absent/null → `fallback`, other JSON values as JSON. */
function logField(value: unknown, fallback: string): string {
  if (value === undefined || value === null) return fallback;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export class IotHubModuleImportJobs implements ModuleImportJobs {
  constructor(
    private readonly blobs: BlobServiceClient,
    private readonly registry: Registry,
    private readonly options: { containerPrefix: string; retryBudgetMs: number; now?: () => Date },
  ) {}

  private container(sweepId: string): ContainerClient {
    return this.blobs.getContainerClient(importContainerName(this.options.containerPrefix, sweepId));
  }

  private retry<T>(name: string, call: () => Promise<T>): Promise<T> {
    return retryTransient(call, { budgetMs: this.options.retryBudgetMs, operationName: name });
  }

  async stage(sweepId: string, blockKey: string, lines: string[]): Promise<void> {
    const container = this.container(sweepId);
    await this.retry('createImportContainer', () => container.createIfNotExists());
    const body = `${lines.join('\n')}\n`;
    await this.retry('stageImportBlock', () =>
      container.getBlockBlobClient(INPUT_BLOB).stageBlock(blockId(blockKey, lines.length), body, Buffer.byteLength(body)),
    );
  }

  async start(sweepId: string): Promise<{ jobId: string; staged: number }> {
    const container = this.container(sweepId);
    const blob = container.getBlockBlobClient(INPUT_BLOB);
    const list = await this.retry('getBlockList', () => blob.getBlockList('all'));
    const blocks = (list.committedBlocks?.length ? list.committedBlocks : (list.uncommittedBlocks ?? []))
      .map((block) => block.name)
      .sort((a, b) => {
        const left = Buffer.from(a, 'base64').toString();
        const right = Buffer.from(b, 'base64').toString();
        return left < right ? -1 : left > right ? 1 : 0;
      });
    if (!list.committedBlocks?.length) await this.retry('commitBlockList', () => blob.commitBlockList(blocks));
    const staged = blocks.reduce((sum, name) => sum + Number(Buffer.from(name, 'base64').toString().split(':')[1] ?? 0), 0);
    const expiresOn = new Date((this.options.now?.() ?? new Date()).getTime() + SAS_LIFETIME_MS);
    const input = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rl'), expiresOn });
    const output = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rwl'), expiresOn });
    const response = await this.retry('importDevicesFromBlob', () => this.registry.importDevicesFromBlob(input, output));
    const jobId = (bodyOf(response) as { jobId?: unknown }).jobId;
    if (typeof jobId !== 'string') throw new Error('import job response has no jobId');
    return { jobId, staged };
  }

  async status(sweepId: string, jobId: string): Promise<ImportJobStatus> {
    const response = await this.retry('getJob', () => this.registry.getJob(jobId));
    const job = bodyOf(response) as { status?: unknown; failureReason?: unknown };
    if (job.status === 'failed' || job.status === 'cancelled') {
      return {
        status: 'failed',
        failureReason: typeof job.failureReason === 'string' ? job.failureReason : String(job.status),
        errors: [],
      };
    }
    if (job.status !== 'completed') return { status: 'running', errors: [] };
    const log = await this.retry('readImportErrors', async () => {
      const blob = this.container(sweepId).getBlobClient(ERRORS_BLOB);
      return (await blob.exists()) ? (await blob.downloadToBuffer()).toString('utf8') : '';
    });
    const errors = log
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const parsed = JSON.parse(line) as { id?: unknown; errorStatus?: unknown; errorCode?: unknown };
        return {
          deviceId: typeof parsed.id === 'string' ? parsed.id : '',
          message: `${logField(parsed.errorCode, 'Error')}: ${logField(parsed.errorStatus, '')}`,
        };
      });
    return { status: 'completed', errors };
  }
}

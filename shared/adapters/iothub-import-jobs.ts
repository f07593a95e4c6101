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
import type { Logger } from '../logger';
import { retryTransient } from '../retry';
import type { ImportJobStatus, ModuleImportJobs } from '../ports/module-import-jobs';
import { DEFAULT_OUTBOUND_TIMEOUT_MS } from './outbound-timeout-policy';

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

/** The container name of a container SAS URL (its last path segment), or undefined when it is not a URL. */
function containerOf(uri: string): string | undefined {
  try {
    return new URL(uri).pathname
      .split('/')
      .filter((segment) => segment !== '')
      .pop();
  } catch {
    return undefined;
  }
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

export interface IotHubModuleImportJobsOptions {
  containerPrefix: string;
  retryBudgetMs: number;
  /**
   * Per-attempt timeout of the Blob calls (OUTBOUND_TIMEOUT_MS; their abortSignal). Default 10,000 ms. The registry's
   * calls time out in its client (registry-client.ts).
   */
  timeoutMs?: number;
  logger?: Logger;
  now?: () => Date;
}

/**
 * The lines of `importErrors.log`, one JSON object per rejected input line: `deviceId`, `errorCode` (a name or
 * IoT Hub's numeric code) and `errorStatus` (the Microsoft.Azure.Devices samples read exactly these three:
 * Azure/azure-iot-sdk-csharp `iothub/service/samples/how to guides/CleanupDevicesSample/ImportError.cs`). A line
 * the service could not parse at all names no device (`deviceId` ''); so does a log line that is not JSON.
 */
export function parseImportErrors(log: string): ImportJobStatus['errors'] {
  return log
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      let parsed: { deviceId?: unknown; id?: unknown; errorStatus?: unknown; errorCode?: unknown };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        return { deviceId: '', message: `Error: ${line.slice(0, 200)}` };
      }
      // `id` is what the input lines call the device; accepted as well, in case a log echoes it.
      const deviceId = typeof parsed.deviceId === 'string' ? parsed.deviceId : typeof parsed.id === 'string' ? parsed.id : '';
      return { deviceId, message: `${logField(parsed.errorCode, 'Error')}: ${logField(parsed.errorStatus, '')}` };
    });
}

/**
 * Build `blobs` with createBlobServiceClient (storage-clients.ts, no SDK retries) and `registry` with
 * createRegistryClient: every call here is retried by retryTransient only.
 */
export class IotHubModuleImportJobs implements ModuleImportJobs {
  constructor(
    private readonly blobs: BlobServiceClient,
    private readonly registry: Registry,
    private readonly options: IotHubModuleImportJobsOptions,
  ) {}

  private container(sweepId: string): ContainerClient {
    return this.blobs.getContainerClient(importContainerName(this.options.containerPrefix, sweepId));
  }

  /** `call` gets the attempt's abort signal: Blob calls pass it on; registry calls time out in their client. */
  private retry<T>(name: string, call: (abortSignal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    return retryTransient((_attempt, signal) => call(signal), {
      budgetMs: this.options.retryBudgetMs,
      attemptTimeoutMs: this.options.timeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS,
      operationName: name,
      logger: this.options.logger,
      retryMessage: 'import job call retried',
    });
  }

  async stage(sweepId: string, blockKey: string, lines: string[]): Promise<void> {
    const container = this.container(sweepId);
    await this.retry('createImportContainer', (abortSignal) => container.createIfNotExists({ abortSignal }));
    const body = `${lines.join('\n')}\n`;
    await this.retry('stageImportBlock', (abortSignal) =>
      container.getBlockBlobClient(INPUT_BLOB).stageBlock(blockId(blockKey, lines.length), body, Buffer.byteLength(body), { abortSignal }),
    );
  }

  async start(sweepId: string): Promise<{ jobId: string; staged: number }> {
    const container = this.container(sweepId);
    const blob = container.getBlockBlobClient(INPUT_BLOB);
    const list = await this.retry('getBlockList', (abortSignal) => blob.getBlockList('all', { abortSignal }));
    const blocks = (list.committedBlocks?.length ? list.committedBlocks : (list.uncommittedBlocks ?? []))
      .map((block) => block.name)
      .sort((a, b) => {
        const left = Buffer.from(a, 'base64').toString();
        const right = Buffer.from(b, 'base64').toString();
        return left < right ? -1 : left > right ? 1 : 0;
      });
    if (!list.committedBlocks?.length) await this.retry('commitBlockList', (abortSignal) => blob.commitBlockList(blocks, { abortSignal }));
    const staged = blocks.reduce((sum, name) => sum + Number(Buffer.from(name, 'base64').toString().split(':')[1] ?? 0), 0);
    const expiresOn = new Date((this.options.now?.() ?? new Date()).getTime() + SAS_LIFETIME_MS);
    const input = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rl'), expiresOn });
    const output = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rwl'), expiresOn });
    const response = await this.retry('importDevicesFromBlob', () => this.registry.importDevicesFromBlob(input, output));
    const jobId = (bodyOf(response) as { jobId?: unknown }).jobId;
    if (typeof jobId !== 'string') throw new Error('import job response has no jobId');
    return { jobId, staged };
  }

  async findJob(sweepId: string): Promise<string | undefined> {
    // GET /jobs lists the hub's recent import/export jobs as JobProperties, inputBlobContainerUri included
    // (learn.microsoft.com/rest/api/iothub/service/jobs/get-import-export-jobs; azure-iothub registry.d.ts listJobs).
    const response = await this.retry('listJobs', () => this.registry.listJobs());
    const jobs = bodyOf(response);
    if (!Array.isArray(jobs)) return undefined;
    const container = importContainerName(this.options.containerPrefix, sweepId);
    for (const job of jobs as Array<{ jobId?: unknown; type?: unknown; inputBlobContainerUri?: unknown }>) {
      if (job.type !== 'import' || typeof job.jobId !== 'string' || typeof job.inputBlobContainerUri !== 'string') continue;
      if (containerOf(job.inputBlobContainerUri) === container) return job.jobId;
    }
    return undefined;
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
    const log = await this.retry('readImportErrors', async (abortSignal) => {
      const blob = this.container(sweepId).getBlobClient(ERRORS_BLOB);
      return (await blob.exists({ abortSignal })) ? (await blob.downloadToBuffer(0, undefined, { abortSignal })).toString('utf8') : '';
    });
    return { status: 'completed', errors: parseImportErrors(log) };
  }
}

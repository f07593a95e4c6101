/**
 * Bulk export jobs (`POST /jobs/create` with `type: export`), as azure-iothub 1.16 `Registry.exportDevicesToBlob(uri,
 * excludeKeys)` sends them (dist/registry.js: `{type, outputBlobContainerUri, excludeKeysInExport}`), read back with
 * `getJob` (`GET /jobs/{id}`) like import jobs.
 *
 * As https://learn.microsoft.com/azure/iot-hub/iot-hub-bulk-identity-mgmt ("Export devices") describes, the job writes
 * `devices.txt` (or the request's `outputBlobName`) to the output container through its SAS URL: one ExportImportDevice
 * JSON object per line, lines ended by CRLF (azure-iot-sdk-node e2etests/test/registry.js splits the export on `\r\n`), devices and their modules (module lines carry `moduleId`), with the identity's `eTag`,
 * `status`, `authentication` (keys null with `excludeKeysInExport`), `capabilities`, Edge scopes, and the twin's
 * `twinETag`, `tags` and `properties` (desired and reported). Lines stream to Azurite as the registry is walked.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ContainerClient } from '@azure/storage-blob';
import type { DeviceSnapshot } from './registry/device-snapshot';
import { HubError } from './registry/hub-error';
import type { HubRegistry } from './registry/hub-registry';

export const EXPORT_OUTPUT_BLOB = 'devices.txt';

export interface ExportJobJson {
  jobId: string;
  type: 'export';
  status: 'enqueued' | 'running' | 'completed' | 'failed';
  startTimeUtc: string;
  endTimeUtc?: string;
  progress: number;
  outputBlobContainerUri: string;
  excludeKeysInExport: boolean;
  failureReason?: string;
  /** Emulator extension: lines written (devices plus modules). */
  statistics?: { exported: number };
}

export class ExportJobRunner {
  private readonly jobs = new Map<string, ExportJobJson>();
  private readonly running = new Set<Promise<void>>();

  /** @param otherJobActive true while an import job runs: IoT Hub runs one import/export job at a time. */
  constructor(
    private readonly registry: HubRegistry,
    private readonly otherJobActive: () => boolean = () => false,
  ) {}

  get hasActiveJob(): boolean {
    return [...this.jobs.values()].some((job) => job.status === 'enqueued' || job.status === 'running');
  }

  /** Validates and enqueues an export job; it runs after the response is sent. @throws HubError 400 / 409. */
  create(body: unknown): ExportJobJson {
    const request = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const output = request['outputBlobContainerUri'];
    if (typeof output !== 'string' || !/^https?:\/\//.test(output))
      throw new HubError(400, 'ArgumentInvalid', 'outputBlobContainerUri must be a container SAS URL');
    if (request['storageAuthenticationType'] === 'identityBased' || request['storageAuthenticationType'] === 'IdentityBased')
      throw new HubError(
        501,
        'NotImplemented',
        'storageAuthenticationType IdentityBased is not supported by the IoT Hub emulator (use a SAS URL)',
      );
    const blobName =
      typeof request['outputBlobName'] === 'string' && request['outputBlobName'] !== '' ? request['outputBlobName'] : EXPORT_OUTPUT_BLOB;
    if (this.hasActiveJob || this.otherJobActive())
      throw new HubError(409, 'JobQuotaExceeded', 'Only one import/export job may run at a time on this hub');
    const job: ExportJobJson = {
      jobId: randomUUID(),
      type: 'export',
      status: 'enqueued',
      startTimeUtc: new Date().toISOString(),
      progress: 0,
      outputBlobContainerUri: output,
      excludeKeysInExport: request['excludeKeysInExport'] === true,
    };
    this.jobs.set(job.jobId, job);
    const run = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.run(job, blobName));
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
    return { ...job };
  }

  /** The job, or undefined when this runner does not know it. */
  find(jobId: string): ExportJobJson | undefined {
    const job = this.jobs.get(jobId);
    return job ? { ...job } : undefined;
  }

  list(): ExportJobJson[] {
    return [...this.jobs.values()].map((job) => ({ ...job }));
  }

  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private async run(job: ExportJobJson, blobName: string): Promise<void> {
    job.status = 'running';
    const total = Math.max(1, this.registry.deviceCount);
    let devices = 0;
    let lines = 0;
    const registry = this.registry;
    const exclude = job.excludeKeysInExport;
    function* text(): Generator<string> {
      for (const device of registry.snapshot()) {
        for (const line of exportLines(device, exclude)) {
          lines++;
          yield `${line}\r\n`;
        }
        devices++;
        job.progress = Math.min(99, Math.floor((devices * 100) / total));
      }
    }
    try {
      await new ContainerClient(job.outputBlobContainerUri)
        .getBlockBlobClient(blobName)
        .uploadStream(Readable.from(text()), 4 * 1024 * 1024, 2, { blobHTTPHeaders: { blobContentType: 'text/plain' } });
      job.statistics = { exported: lines };
      job.status = 'completed';
      job.progress = 100;
    } catch (error) {
      job.status = 'failed';
      job.failureReason = error instanceof Error ? error.message : String(error);
    }
    job.endTimeUtc = new Date().toISOString();
  }
}

/** The ExportImportDevice lines of one device: the device first, then each module. */
export function exportLines(device: DeviceSnapshot, excludeKeys: boolean): string[] {
  const twin = device.twin;
  const deviceLine: Record<string, unknown> = {
    id: twin.deviceId,
    eTag: twin.deviceEtag,
    status: twin.status,
    ...(device.statusReason !== null ? { statusReason: device.statusReason } : {}),
    authentication: authenticationOf(twin, device, excludeKeys),
    twinETag: twin.etag,
    tags: twin.tags ?? {},
    properties: twin.properties,
    capabilities: twin.capabilities,
    ...(twin.deviceScope !== undefined ? { deviceScope: twin.deviceScope } : {}),
    ...(twin.parentScopes !== undefined ? { parentScopes: twin.parentScopes } : {}),
  };
  const out = [JSON.stringify(deviceLine)];
  for (const module of device.modules) {
    const moduleTwin = module.twin;
    out.push(
      JSON.stringify({
        id: moduleTwin.deviceId,
        moduleId: moduleTwin.moduleId,
        eTag: moduleTwin.deviceEtag,
        status: moduleTwin.status,
        authentication: authenticationOf(moduleTwin, module, excludeKeys),
        twinETag: moduleTwin.etag,
        ...(module.managedBy !== null ? { managedBy: module.managedBy } : {}),
        tags: moduleTwin.tags ?? {},
        properties: moduleTwin.properties,
      }),
    );
  }
  return out;
}

function authenticationOf(
  twin: Record<string, unknown>,
  keys: { primaryKey: string | null; secondaryKey: string | null },
  excludeKeys: boolean,
): Record<string, unknown> {
  return {
    symmetricKey: excludeKeys ? { primaryKey: null, secondaryKey: null } : { primaryKey: keys.primaryKey, secondaryKey: keys.secondaryKey },
    x509Thumbprint: twin.x509Thumbprint,
    type: twin.authenticationType,
  };
}

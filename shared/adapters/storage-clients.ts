/**
 * Construction of the Queue and Blob clients (@azure/storage-queue, @azure/storage-blob) from a connection string: the
 * one place that decides their retry policy and server-side timeout.
 *
 * - `retryOptions.maxTries: 1`: "a value of 1 means 1 try and no retries" (StorageRetryOptions); retryTransient is the
 *   one retry layer. The SDK default (4 tries, exponential from 4 s) would nest under it.
 * - `retryOptions.tryTimeoutInMs`: in @azure/storage-common 12 (policies/StorageRetryPolicyV2.js) it only becomes the
 *   server-side `timeout` query parameter (whole seconds; the Queue and Blob services cap it at 30 s), not a client
 *   abort. The client-side per-attempt timeout is the `abortSignal` each adapter call gets from retryTransient's
 *   `attemptTimeoutMs` (storage-sweep-queue.ts, iothub-import-jobs.ts).
 */
import { BlobServiceClient, type StoragePipelineOptions as BlobPipelineOptions } from '@azure/storage-blob';
import { QueueClient, type StoragePipelineOptions as QueuePipelineOptions } from '@azure/storage-queue';
import { DEFAULT_OUTBOUND_TIMEOUT_MS } from './outbound-timeout-policy';

export interface StorageClientOptions {
  /** Per-attempt timeout (OUTBOUND_TIMEOUT_MS). Default 10,000 ms. */
  timeoutMs?: number;
}

/** The longest server-side timeout the Queue service accepts (and the Blob service for the calls TwinGuard makes). */
const MAX_SERVER_TIMEOUT_MS = 30_000;

function pipelineOptions(options: StorageClientOptions): QueuePipelineOptions & BlobPipelineOptions {
  const timeoutMs = options.timeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS;
  return { retryOptions: { maxTries: 1, tryTimeoutInMs: Math.min(timeoutMs, MAX_SERVER_TIMEOUT_MS) } };
}

export function createQueueClient(connectionString: string, queueName: string, options: StorageClientOptions = {}): QueueClient {
  return new QueueClient(connectionString, queueName, pipelineOptions(options));
}

export function createBlobServiceClient(connectionString: string, options: StorageClientOptions = {}): BlobServiceClient {
  return BlobServiceClient.fromConnectionString(connectionString, pipelineOptions(options));
}

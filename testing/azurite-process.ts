/**
 * Azurite in its own process, as the real service is: an in-process stand-in would share the caller's event loop
 * and hide whether the client overlaps requests.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { AZURITE_ACCOUNT_KEY, AZURITE_ACCOUNT_NAME } from '../host/embedded-azurite';
import { REPO_ROOT, stopChild, type ExternalService } from './external-service';
import { freePort, waitForPort } from './local-port';

/** The table service, or (withBlob) tables, blobs and queues (blobs for Event Hubs checkpoints). */
export async function startAzuriteProcess(options: { withBlob?: boolean } = {}): Promise<ExternalService & { connectionString: string }> {
  const tablePort = await freePort();
  const blobPort = options.withBlob ? await freePort() : undefined;
  const entry = options.withBlob ? ['azurite.js'] : ['table', 'main.js'];
  const args = [
    path.join(REPO_ROOT, 'node_modules', 'azurite', 'dist', 'src', ...entry),
    '--silent',
    '--inMemoryPersistence',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    String(tablePort),
  ];
  const queuePort = blobPort !== undefined ? await freePort() : undefined;
  if (blobPort !== undefined)
    args.push('--blobHost', '127.0.0.1', '--blobPort', String(blobPort), '--queueHost', '127.0.0.1', '--queuePort', String(queuePort));
  // Compiled by `npm run build` (npm test builds first); without it the child simply does not watch its parent.
  const watchdog = path.join(REPO_ROOT, 'dist', 'testing', 'exit-with-parent.js');
  const preload = existsSync(watchdog) ? ['--require', watchdog] : [];
  const child = spawn(process.execPath, [...preload, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
  await waitForPort(tablePort, 20_000);
  if (blobPort !== undefined) await waitForPort(blobPort, 20_000);
  // The queue endpoint too: the service graph builds the sweep's queue client (and the import jobs with it) from it.
  const blob =
    blobPort !== undefined
      ? `BlobEndpoint=http://127.0.0.1:${blobPort}/${AZURITE_ACCOUNT_NAME};QueueEndpoint=http://127.0.0.1:${queuePort}/${AZURITE_ACCOUNT_NAME};`
      : '';
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};TableEndpoint=http://127.0.0.1:${tablePort}/${AZURITE_ACCOUNT_NAME};${blob}`,
    stop: () => stopChild(child),
  };
}

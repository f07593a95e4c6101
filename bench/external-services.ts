/**
 * Azurite and the IoT Hub emulator as separate processes, as the real services are: in-process
 * stand-ins would share the benchmark's event loop and hide whether the client overlaps requests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AZURITE_ACCOUNT_KEY, AZURITE_ACCOUNT_NAME } from '../host/embedded-azurite';
import type { SeedFile } from '../emulator/seed';

const ROOT = path.join(__dirname, '..', '..');

export interface ExternalService {
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGINT');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/** Azurite in its own process: the table service, or (withBlob) tables and blobs for checkpoints. */
export async function startAzuriteProcess(options: { withBlob?: boolean } = {}): Promise<ExternalService & { connectionString: string }> {
  const tablePort = await freePort();
  const blobPort = options.withBlob ? await freePort() : undefined;
  const entry = options.withBlob ? ['azurite.js'] : ['table', 'main.js'];
  const args = [path.join(ROOT, 'node_modules', 'azurite', 'dist', 'src', ...entry), '--silent', '--inMemoryPersistence', '--disableTelemetry', '--skipApiVersionCheck', '--tableHost', '127.0.0.1', '--tablePort', String(tablePort)];
  if (blobPort !== undefined) args.push('--blobHost', '127.0.0.1', '--blobPort', String(blobPort), '--queueHost', '127.0.0.1', '--queuePort', String(await freePort()));
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  await waitForPort(tablePort, 20_000);
  if (blobPort !== undefined) await waitForPort(blobPort, 20_000);
  const blob = blobPort !== undefined ? `BlobEndpoint=http://127.0.0.1:${blobPort}/${AZURITE_ACCOUNT_NAME};` : '';
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};TableEndpoint=http://127.0.0.1:${tablePort}/${AZURITE_ACCOUNT_NAME};${blob}`,
    stop: () => stopChild(child),
  };
}

export async function startEmulatorProcess(fleet: SeedFile): Promise<ExternalService & { serviceConnectionString: string; registryUrl: string; eventHubConnectionString: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'twinguard-bench-'));
  const seedFile = path.join(dir, 'fleet.json');
  writeFileSync(seedFile, JSON.stringify(fleet));
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'emulator', 'cli.js'), '--seed-file', seedFile, '--agent-mode', 'silent'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const values = new Map<string, string>();
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (const line of buffered.split('\n')) {
        const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
        if (match) values.set(match[1]!, match[2]!);
      }
      if (values.has('IOTHUB_CONNECTION_STRING') && values.has('IOTHUB_SERVICE_ENDPOINT') && values.has('EVENTHUB_CONNECTION_STRING')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  return {
    serviceConnectionString: values.get('IOTHUB_CONNECTION_STRING')!,
    registryUrl: values.get('IOTHUB_SERVICE_ENDPOINT')!,
    eventHubConnectionString: values.get('EVENTHUB_CONNECTION_STRING')!,
    stop: () => stopChild(child),
  };
}

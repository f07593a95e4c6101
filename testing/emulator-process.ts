/**
 * The IoT Hub emulator in its own process (the built CLI, dist/emulator/cli.js, so `npm run build` first), seeded
 * from a fleet file; its connection settings are read from what it prints.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { SeedFile } from '../emulator/seed';
import { REPO_ROOT, stopChild, type ExternalService } from './external-service';

export async function startEmulatorProcess(
  fleet: SeedFile,
): Promise<ExternalService & { serviceConnectionString: string; registryUrl: string; eventHubConnectionString: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'twinguard-bench-'));
  const seedFile = path.join(dir, 'fleet.json');
  writeFileSync(seedFile, JSON.stringify(fleet));
  const child = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'dist', 'emulator', 'cli.js'), '--seed-file', seedFile, '--agent-mode', 'silent'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const values = new Map<string, string>();
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (const line of buffered.split('\n')) {
        const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
        if (match) values.set(match[1]!, match[2]!);
      }
      if (values.has('IOTHUB_CONNECTION_STRING') && values.has('IOTHUB_SERVICE_ENDPOINT') && values.has('EVENTHUB_CONNECTION_STRING'))
        resolve();
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

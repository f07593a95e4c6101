/**
 * The IoT Hub emulator in its own process (the built CLI, dist/emulator/cli.js: `npm run build` first), seeded from a
 * fleet file, with the settings a device-side benchmark needs: the MQTT port, the owner key (whose policy grants
 * DeviceConnect, so device tokens can be signed without reading every device key) and the process id (for its RSS).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { SeedFile } from '../emulator/seed';
import { REPO_ROOT, stopChild, type ExternalService } from './external-service';

export interface MqttEmulatorProcess extends ExternalService {
  pid: number;
  hostName: string;
  ownerKey: string;
  mqttPort: number;
  eventHubConnectionString: string;
  /** Resident set size of the emulator process now (Linux /proc), in bytes. */
  rssBytes(): number;
}

export async function startMqttEmulatorProcess(fleet: SeedFile, extraArgs: readonly string[] = []): Promise<MqttEmulatorProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'twinguard-mqtt-bench-'));
  const seedFile = path.join(dir, 'fleet.json');
  writeFileSync(seedFile, JSON.stringify(fleet));
  const child = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'dist', 'emulator', 'cli.js'), '--seed-file', seedFile, '--agent-mode', 'silent', ...extraArgs],
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
      if (values.has('IOTHUB_CONNECTION_STRING') && values.has('EVENTHUB_CONNECTION_STRING') && values.has('IOTHUB_MQTT_PORT')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  const service = values.get('IOTHUB_CONNECTION_STRING')!;
  const pid = child.pid ?? 0;
  return {
    pid,
    hostName: /HostName=([^;]+)/.exec(service)?.[1] ?? '',
    ownerKey: /SharedAccessKey=([^;]+)/.exec(service)?.[1] ?? '',
    mqttPort: Number(values.get('IOTHUB_MQTT_PORT')),
    eventHubConnectionString: values.get('EVENTHUB_CONNECTION_STRING')!,
    rssBytes: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024,
    stop: () => stopChild(child),
  };
}

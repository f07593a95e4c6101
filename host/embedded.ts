/**
 * The embedded default behind `npm start`: in-process Azurite, the IoT Hub emulator with a demo
 * fleet, and TwinGuard in standalone host mode wired to both. No Azure account, no configuration.
 * The fleet's security agents are azure-iot-device ModuleClients connected to the emulator's MQTT device endpoint
 * with their modules' credentials (emulator/agents/), so every posture starts the way a real agent's does.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { IotHubEmulator } from '../emulator';
import type { HubChange } from '../emulator/hub-events';
import { createRegistryClient } from '../shared/adapters/registry-client';
import type { Logger } from '../shared/logger';
import { startEmbeddedAzurite, type EmbeddedAzurite } from './embedded-azurite';
import { readStandaloneSettings, StandaloneHost } from './standalone-host';

export interface EmbeddedOptions {
  /** Keep emulator and Azurite state here between runs. */
  dataDir?: string;
  /** Devices seeded into a fresh emulator (they predate TwinGuard: no notifications). */
  seedDevices: number;
  /** New devices the demo creates through the azure-iothub SDK, one every `demoIntervalMs`. */
  demoDevices: number;
  demoIntervalMs: number;
  httpPort: number;
  logger: Logger;
}

export const DEMO_BASELINE = { Heartbeat_MessageFrequency: 'High', Process_Mode: 1, Login_UsePAM: true };

export class EmbeddedTwinGuard {
  private demoTimer?: NodeJS.Timeout;
  private stopping = false;

  private constructor(
    readonly azurite: EmbeddedAzurite,
    readonly hub: IotHubEmulator,
    readonly host: StandaloneHost,
    readonly functionKey: string,
    private readonly options: EmbeddedOptions,
    private readonly detachNarrator: () => void,
  ) {}

  static async start(options: EmbeddedOptions): Promise<EmbeddedTwinGuard> {
    const { logger } = options;
    const azurite = await startEmbeddedAzurite({
      blob: true,
      queue: true,
      location: options.dataDir && path.join(options.dataDir, 'azurite'),
    });
    let hub: IotHubEmulator | undefined;
    try {
      const dataFile = options.dataDir && path.join(options.dataDir, 'iothub-emulator.json');
      hub = await IotHubEmulator.start({
        consumerGroups: ['$Default', 'twinguard'],
        dataFile,
        // A kept state already holds the fleet; seeding again would collide on device IDs.
        seed: dataFile && existsSync(dataFile) ? undefined : { devices: options.seedDevices },
        agent: { defaultMode: 'healthy', reportDelayMs: 800 },
        // TLS listeners for unchanged SDK scripts (emulator/connect.ts); their certificate needs the openssl command.
        tls: opensslAvailable(),
      });
      const functionKey = randomBytes(18).toString('base64url');
      const env: Record<string, string> = {
        IOTHUB_CONNECTION_STRING: hub.serviceConnectionString,
        IOTHUB_SERVICE_ENDPOINT: hub.registryUrl,
        IOTHUB_EVENTS_CONNECTION: hub.eventHubConnectionString,
        IOTHUB_EVENTS_NAME: hub.eventHubName,
        IOTHUB_EVENTS_CONSUMER_GROUP: 'twinguard',
        AzureWebJobsStorage: azurite.connectionString,
        SECURITY_MODULE_BASELINE: JSON.stringify(DEMO_BASELINE),
        STANDALONE_HTTP_PORT: String(options.httpPort),
        STANDALONE_FUNCTION_KEY: functionKey,
        STANDALONE_LOAD_BALANCING: 'greedy',
        // The emulator does not throttle by default; the production budgets would only slow the demo down.
        SWEEP_QUERIES_PER_MINUTE: '600',
        SWEEP_REGISTRY_OPS_PER_MINUTE: '3000',
      };
      // The functions read their settings from the process environment, exactly as under Azure Functions.
      for (const [name, value] of Object.entries(env)) process.env[name] ??= value;
      const host = new StandaloneHost({ env: process.env, settings: readStandaloneSettings(process.env), logger });
      const detach = narrate(hub, logger);
      await host.start();
      return new EmbeddedTwinGuard(azurite, hub, host, process.env['STANDALONE_FUNCTION_KEY'] ?? functionKey, options, detach);
    } catch (err) {
      await hub?.stop();
      await azurite.stop();
      throw err;
    }
  }

  /** Banner lines for the device side: where device code connects and how to build its connection string. */
  deviceSideLines(): string[] {
    const { hub } = this;
    return [
      `  Device side (MQTT)  IOTHUB_MQTT_PORT=${hub.mqttPort}   (security agents connect here as ModuleClients)`,
      `                      HostName=${hub.hostName};DeviceId=<id>[;ModuleId=<m>];SharedAccessKey=<its primary key>`,
      `                      with localMqttTransport(${hub.mqttPort}) from dist/emulator/mqtt/local-device-transport.js (emulator/README.md)`,
    ];
  }

  /** Banner lines for unchanged SDK scripts (cloud host names, routed by the preload); none without TLS listeners. */
  unchangedScriptLines(): string[] {
    const { hub } = this;
    if (hub.connectSetting === undefined)
      return ["  Unchanged scripts   need the openssl command for the emulator's TLS listeners (not found)"];
    const preload = path.join(__dirname, '..', 'emulator', 'connect.js');
    return [
      `  Unchanged scripts   IOTHUB_EMULATOR_CONNECT=${hub.connectSetting}`,
      `                      node -r ${preload} my-script.js   (or NODE_OPTIONS="--require ${preload}")`,
      `                      Event Hub-compatible endpoint: ${hub.portalEventHubConnectionString}`,
    ];
  }

  /** Registers new devices through the real SDK, as an operator's script would, to show the flow. */
  startDemo(): void {
    const registry = createRegistryClient({ connectionString: this.hub.serviceConnectionString, serviceEndpoint: this.hub.registryUrl });
    const plan: { deviceId: string; auth: 'sas' | 'certificateAuthority' | 'selfSigned'; rejects?: boolean }[] = [];
    for (let i = 1; i <= this.options.demoDevices; i++) {
      const auth = i % 5 === 0 ? 'selfSigned' : i % 4 === 0 ? 'certificateAuthority' : 'sas';
      plan.push({ deviceId: `demo-sensor-${String(i).padStart(2, '0')}`, auth, rejects: i % 3 === 0 });
    }
    const next = async (): Promise<void> => {
      const item = plan.shift();
      if (!item || this.stopping) return;
      try {
        await registry.get(item.deviceId);
      } catch {
        if (item.rejects) this.hub.agents.setMode(item.deviceId, 'rejectConfiguration', { rejectKeys: ['Process_Mode'] });
        const authentication =
          item.auth === 'sas'
            ? { type: 'sas' as const, symmetricKey: { primaryKey: '', secondaryKey: '' } }
            : item.auth === 'selfSigned'
              ? {
                  type: 'selfSigned' as const,
                  x509Thumbprint: {
                    primaryThumbprint: randomBytes(20).toString('hex').toUpperCase(),
                    secondaryThumbprint: randomBytes(20).toString('hex').toUpperCase(),
                  },
                }
              : { type: 'certificateAuthority' as const };
        await registry.create({ deviceId: item.deviceId, status: 'enabled', authentication }).catch((err: unknown) => {
          this.options.logger.warn('demo device could not be created', { deviceId: item.deviceId, error: String(err) });
        });
      }
      if (plan.length > 0 && !this.stopping) this.demoTimer = setTimeout(() => void next(), this.options.demoIntervalMs);
      else if (!this.stopping) this.demoTimer = setTimeout(() => void this.firstComplianceSummary(), this.options.demoIntervalMs * 2);
    };
    this.demoTimer = setTimeout(() => void next(), 500);
  }

  /**
   * Starts a compliance sweep through the app's own HTTP API, as an operator would, waits for the
   * shards to run through the queue, and prints the summary.
   */
  private async firstComplianceSummary(): Promise<void> {
    const { logger } = this.options;
    const api = this.host.httpUrl;
    if (!api || this.stopping) return;
    const headers = { 'x-functions-key': this.functionKey, 'content-type': 'application/json' };
    try {
      const started = await fetch(`${api}/api/sweeps`, { method: 'POST', headers, body: '{}' });
      const run = (await started.json()) as { sweepId?: string };
      if (!started.ok || !run.sweepId) throw new Error(`POST /api/sweeps answered ${started.status}`);
      logger.info('compliance sweep started', { sweepId: run.sweepId });
      for (let attempt = 0; attempt < 120 && !this.stopping; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const response = await fetch(`${api}/api/sweeps/${encodeURIComponent(run.sweepId)}`, { headers });
        const body = (await response.json()) as {
          status?: string;
          summary?: {
            counters?: {
              evaluated: number;
              compliant: number;
              nonCompliant: number;
              outOfScopeEdge: number;
              rules: Record<string, { violations: number; suppressed: number }>;
              repairs: Record<string, number>;
            };
          };
        };
        const counters = body.summary?.counters;
        if (body.status !== 'completed' || !counters) continue;
        const rules = Object.entries(counters.rules)
          .filter(([, count]) => count.violations > 0)
          .map(([rule, count]) => `${rule}=${count.violations}`)
          .join(' ');
        logger.info('first compliance summary', {
          evaluated: counters.evaluated,
          compliant: counters.compliant,
          nonCompliant: counters.nonCompliant,
          edgeOutOfScope: counters.outOfScopeEdge,
          violations: rules || 'none',
          repairs:
            Object.entries(counters.repairs)
              .map(([action, count]) => `${action}=${count}`)
              .join(' ') || 'none',
        });
        logger.info(`details: curl -H 'x-functions-key: ${this.functionKey}' ${api}/api/compliance/findings?format=csv`);
        logger.info(`dashboard: open ${api}/api/dashboard/ and enter the function key ${this.functionKey}`);
        return;
      }
    } catch (err) {
      logger.warn('the demo compliance sweep could not run', { error: String(err) });
    }
  }

  /** Stops in order: demo, host (drains in-flight batches), emulator (saves state), Azurite (flushes). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.demoTimer) clearTimeout(this.demoTimer);
    this.detachNarrator();
    await this.host.stop();
    if (this.options.dataDir) await this.hub.save();
    await this.hub.stop();
    await this.azurite.stop();
  }
}

/** Live lines for what happens in the hub, so the flow is visible next to TwinGuard's own logs. */
function narrate(hub: IotHubEmulator, logger: Logger): () => void {
  return hub.registry.onChange((change: HubChange) => {
    if (change.kind === 'lifecycle' && change.opType === 'createDeviceIdentity') {
      if (change.moduleId) logger.info(`hub: module ${change.moduleId} created`, { deviceId: change.deviceId });
      else logger.info('hub: device created', { deviceId: change.deviceId });
    } else if (change.kind === 'connectionState' && change.moduleId) {
      const state = change.opType === 'deviceConnected' ? 'connected' : 'disconnected';
      logger.info(`hub: ${change.moduleId} agent ${state} over MQTT`, { deviceId: change.deviceId });
    } else if (change.kind === 'twinChange' && change.moduleId) {
      const reported = (change.body['properties'] as { reported?: Record<string, unknown> } | undefined)?.reported;
      if (reported && 'latest_state' in reported) {
        logger.info('hub: security agent reported', {
          deviceId: change.deviceId,
          latest_state: reported['latest_state'],
          invalid: reported['latest_invalid_fields'],
        });
      }
    }
  });
}

function opensslAvailable(): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
}

/**
 * One simulated security agent: an `azure-iot-device` `ModuleClient` over MQTT with its module's identity. It does
 * what the Defender for IoT agent does with its module twin: connect, read the twin, follow desired-property updates
 * and report its effective configuration (agent-report.ts) after `reportDelayMs`.
 *
 * Start-up closes the gap the SDK leaves between reading the twin and subscribing to desired updates
 * (azure-iot-device 1.18.4 dist/twin.js: `getTwin` GETs, the first `properties.desired` listener then SUBSCRIBEs; a
 * desired change in between is in neither): the agent subscribes first (`enableTwinDesiredPropertiesUpdates`, SUBACK),
 * then listens, then GETs again, so every desired version reaches it by the GET or by a push.
 *
 * The client runs with a no-retry policy: a lost connection ends the agent (`onEnded`) instead of an SDK retry loop
 * with its timers; the simulator connects a new one when there is work (the next desired change or mode change).
 */
import type { ModuleClient, Twin } from 'azure-iot-device';
import { isReportingMode, type AgentMode } from './agent-mode';
import { agentReport } from './agent-report';

/** The SDK's RetryPolicy shape (azure-iot-common retry_policy.d.ts `NoRetry`), without importing azure-iot-common. */
const NO_RETRY = { shouldRetry: (): boolean => false, nextRetryTimeout: (): number => -1 };

export interface ModuleAgentHost {
  /** A new, unopened client for the module, or undefined when it has no credential (the agent then ends at once). */
  createClient(deviceId: string, moduleId: string): ModuleClient | undefined;
  modeOf(deviceId: string): { mode: AgentMode; rejectKeys?: readonly string[] };
  readonly reportDelayMs: number;
  /** The agent acted on this desired `$version` (reported, or chose not to in its mode). */
  onHandled(agent: ModuleAgent, desiredVersion: number): void;
  /** The agent's connection ended without being asked to (refused, dropped, an SDK error). */
  onEnded(agent: ModuleAgent, reason: string): void;
}

type ReportedSection = Record<string, unknown> & {
  update(patch: Record<string, unknown>, done: (error?: Error) => void): void;
};

export class ModuleAgent {
  private client: ModuleClient | undefined;
  private twin: Twin | undefined;
  private opening: Promise<void> | undefined;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private reporting = false;
  private reportAgain = false;
  /** Highest desired `$version` acted on in this connection (0 before the first). */
  handledVersion = 0;

  constructor(
    readonly deviceId: string,
    readonly moduleId: string,
    private readonly host: ModuleAgentHost,
  ) {}

  get key(): string {
    return `${this.deviceId}/${this.moduleId}`;
  }

  /** Whether a client exists (connecting or connected). */
  get running(): boolean {
    return this.client !== undefined;
  }

  /** Connects, subscribes and reads the twin; resolves when set up (or when that failed and the agent ended). */
  start(): Promise<void> {
    if (this.client) return this.opening ?? Promise.resolve();
    const client = this.host.createClient(this.deviceId, this.moduleId);
    if (!client) {
      this.host.onEnded(this, 'the module has no credential the emulator accepts');
      return Promise.resolve();
    }
    this.client = client;
    this.handledVersion = 0;
    client.setRetryPolicy(NO_RETRY);
    client.on('error', (error: Error) => this.lose(client, `client error: ${error.message}`));
    client.on('disconnect', () => this.lose(client, 'disconnected'));
    const opening: Promise<void> = this.open(client)
      .catch((error: unknown) => this.lose(client, `connect failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        if (this.opening === opening) this.opening = undefined;
      });
    this.opening = opening;
    return opening;
  }

  /** Closes the connection (the module goes Disconnected) and cancels a scheduled report. */
  async stop(): Promise<void> {
    const client = this.client;
    const opening = this.opening;
    this.detach();
    if (!client) return;
    // An open in flight settles first (it cannot succeed any more: detach() made the client stale), then closes.
    await opening;
    await closeQuietly(client);
  }

  private async open(client: ModuleClient): Promise<void> {
    await client.open();
    const twin = await client.getTwin();
    if (this.client !== client) return;
    twin.on('error', (error: Error) => this.lose(client, `twin error: ${error.message}`));
    await new Promise<void>((resolve, reject) => twin.enableTwinDesiredPropertiesUpdates((error) => (error ? reject(error) : resolve())));
    if (this.client !== client) return;
    this.twin = twin;
    // The first listener replays the current desired section; later events are pushes (merged by the SDK).
    twin.on('properties.desired', () => this.scheduleReport());
    await twin.get();
  }

  private scheduleReport(): void {
    // One report covers every change seen so far: it reads the twin when it runs.
    if (this.timer || !this.twin) return;
    const run = (): void => {
      this.timer = undefined;
      void this.report();
    };
    this.timer = this.host.reportDelayMs > 0 ? setTimeout(run, this.host.reportDelayMs) : setImmediate(run);
  }

  private async report(): Promise<void> {
    const twin = this.twin;
    const client = this.client;
    if (!twin || !client) return;
    if (this.reporting) {
      this.reportAgain = true;
      return;
    }
    this.reporting = true;
    try {
      const desired = twin.properties.desired as Record<string, unknown>;
      const version = typeof desired['$version'] === 'number' ? desired['$version'] : 0;
      const { mode, rejectKeys } = this.host.modeOf(this.deviceId);
      if (isReportingMode(mode)) {
        const reported = twin.properties.reported as ReportedSection;
        const patch = agentReport(this.moduleId, desired, withoutFunctions(reported), mode, rejectKeys);
        if (patch) await new Promise<void>((resolve, reject) => reported.update(patch, (error) => (error ? reject(error) : resolve())));
      }
      if (this.client !== client) return;
      this.handledVersion = Math.max(this.handledVersion, version);
      this.host.onHandled(this, version);
    } catch (error) {
      this.lose(client, `report failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.reporting = false;
      if (this.reportAgain && this.client === client) {
        this.reportAgain = false;
        this.scheduleReport();
      }
    }
  }

  /** Ends the agent after a failure of this client (ignored for a client already replaced or stopped). */
  private lose(client: ModuleClient, reason: string): void {
    if (this.client !== client) return;
    this.detach();
    void closeQuietly(client);
    this.host.onEnded(this, reason);
  }

  private detach(): void {
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
    }
    this.timer = undefined;
    this.client = undefined;
    this.twin = undefined;
    this.reportAgain = false;
  }
}

async function closeQuietly(client: ModuleClient): Promise<void> {
  client.removeAllListeners('disconnect');
  try {
    await client.close();
  } catch {
    // Closing a client whose connection already failed: nothing left to release.
  }
}

/** The SDK's reported section carries its `update` function next to the properties. */
function withoutFunctions(section: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(section).filter(([, value]) => typeof value !== 'function'));
}

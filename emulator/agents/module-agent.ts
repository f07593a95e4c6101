/**
 * One simulated security agent: an `azure-iot-device` `ModuleClient` over MQTT with its module's identity. It does
 * what the Defender for IoT agent does with its module twin: connect, read the twin, follow desired-property updates
 * and report its effective configuration (agent-report.ts) after `reportDelayMs`.
 *
 * The SDK leaves a gap between reading the twin and subscribing to desired updates (azure-iot-device 1.18.4
 * dist/twin.js: `getTwin` GETs, the first `properties.desired` listener then SUBSCRIBEs; a desired change in between
 * reaches the device by neither). After each report the agent compares the version it acted on with the hub's and,
 * when the hub is ahead, reads the twin again (`twin.get()`), so no desired version is missed; in the common case
 * this costs nothing beyond the SDK's own start-up (CONNECT, two SUBSCRIBEs, one GET).
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
  createClient(deviceId: string, moduleId: string): Promise<ModuleClient | undefined>;
  modeOf(deviceId: string): { mode: AgentMode; rejectKeys?: readonly string[] };
  readonly reportDelayMs: number;
  /** The desired `$version` the hub holds for the module now (undefined once it is gone). */
  desiredVersionOf(deviceId: string, moduleId: string): number | undefined;
  /** The agent acted on this desired `$version` (reported, or chose not to in its mode). */
  onHandled(agent: ModuleAgent, desiredVersion: number): void;
  /** The agent's connection ended without being asked to (refused, dropped, an SDK error). */
  onEnded(agent: ModuleAgent, reason: string): void;
}

type ReportedSection = Record<string, unknown> & {
  update(patch: Record<string, unknown>, done: (error?: Error) => void): void;
};

export class ModuleAgent {
  private active = false;
  /** Bumped by every start and stop, so a connect that finishes after a stop knows it is stale. */
  private generation = 0;
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

  /** Whether the agent is connecting or connected. */
  get running(): boolean {
    return this.active;
  }

  /** Connects, subscribes and reads the twin; resolves when set up (or when that failed and the agent ended). */
  start(): Promise<void> {
    if (this.active) return this.opening ?? Promise.resolve();
    this.active = true;
    this.handledVersion = 0;
    const generation = ++this.generation;
    const opening: Promise<void> = this.connect(generation).finally(() => {
      if (this.opening === opening) this.opening = undefined;
    });
    this.opening = opening;
    return opening;
  }

  /** Closes the connection (the module goes Disconnected) and cancels a scheduled report. */
  async stop(): Promise<void> {
    const opening = this.opening;
    const client = this.client;
    this.detach();
    // A connect in flight settles first (it sees it is stale and closes its client itself).
    await opening;
    if (client) await closeQuietly(client);
  }

  private async connect(generation: number): Promise<void> {
    const client = await this.host.createClient(this.deviceId, this.moduleId);
    if (generation !== this.generation) {
      if (client) await closeQuietly(client);
      return;
    }
    if (!client) {
      this.detach();
      this.host.onEnded(this, 'the module has no credential the emulator accepts');
      return;
    }
    this.client = client;
    client.setRetryPolicy(NO_RETRY);
    client.on('error', (error: Error) => this.lose(client, `client error: ${error.message}`));
    client.on('disconnect', () => this.lose(client, 'disconnected'));
    try {
      await client.open();
      const twin = await client.getTwin();
      if (this.client !== client) return;
      twin.on('error', (error: Error) => this.lose(client, `twin error: ${error.message}`));
      this.twin = twin;
      // The first listener replays the current desired section and subscribes; later events are pushes (merged by the SDK).
      twin.on('properties.desired', () => this.scheduleReport());
    } catch (error) {
      this.lose(client, `connect failed: ${error instanceof Error ? error.message : String(error)}`);
    }
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
      // Behind the hub (a change fell into the SDK's GET/SUBSCRIBE gap, or its push is still in flight): read again.
      if ((this.host.desiredVersionOf(this.deviceId, this.moduleId) ?? 0) > version) await twin.get();
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
    this.active = false;
    this.generation++;
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

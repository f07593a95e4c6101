/**
 * The simulated Defender for IoT agents of an emulated hub: one MQTT `ModuleClient` (module-agent.ts) per security
 * module (`DefenderIotMicroAgent`, `azureiotsecurity`) that has had something to react to.
 *
 * An agent is started when its module is created or its desired properties change (HubChanges from the registry),
 * not for every module in the registry: seeded and persisted modules model agents that are offline until TwinGuard
 * touches them, and a test hub with thousands of seeded modules opens no sockets. Once started, an agent stays
 * connected until its module or device is deleted, its mode becomes `disconnected`, its connection is lost, or the
 * hub stops. It never reconnects on its own and does not connect while another client holds the module's identity,
 * so device code connected with a security module's credentials displaces it for as long as it stays connected. Modes are per
 * device (agent-mode.ts).
 *
 * `whenIdle()` tracks the work each change implies: a change at desired `$version` v is done when the module's
 * agent has acted on a version ≥ v (reported, or chosen not to in its mode), or has ended; mode changes are done
 * when the connection is closed or re-established and reported.
 */
import type { ModuleClient } from 'azure-iot-device';
import type { HubChange } from '../hub-events';
import type { HubRegistry } from '../registry/hub-registry';
import { LEGACY_MODULE_ID, MICRO_AGENT_MODULE_ID } from '../../shared/domain/security-module/module-ids';
import { createAgentClient, type AgentConnection } from './agent-client';
import type { AgentMode } from './agent-mode';
import { ModuleAgent, type ModuleAgentHost } from './module-agent';

export interface SecurityAgentSimulatorOptions {
  /** Mode for devices without an explicit one (default 'healthy'). */
  defaultMode?: AgentMode;
  /** Delay before reporting; 0 reports on the next turn of the event loop (setImmediate). */
  reportDelayMs?: number;
  /** Module IDs that host a security agent (default: DefenderIotMicroAgent and azureiotsecurity). */
  moduleIds?: readonly string[];
}

export class SecurityAgentSimulator implements ModuleAgentHost {
  readonly reportDelayMs: number;
  /** Counters since start: connections set up, reports acted on, agents ended without being asked to. */
  readonly stats = { connected: 0, handled: 0, ended: 0 };
  private defaultMode: AgentMode;
  private readonly modes = new Map<string, { mode: AgentMode; rejectKeys?: readonly string[] }>();
  private readonly moduleIds: ReadonlySet<string>;
  private readonly agents = new Map<string, ModuleAgent>();
  /** Modules whose agent was closed by the `disconnected` mode: connected again when the mode changes back. */
  private readonly parked = new Set<string>();
  /** Per module: the desired `$version` its agent still has to act on. */
  private readonly pending = new Map<string, number>();
  private readonly operations = new Set<Promise<void>>();
  private idleWaiters: Array<() => void> = [];
  private readonly unsubscribe: () => void;
  private stopped = false;

  constructor(
    private readonly registry: HubRegistry,
    private readonly connection: AgentConnection,
    options: SecurityAgentSimulatorOptions = {},
  ) {
    this.defaultMode = options.defaultMode ?? 'healthy';
    this.reportDelayMs = options.reportDelayMs ?? 0;
    this.moduleIds = new Set(options.moduleIds ?? [MICRO_AGENT_MODULE_ID, LEGACY_MODULE_ID]);
    this.unsubscribe = registry.onChange((change) => this.onChange(change));
  }

  /** Agents with a client (connecting or connected). */
  get runningCount(): number {
    return this.agents.size;
  }

  /** Whether the module's agent has a client (connecting or connected). */
  isRunning(deviceId: string, moduleId: string): boolean {
    return this.agents.get(keyOf(deviceId, moduleId))?.running ?? false;
  }

  /** Sets a device's agent mode; `rejectKeys` names the desired keys a rejecting micro agent refuses. */
  setMode(deviceId: string, mode: AgentMode, options: { rejectKeys?: readonly string[] } = {}): void {
    this.modes.set(deviceId, { mode, rejectKeys: options.rejectKeys });
    this.applyMode((candidate) => candidate === deviceId);
  }

  setDefaultMode(mode: AgentMode): void {
    this.defaultMode = mode;
    this.applyMode((candidate) => !this.modes.has(candidate));
  }

  modeOf(deviceId: string): { mode: AgentMode; rejectKeys?: readonly string[] } {
    return this.modes.get(deviceId) ?? { mode: this.defaultMode };
  }

  /** Resolves once every change so far has been acted on (reported, refused, or ended with the agent). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops watching and closes every agent's connection. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    const agents = [...this.agents.values()];
    this.agents.clear();
    this.pending.clear();
    this.parked.clear();
    await Promise.all([...agents.map((agent) => agent.stop()), ...this.operations]);
    this.settle();
  }

  // ---- ModuleAgentHost ---------------------------------------------------------------------------

  async createClient(deviceId: string, moduleId: string): Promise<ModuleClient | undefined> {
    try {
      return await createAgentClient(this.connection, deviceId, moduleId, Date.now());
    } catch {
      // The module was deleted before its agent started: there is nothing to connect as.
      return undefined;
    }
  }

  onHandled(agent: ModuleAgent, desiredVersion: number): void {
    if (this.agents.get(agent.key) !== agent) return;
    this.stats.handled++;
    const awaited = this.pending.get(agent.key);
    if (awaited !== undefined && desiredVersion >= awaited) this.pending.delete(agent.key);
    this.settle();
  }

  onEnded(agent: ModuleAgent, _reason: string): void {
    if (this.agents.get(agent.key) !== agent) return;
    this.stats.ended++;
    this.agents.delete(agent.key);
    this.pending.delete(agent.key);
    this.settle();
  }

  // ---- internals ----------------------------------------------------------------------------------

  private onChange(change: HubChange): void {
    if (this.stopped) return;
    if (change.kind === 'lifecycle' && change.opType === 'deleteDeviceIdentity') {
      // A deleted device takes its modules with it (one notification for the device).
      this.closeAgents(
        (deviceId, moduleId) => deviceId === change.deviceId && (change.moduleId === undefined || moduleId === change.moduleId),
      );
      return;
    }
    if (change.moduleId === undefined || !this.moduleIds.has(change.moduleId)) return;
    const created = change.kind === 'lifecycle' && change.opType === 'createDeviceIdentity';
    // What the hub pushes to the device (mqtt-endpoint.ts onHubChange): a desired patch, or a replaced twin.
    const desiredChanged = change.kind === 'twinChange' && (change.opType === 'replaceTwin' || change.desiredPatch !== undefined);
    if (!created && !desiredChanged) return;
    const { mode } = this.modeOf(change.deviceId);
    if (mode === 'disconnected') return;
    this.engage(change.deviceId, change.moduleId, mode !== 'silent');
  }

  /** Starts the module's agent if needed and, when `awaitReport`, records the desired version it must act on. */
  private engage(deviceId: string, moduleId: string, awaitReport: boolean): void {
    const key = keyOf(deviceId, moduleId);
    let agent = this.agents.get(key);
    // Another client (an operator's own agent or test code) holds the module's identity: connecting would drop it
    // (one connection per identity), so the simulated agent stays out of its way.
    if (!agent?.running && this.connection.isConnected?.(deviceId, moduleId)) return;
    if (awaitReport) {
      const version = this.desiredVersionOf(deviceId, moduleId);
      if (version === undefined) return;
      if (!agent?.running || agent.handledVersion < version) this.pending.set(key, Math.max(this.pending.get(key) ?? 0, version));
    }
    if (!agent) {
      agent = new ModuleAgent(deviceId, moduleId, this);
      this.agents.set(key, agent);
    }
    if (!agent.running) this.track(agent.start().then(() => this.noteConnected(agent)));
  }

  private noteConnected(agent: ModuleAgent): void {
    if (this.agents.get(agent.key) === agent && agent.running) this.stats.connected++;
  }

  /** Applies the current modes to the devices `affects` selects: closes agents now `disconnected`, reconnects parked ones. */
  private applyMode(affects: (deviceId: string) => boolean): void {
    if (this.stopped) return;
    this.closeAgents((deviceId) => affects(deviceId) && this.modeOf(deviceId).mode === 'disconnected', true);
    for (const key of [...this.parked]) {
      const [deviceId, moduleId] = splitKey(key);
      if (!affects(deviceId)) continue;
      const { mode } = this.modeOf(deviceId);
      if (mode === 'disconnected') continue;
      this.parked.delete(key);
      // A reconnecting agent resynchronises: it reads its twin and reports, as an agent process does on restart.
      if (this.registry.findTwin(deviceId, moduleId)) this.engage(deviceId, moduleId, mode !== 'silent');
    }
  }

  /** Closes the selected agents; `park` keeps them to reconnect when the mode changes back, else they are forgotten. */
  private closeAgents(select: (deviceId: string, moduleId: string) => boolean, park = false): void {
    for (const agent of [...this.agents.values()]) {
      if (!select(agent.deviceId, agent.moduleId)) continue;
      this.agents.delete(agent.key);
      this.pending.delete(agent.key);
      if (park) this.parked.add(agent.key);
      this.track(agent.stop());
    }
    if (!park) for (const key of [...this.parked]) if (select(...splitKey(key))) this.parked.delete(key);
    this.settle();
  }

  desiredVersionOf(deviceId: string, moduleId: string): number | undefined {
    const twin = this.registry.findTwin(deviceId, moduleId) as { properties?: { desired?: { $version?: unknown } } } | undefined;
    if (!twin) return undefined;
    const version = twin.properties?.desired?.$version;
    return typeof version === 'number' ? version : 0;
  }

  private track(operation: Promise<void>): void {
    const tracked: Promise<void> = operation
      .catch(() => undefined)
      .finally(() => {
        this.operations.delete(tracked);
        this.settle();
      });
    this.operations.add(tracked);
  }

  private isIdle(): boolean {
    return this.pending.size === 0 && this.operations.size === 0;
  }

  private settle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function keyOf(deviceId: string, moduleId: string): string {
  return `${deviceId}/${moduleId}`;
}

/** Device ids cannot contain `/` (shared/domain/identifiers.ts), so the first one separates the module id. */
function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

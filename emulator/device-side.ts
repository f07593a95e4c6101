/**
 * The device side of the emulated hub. `DeviceSide` writes reported properties and connection state straight into
 * the registry (for tests that stage a state); real device code, and the simulated security agents
 * (emulator/agents/), connect over MQTT (emulator/mqtt/).
 */
import type { ConnectionState } from './registry/identity-json';
import type { HubRegistry } from './registry/hub-registry';

/** Device-side twin operations: reported properties and connection state. */
export class DeviceSide {
  constructor(private readonly registry: HubRegistry) {}

  /** Merges a reported patch (null deletes) into a device or module twin, as a device client would. */
  setReported(deviceId: string, patch: Record<string, unknown>, moduleId?: string): void {
    this.registry.updateReported(deviceId, moduleId, patch);
  }

  /** Marks the device (or module) connected/disconnected and updates lastActivityTime. */
  setConnectionState(deviceId: string, state: ConnectionState, moduleId?: string): void {
    this.registry.setConnectionState(deviceId, moduleId, state);
  }
}

export type { AgentMode } from './agents/agent-mode';
export { SecurityAgentSimulator, type SecurityAgentSimulatorOptions } from './agents/security-agent-simulator';
export { LEGACY_AGENT_DEFAULTS, MICRO_AGENT_DEFAULTS } from './agents/agent-report';

/** The agent's names and keys are TwinGuard's own domain facts; the simulated agent uses the same ones. */
export {
  MICRO_AGENT_MODULE_ID,
  LEGACY_MODULE_ID as LEGACY_AGENT_MODULE_ID,
  LEGACY_CONFIG_KEYS as LEGACY_CONFIGURATION_KEYS,
} from '../shared/domain/security-module/module-ids';

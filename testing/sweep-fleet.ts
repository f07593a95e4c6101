/**
 * A small fleet of known security states on an emulated hub with a controllable clock (HubRegistry's `now`), so
 * staleness and inactivity can be staged. Built through registry state operations for speed.
 */
import type { FaultInjector } from '../emulator/faults';
import { HubRegistry } from '../emulator/registry/hub-registry';
import { startRegistryOnlyHub } from './registry-only-hub';

export const MODULE = 'DefenderIotMicroAgent';
export const BASELINE = { Process_MessageFrequency: 'Medium' };
const HOUR = 3_600_000;

export interface FleetHub {
  registry: HubRegistry;
  faults: FaultInjector;
  serviceConnectionString: string;
  registryUrl: string;
  clock: { now: number };
  stop(): Promise<void>;
}

export async function startFleetHub(startMs = Date.UTC(2026, 10, 23, 2, 0, 0)): Promise<FleetHub> {
  const clock = { now: startMs };
  const hub = await startRegistryOnlyHub('sweep-test', new HubRegistry({ now: () => new Date(clock.now) }));
  return {
    registry: hub.registry,
    faults: hub.faults,
    clock,
    registryUrl: hub.url,
    serviceConnectionString: hub.connectionString(),
    stop: () => hub.stop(),
  };
}

type State = 'healthy' | 'missing' | 'drifted' | 'failed' | 'stale' | 'noBaseline' | 'inactive';

export function addDevice(
  hub: FleetHub,
  deviceId: string,
  state: State,
  options: { edge?: boolean; disabled?: boolean; tags?: Record<string, unknown>; authType?: 'sas' | 'certificateAuthority' } = {},
): void {
  const { registry, clock } = hub;
  registry.createDevice(
    {
      deviceId,
      status: options.disabled ? 'disabled' : 'enabled',
      capabilities: { iotEdge: options.edge === true },
      tags: options.tags,
      authentication: { type: options.authType ?? 'sas' },
    },
    { notify: false },
  );
  if (state === 'missing') return;
  registry.createModule({ deviceId, moduleId: MODULE, authentication: { type: 'sas' } }, { notify: false });
  const desired = state === 'noBaseline' ? { Process_MessageFrequency: 'High' } : { ...BASELINE, Baseline_Disabled: false };
  registry.updateTwin(deviceId, MODULE, { properties: { desired } }, '*', { notify: false });
  const reported: Record<string, unknown> =
    state === 'failed'
      ? { latest_state: 'failed', latest_invalid_fields: ['Baseline_Disabled'] }
      : { ...desired, latest_state: 'success', latest_invalid_fields: [] };
  if (state === 'drifted') reported['Process_MessageFrequency'] = 'Low';
  const saved = clock.now;
  clock.now = state === 'inactive' ? saved - 100 * HOUR : saved;
  registry.setConnectionState(deviceId, MODULE, state === 'inactive' ? 'Disconnected' : 'Connected', { notify: false });
  clock.now = state === 'stale' ? saved - 48 * HOUR : saved;
  registry.updateReported(deviceId, MODULE, reported, { notify: false });
  clock.now = saved;
}

/** The mixed fleet the sweep tests share, and which devices each rule must flag. */
export function buildMixedFleet(hub: FleetHub, healthy = 40): Record<string, string[]> {
  for (let i = 0; i < healthy; i++) addDevice(hub, `healthy-${String(i).padStart(3, '0')}`, 'healthy');
  addDevice(hub, 'missing-1', 'missing');
  addDevice(hub, "o'brien(2)", 'missing');
  addDevice(hub, 'drifted-1', 'drifted');
  addDevice(hub, 'failed-1', 'failed');
  addDevice(hub, 'stale-1', 'stale');
  addDevice(hub, 'nobaseline-1', 'noBaseline');
  addDevice(hub, 'inactive-1', 'inactive');
  addDevice(hub, 'disabled-1', 'healthy', { disabled: true });
  addDevice(hub, 'edge-1', 'missing', { edge: true });
  addDevice(hub, 'lab-1', 'missing', { tags: { site: 'lab' } });
  addDevice(hub, "odd#?%'()-1", 'healthy');
  addDevice(hub, 'ca-missing-1', 'missing', { authType: 'certificateAuthority' });
  return {
    'module-missing': ['ca-missing-1', 'lab-1', 'missing-1', "o'brien(2)"],
    'identity-disabled': ['disabled-1'],
    'configuration-drift': ['drifted-1'],
    'agent-failed': ['failed-1'],
    'baseline-not-applied': ['nobaseline-1'],
    'agent-stale': ['stale-1'],
    'module-inactive': ['inactive-1'],
    'module-auth-weak': [],
  };
}

/** The desired section of a twin as stored by the emulator. */
export function desiredOf(hub: FleetHub, deviceId: string, moduleId: string): Record<string, unknown> {
  return (hub.registry.getTwin(deviceId, moduleId) as unknown as { properties: { desired: Record<string, unknown> } }).properties.desired;
}

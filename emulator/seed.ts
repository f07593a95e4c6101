/**
 * Fleet seeding: a deterministic simulated fleet (from a count) or an explicit one (from a JSON file),
 * written straight into the registry so 10^5 devices take seconds, not an hour of REST calls.
 */
import { readFile } from 'node:fs/promises';
import type { AuthenticationType } from '../shared/domain/authentication-type';
import { seededRandom } from '../shared/domain/seeded-random';
import { LEGACY_AGENT_MODULE_ID, LEGACY_CONFIGURATION_KEYS, MICRO_AGENT_DEFAULTS, MICRO_AGENT_MODULE_ID } from './device-side';
import type { HubRegistry } from './registry/hub-registry';
import type { DeviceInput } from './registry/identity-input';
import { generateSasKey } from './registry/sas-key';

/** Posture of a seeded security module. */
export type SeededModuleState = 'healthy' | 'drifted' | 'failed' | 'stale';

export interface SeedDevice {
  deviceId: string;
  tags?: Record<string, unknown>;
  edge?: boolean;
  authType?: Exclude<AuthenticationType, 'none'>;
  disabled?: boolean;
  securityModule?: { moduleId?: string; state?: SeededModuleState; desired?: Record<string, unknown> };
}

/** The `--seed-file` format. */
export interface SeedFile {
  devices: SeedDevice[];
}

export interface SeedOptions {
  /** Number of simulated devices (deterministic mix). */
  devices?: number;
  /** Path of a SeedFile JSON document. */
  file?: string;
  /** An explicit fleet (instead of, or in addition to, the generated one). */
  fleet?: SeedFile;
  /** PRNG seed for the generated mix (default 1). */
  randomSeed?: number;
  /** Emit HubChanges while seeding (default false: bulk seeds stay off the event stream). */
  notify?: boolean;
}

export interface SeedSummary {
  devices: number;
  modules: number;
  edge: number;
  disabled: number;
}

const ENVIRONMENTS = ['prod', 'staging', 'dev'];
const REGIONS = ['westeurope', 'northeurope', 'eastus', 'westus2', 'southeastasia'];
/** IDs exercising every legal special character (- : . + % _ # * ? ! ( ) , = @ ; $ '). */
const ODD_ID_STEMS = ["odd-#?%+;$'()!*,=@:._", "o'brien(1)", 'a+b%20c', 'x#y?z', 'semi;colon=eq@at', "dollar$star*bang!'"];

/** Builds the deterministic simulated fleet: the same count and seed always give the same fleet. */
export function generateFleet(count: number, randomSeed = 1): SeedFile {
  const random = seededRandom(randomSeed);
  const devices: SeedDevice[] = [];
  for (let i = 0; i < count; i++) {
    const oddStem = i % 500 === 7 ? ODD_ID_STEMS[((i / 500) % ODD_ID_STEMS.length) | 0] : undefined;
    const deviceId = oddStem ? `${oddStem}-${i}` : `sim-${String(i).padStart(6, '0')}`;
    const roll = random();
    const environment = ENVIRONMENTS[roll < 0.6 ? 0 : roll < 0.85 ? 1 : 2] as string;
    const region = REGIONS[Math.floor(random() * REGIONS.length)] as string;
    const authRoll = random();
    const device: SeedDevice = {
      deviceId,
      tags: { environment, region },
      edge: random() < 0.05,
      authType: authRoll < 0.9 ? 'sas' : authRoll < 0.95 ? 'selfSigned' : 'certificateAuthority',
      disabled: random() < 0.01,
    };
    if (random() < 0.3) {
      const stateRoll = random();
      const state: SeededModuleState = stateRoll < 0.7 ? 'healthy' : stateRoll < 0.8 ? 'drifted' : stateRoll < 0.9 ? 'failed' : 'stale';
      device.securityModule = { moduleId: random() < 0.9 ? MICRO_AGENT_MODULE_ID : LEGACY_AGENT_MODULE_ID, state };
    }
    devices.push(device);
  }
  return { devices };
}

/** Reads and shape-checks a `--seed-file`. @throws Error naming the first malformed entry. */
export async function readSeedFile(path: string): Promise<SeedFile> {
  const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { devices?: unknown }).devices)) {
    throw new Error(`${path}: expected { "devices": [ … ] }`);
  }
  const devices = (parsed as { devices: unknown[] }).devices;
  devices.forEach((device, index) => {
    if (typeof device !== 'object' || device === null || typeof (device as { deviceId?: unknown }).deviceId !== 'string') {
      throw new Error(`${path}: devices[${index}] needs a string deviceId`);
    }
  });
  return parsed as SeedFile;
}

function thumbprint(deviceId: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < deviceId.length; i++) hash = Math.imul(hash ^ deviceId.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16).toUpperCase().padStart(8, '0').repeat(5);
}

function desiredFor(moduleId: string): Record<string, unknown> {
  if (moduleId === LEGACY_AGENT_MODULE_ID)
    return { [LEGACY_CONFIGURATION_KEYS[0]]: { highPriorityMessageFrequency: 'PT7M', lowPriorityMessageFrequency: 'PT5H' } };
  return { Baseline_Disabled: false, Process_MessageFrequency: 'Medium', CollectorsCore_PriorityIntervals: '30,120,1440' };
}

/** Writes one seeded device (and its security module twin in the requested posture) into the registry. */
function seedDevice(registry: HubRegistry, device: SeedDevice, notify: boolean): number {
  const authType = device.authType ?? 'sas';
  const input: DeviceInput = {
    deviceId: device.deviceId,
    status: device.disabled ? 'disabled' : 'enabled',
    capabilities: { iotEdge: device.edge === true },
    tags: device.tags,
    authentication:
      authType === 'selfSigned'
        ? { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: thumbprint(device.deviceId), secondaryThumbprint: null } }
        : authType === 'certificateAuthority'
          ? { type: 'certificateAuthority' }
          : { type: 'sas', symmetricKey: { primaryKey: generateSasKey(), secondaryKey: generateSasKey() } },
  };
  registry.createDevice(input, { notify });
  const module = device.securityModule;
  if (!module) return 0;
  const moduleId = module.moduleId ?? MICRO_AGENT_MODULE_ID;
  registry.createModule({ deviceId: device.deviceId, moduleId, authentication: { type: 'sas' } }, { notify });
  const desired = module.desired ?? desiredFor(moduleId);
  registry.updateTwin(device.deviceId, moduleId, { properties: { desired } }, '*', { notify });
  const state = module.state ?? 'healthy';
  if (state === 'stale') return 1;
  let reported: Record<string, unknown>;
  if (moduleId === LEGACY_AGENT_MODULE_ID) {
    const key = LEGACY_CONFIGURATION_KEYS[0];
    const config = (desired[key] ?? {}) as Record<string, unknown>;
    reported = { [key]: state === 'drifted' ? { ...config, highPriorityMessageFrequency: 'PT1H' } : config };
  } else {
    const effective = { ...MICRO_AGENT_DEFAULTS, ...desired };
    if (state === 'drifted') effective.Process_MessageFrequency = 'Low';
    reported =
      state === 'failed'
        ? { latest_state: 'failed', latest_invalid_fields: Object.keys(desired).slice(0, 1) }
        : { ...effective, latest_state: 'success', latest_invalid_fields: [] };
  }
  registry.updateReported(device.deviceId, moduleId, reported, { notify });
  return 1;
}

/**
 * Seeds the registry from options (generated count, file, explicit fleet). Direct state writes; HubChanges
 * only when `notify` is true.
 */
export async function seedRegistry(registry: HubRegistry, options: SeedOptions): Promise<SeedSummary> {
  const notify = options.notify === true;
  const fleets: SeedFile[] = [];
  if (options.devices && options.devices > 0) fleets.push(generateFleet(options.devices, options.randomSeed ?? 1));
  if (options.file) fleets.push(await readSeedFile(options.file));
  if (options.fleet) fleets.push(options.fleet);
  const summary: SeedSummary = { devices: 0, modules: 0, edge: 0, disabled: 0 };
  for (const fleet of fleets) {
    for (const device of fleet.devices) {
      summary.modules += seedDevice(registry, device, notify);
      summary.devices++;
      if (device.edge) summary.edge++;
      if (device.disabled) summary.disabled++;
    }
  }
  return summary;
}

/**
 * Which automatic configuration applies to a twin: of those whose target condition matches, the highest `priority`;
 * equal priorities go to the most recently created (learn.microsoft.com/azure/iot-hub/iot-hub-automatic-device-
 * management-cli, "Priority": "If two configurations have the same priority, the one that was created most recently
 * wins"). Shared by the emulator (which applies the winner) and TwinGuard (which treats it as the module's baseline).
 */
import { parseConfigurationTarget, targetsTwin, type ConfigurationTarget } from './configuration-target';
import { desiredPatchOf } from './configuration-content';
import type { JsonObject } from '../types';

/** A configuration as both sides read it (the REST shape's fields that decide and describe an application). */
export interface AutomaticConfiguration {
  id: string;
  priority: number;
  createdTimeUtc: string;
  targetCondition: string;
  content: { deviceContent?: JsonObject; moduleContent?: JsonObject; modulesContent?: JsonObject };
}

/** A configuration with its target parsed and its desired patch expanded, ready to rank many twins. */
export interface RankedConfiguration {
  configuration: AutomaticConfiguration;
  kind: 'device' | 'module';
  target: ConfigurationTarget;
  desired: JsonObject;
}

/**
 * Device and module configurations prepared for ranking; Edge deployments (`modulesContent`) and configurations
 * whose condition or content cannot be read are left out (the second list says which, for callers that report them).
 */
export function rankConfigurations(configurations: readonly AutomaticConfiguration[]): {
  ranked: RankedConfiguration[];
  unreadable: string[];
} {
  const ranked: RankedConfiguration[] = [];
  const unreadable: string[] = [];
  for (const configuration of configurations) {
    const content = configuration.content;
    const kind = content.moduleContent ? 'module' : content.deviceContent ? 'device' : undefined;
    if (kind === undefined) continue;
    try {
      const target = parseConfigurationTarget(configuration.targetCondition);
      if ((kind === 'module') !== (target.collection === 'devices.modules')) throw new Error('collection does not fit the content');
      const desired = desiredPatchOf((kind === 'module' ? content.moduleContent : content.deviceContent) as JsonObject);
      ranked.push({ configuration, kind, target, desired });
    } catch {
      unreadable.push(configuration.id);
    }
  }
  ranked.sort(compareRank);
  return { ranked, unreadable };
}

/** Highest priority first; ties: latest creation first, then id, so the order is total. */
export function compareRank(a: RankedConfiguration, b: RankedConfiguration): number {
  const left = a.configuration;
  const right = b.configuration;
  if (left.priority !== right.priority) return right.priority - left.priority;
  const created = Date.parse(right.createdTimeUtc) - Date.parse(left.createdTimeUtc);
  if (created !== 0 && !Number.isNaN(created)) return created;
  return left.id < right.id ? -1 : left.id > right.id ? 1 : 0;
}

/**
 * The configuration that wins for one twin, from `ranked` (sorted by {@link rankConfigurations}): module twins
 * (with `moduleId`) see module configurations only, device twins device configurations only.
 */
export function winningConfiguration(
  ranked: readonly RankedConfiguration[],
  twin: Record<string, unknown>,
): RankedConfiguration | undefined {
  const kind = typeof twin['moduleId'] === 'string' ? 'module' : 'device';
  return ranked.find((candidate) => candidate.kind === kind && targetsTwin(candidate.target, twin));
}

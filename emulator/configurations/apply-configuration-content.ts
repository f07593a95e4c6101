/**
 * `POST /devices/{id}/applyConfigurationContent` (azure-iothub 1.16 `Registry.applyConfigurationContentOnDevice`,
 * dist/registry.js; REST "Configuration - Apply On Edge Device", learn.microsoft.com/rest/api/iothub/service/
 * configuration/apply-on-edge-device): applies an Edge deployment's `modulesContent` to one IoT Edge device, each
 * entry to the module twin it names: `properties.desired` replaces the module's desired properties (as the hub
 * does for `$edgeAgent` / `$edgeHub`), deeper paths are merged. The module twins change as normal twin updates,
 * with their notifications. Modules the device does not have are skipped (on the hub the Edge runtime creates them
 * and reads their twins then), except `$edgeAgent` / `$edgeHub`, created on demand. Answers 200 with no body.
 */
import { desiredPatchOf, ContentPathError, DESIRED_PREFIX } from '../../shared/domain/configurations/configuration-content';
import { isJsonObject } from '../../shared/domain/twin-patch';
import type { JsonObject } from '../../shared/domain/types';
import { HubError } from '../registry/hub-error';
import type { HubRegistry } from '../registry/hub-registry';

const EDGE_RUNTIME_MODULES = new Set(['$edgeAgent', '$edgeHub']);

function invalid(message: string): HubError {
  return new HubError(400, 'ArgumentInvalid', message.replace(/;/g, ','));
}

/** @throws HubError 404 DeviceNotFound, 400 ArgumentInvalid (not an Edge device, no modulesContent, bad paths). */
export function applyConfigurationContent(registry: HubRegistry, deviceId: string, body: unknown): void {
  const device = registry.getDevice(deviceId);
  if (device.capabilities?.iotEdge !== true)
    throw invalid(`Device ${deviceId} is not an IoT Edge device: configuration content applies to Edge devices only`);
  if (!isJsonObject(body)) throw invalid('The configuration content must be a JSON object');
  const modulesContent = body['modulesContent'];
  if (!isJsonObject(modulesContent) || Object.keys(modulesContent).length === 0)
    throw invalid(
      'The configuration content needs a non-empty modulesContent (deviceContent and moduleContent apply through configurations)',
    );
  const writes: Array<{ moduleId: string; replace: boolean; desired: JsonObject }> = [];
  for (const [moduleId, content] of Object.entries(modulesContent)) {
    if (!isJsonObject(content)) throw invalid(`modulesContent.${moduleId} must be a JSON object`);
    try {
      writes.push({ moduleId, replace: Object.keys(content).includes(DESIRED_PREFIX), desired: desiredPatchOf(content) });
    } catch (error) {
      if (error instanceof ContentPathError) throw invalid(`modulesContent.${moduleId}: ${error.message}`);
      throw error;
    }
  }
  const registered = new Set(registry.listModules(deviceId).map((module) => module.moduleId));
  for (const { moduleId, replace, desired } of writes) {
    if (!registered.has(moduleId)) {
      // The hub gives every Edge device these two module identities at creation; the emulator makes them on demand.
      if (!EDGE_RUNTIME_MODULES.has(moduleId)) continue;
      registry.createModule({ deviceId, moduleId });
    }
    if (replace) {
      const twin = registry.getTwin(deviceId, moduleId);
      registry.replaceTwin(deviceId, moduleId, { tags: twin['tags'] ?? {}, properties: { desired } });
    } else {
      registry.updateTwin(deviceId, moduleId, { properties: { desired } });
    }
  }
}

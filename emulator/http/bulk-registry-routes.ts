/**
 * Bulk registry operations: `POST /devices` with up to 100 ExportImportDevice records, as azure-iothub 1.16
 * `Registry.addDevices` (importMode `create`), `updateDevices` (`Update` / `UpdateIfMatchETag`) and `removeDevices`
 * (`Delete` / `DeleteIfMatchETag`) send them (dist/registry.js `_processBulkDevices`: `deviceId` renamed `id`).
 *
 * Answer per the REST reference (https://learn.microsoft.com/rest/api/iothub/service/bulkregistry/updateregistry):
 * 200 with a BulkRegistryOperationResult `{isSuccessful, errors, warnings}` when every record applied, 400 with the same
 * shape listing the per-device errors (`deviceId`, `moduleId`, `errorCode`, `errorStatus`) when any failed; the records
 * that applied stay applied. A request that is not a 1–100 element array, or names a device twice, is refused whole
 * (400; `DeviceDefinedMultipleTimes` is IoT Hub's error code 400011).
 */
import { applyExportImportDevice, caseInsensitive, type DeviceOperationError } from '../registry/apply-export-import-device';
import { HubError } from '../registry/hub-error';
import type { HubRegistry } from '../registry/hub-registry';
import { WRITE, type Route, type RouteResolver } from './route';

export const MAX_BULK_DEVICES = 100;

export interface BulkRegistryOperationResult {
  isSuccessful: boolean;
  errors: DeviceOperationError[];
  warnings: Array<{ deviceId: string; warningCode: string; warningStatus: string }>;
}

export function bulkRegistryRoutes(registry: HubRegistry): RouteResolver {
  return (method, segments): Route | undefined => {
    if (method !== 'POST' || segments.length !== 1 || segments[0] !== 'devices') return undefined;
    return {
      opClass: 'registry',
      permissions: WRITE,
      handle: (request) => {
        const result = applyBulk(registry, request.body);
        return { status: result.isSuccessful ? 200 : 400, body: result };
      },
    };
  };
}

/** Validates the whole request, then applies each record in order. @throws HubError 400 for a malformed request. */
export function applyBulk(registry: HubRegistry, body: unknown): BulkRegistryOperationResult {
  if (!Array.isArray(body)) throw new HubError(400, 'ArgumentInvalid', 'The bulk registry request must be a JSON array of devices');
  if (body.length === 0 || body.length > MAX_BULK_DEVICES)
    throw new HubError(
      400,
      'ArgumentInvalid',
      `A bulk registry request carries 1 to ${MAX_BULK_DEVICES} devices, this one has ${body.length}`,
    );
  const seen = new Set<string>();
  for (const record of body) {
    if (typeof record !== 'object' || record === null) continue;
    const id = caseInsensitive(record as Record<string, unknown>, 'id');
    const moduleId = caseInsensitive(record as Record<string, unknown>, 'moduleId');
    const key = JSON.stringify([id, moduleId ?? null]);
    if (typeof id === 'string' && seen.has(key))
      throw new HubError(400, 'DeviceDefinedMultipleTimes', `Device '${id}' appears more than once in the request`);
    seen.add(key);
  }
  const errors: DeviceOperationError[] = [];
  for (const record of body) {
    const error = applyExportImportDevice(registry, record, 'create');
    if (error) errors.push(error);
  }
  return { isSuccessful: errors.length === 0, errors, warnings: [] };
}

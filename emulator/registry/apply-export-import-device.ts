/**
 * Applies one ExportImportDevice (the record of bulk `POST /devices` and of import jobs) to the registry through its
 * normal create/update/delete calls, so every identity gets its lifecycle notification and the usual validation.
 *
 * Import modes, per https://learn.microsoft.com/azure/iot-hub/iot-hub-bulk-identity-mgmt ("Import devices", importMode
 * table) and the REST reference (Bulk Registry - Update Registry, ExportImportDevice): `create`, `createOrUpdate`,
 * `createOrUpdateIfMatchETag`, `update`, `updateIfMatchETag`, `updateTwin`, `updateTwinIfMatchETag`, `delete`,
 * `deleteIfMatchETag` (case-insensitive). Property names are matched case-insensitively, as the hub's JSON reader does:
 * azure-iothub's `updateDevices` sends a Device's `etag` where the schema names it `eTag`.
 */
import { HubError } from './hub-error';
import type { HubRegistry } from './hub-registry';
import type { DeviceInput } from './identity-input';

/** One per-identity failure, as BulkRegistryOperationResult.errors and importErrors.log carry it. */
export interface DeviceOperationError {
  deviceId?: string;
  moduleId?: string;
  errorCode: string;
  errorStatus: string;
}

export const IMPORT_MODES = [
  'create',
  'createorupdate',
  'createorupdateifmatchetag',
  'update',
  'updateifmatchetag',
  'updatetwin',
  'updatetwinifmatchetag',
  'delete',
  'deleteifmatchetag',
] as const;

/** Reads a property whatever its casing (`eTag`, `etag`, `ETag`). */
export function caseInsensitive(record: Record<string, unknown>, name: string): unknown {
  if (name in record) return record[name];
  const lower = name.toLowerCase();
  const key = Object.keys(record).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : record[key];
}

/**
 * Applies `record` with `defaultMode` when it names none. Returns undefined on success, the error record otherwise
 * (never throws for a bad record).
 */
export function applyExportImportDevice(
  registry: HubRegistry,
  record: unknown,
  defaultMode = 'createorupdate',
): DeviceOperationError | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record))
    return { errorCode: 'ArgumentInvalid', errorStatus: 'The device record must be a JSON object' };
  const line = record as Record<string, unknown>;
  const rawId = caseInsensitive(line, 'id') ?? caseInsensitive(line, 'deviceId');
  const rawModule = caseInsensitive(line, 'moduleId');
  const deviceId = typeof rawId === 'string' && rawId !== '' ? rawId : undefined;
  const moduleId = typeof rawModule === 'string' && rawModule !== '' ? rawModule : undefined;
  const ids = { ...(deviceId === undefined ? {} : { deviceId }), ...(moduleId === undefined ? {} : { moduleId }) };
  try {
    if (deviceId === undefined) throw new HubError(400, 'ArgumentInvalid', 'The device record needs an id');
    const rawMode = caseInsensitive(line, 'importMode');
    const mode = typeof rawMode === 'string' ? rawMode.toLowerCase() : defaultMode;
    if (!(IMPORT_MODES as readonly string[]).includes(mode))
      throw new HubError(400, 'ArgumentInvalid', `importMode '${String(rawMode)}' is not one of ${IMPORT_MODES.join(', ')}`);
    applyMode(registry, line, deviceId, moduleId, mode);
    return undefined;
  } catch (error) {
    if (error instanceof HubError) return { ...ids, errorCode: error.code, errorStatus: error.message };
    return { ...ids, errorCode: 'ServerError', errorStatus: error instanceof Error ? error.message : String(error) };
  }
}

function applyMode(
  registry: HubRegistry,
  line: Record<string, unknown>,
  deviceId: string,
  moduleId: string | undefined,
  mode: string,
): void {
  const rawEtag = caseInsensitive(line, 'eTag');
  const etag = typeof rawEtag === 'string' && rawEtag !== '' ? rawEtag : undefined;
  const rawTwinEtag = caseInsensitive(line, 'twinETag');
  const twinEtag = typeof rawTwinEtag === 'string' && rawTwinEtag !== '' ? rawTwinEtag : undefined;
  const exists = registry.findTwin(deviceId, moduleId) !== undefined;
  const conditional = mode.endsWith('ifmatchetag') && (exists || mode !== 'createorupdateifmatchetag');
  const ifMatch = conditional ? requireEtag(mode.startsWith('updatetwin') ? twinEtag : etag, mode) : undefined;
  const notFound = (): HubError =>
    moduleId === undefined
      ? new HubError(404, 'DeviceNotFound', `Device ${deviceId} not registered`)
      : new HubError(404, 'ModuleNotFound', `Module ${moduleId} on device ${deviceId} not registered`);

  if (mode === 'delete' || mode === 'deleteifmatchetag') {
    if (moduleId === undefined) registry.deleteDevice(deviceId, ifMatch);
    else registry.deleteModule(deviceId, moduleId, ifMatch);
    return;
  }
  if (mode === 'updatetwin' || mode === 'updatetwinifmatchetag') {
    if (!exists) throw notFound();
    applyTwin(registry, line, deviceId, moduleId, ifMatch ?? '*');
    return;
  }
  if (mode === 'create' && exists) {
    throw moduleId === undefined
      ? new HubError(409, 'DeviceAlreadyExists', `A device with ID '${deviceId}' is already registered.`)
      : new HubError(409, 'ModuleAlreadyExistsOnDevice', `A module with ID '${moduleId}' already exists on device '${deviceId}'.`);
  }
  if ((mode === 'update' || mode === 'updateifmatchetag') && !exists) throw notFound();
  const authentication = caseInsensitive(line, 'authentication') as DeviceInput['authentication'];
  if (moduleId === undefined) {
    const input = deviceInputOf(line, deviceId, authentication);
    if (exists) registry.updateDevice(input, ifMatch ?? '*');
    else registry.createDevice(input);
  } else {
    const managedBy = caseInsensitive(line, 'managedBy');
    const input = { deviceId, moduleId, authentication, ...(typeof managedBy === 'string' ? { managedBy } : {}) };
    if (exists) registry.updateModule(input, ifMatch ?? '*');
    else registry.createModule(input);
  }
  // twinETag guards only updateTwinIfMatchETag (above); an exported line's twinETag belongs to the source hub.
  applyTwin(registry, line, deviceId, moduleId, '*');
}

function requireEtag(etag: string | undefined, mode: string): string {
  if (etag === undefined)
    throw new HubError(
      400,
      'ArgumentInvalid',
      `importMode '${mode}' needs the record's ${mode.startsWith('updatetwin') ? 'twinETag' : 'eTag'}`,
    );
  return etag;
}

function deviceInputOf(line: Record<string, unknown>, deviceId: string, authentication: DeviceInput['authentication']): DeviceInput {
  const status = caseInsensitive(line, 'status');
  const statusReason = caseInsensitive(line, 'statusReason');
  const capabilities = caseInsensitive(line, 'capabilities');
  return {
    deviceId,
    authentication,
    ...(typeof status === 'string' ? { status: status.toLowerCase() as DeviceInput['status'] } : {}),
    ...(typeof statusReason === 'string' ? { statusReason } : {}),
    ...(typeof capabilities === 'object' && capabilities !== null ? { capabilities: capabilities } : {}),
    deviceScope: caseInsensitive(line, 'deviceScope') as DeviceInput['deviceScope'],
    parentScopes: caseInsensitive(line, 'parentScopes') as DeviceInput['parentScopes'],
  };
}

/** `tags` and `properties.desired` of the record, merged into the twin (reported properties belong to the device). */
function applyTwin(
  registry: HubRegistry,
  line: Record<string, unknown>,
  deviceId: string,
  moduleId: string | undefined,
  ifMatch: string,
): void {
  const tags = caseInsensitive(line, 'tags');
  const properties = caseInsensitive(line, 'properties');
  const desired =
    typeof properties === 'object' && properties !== null ? caseInsensitive(properties as Record<string, unknown>, 'desired') : undefined;
  const patch: Record<string, unknown> = {};
  if (typeof tags === 'object' && tags !== null && Object.keys(tags).length > 0) patch.tags = tags;
  if (typeof desired === 'object' && desired !== null && Object.keys(desired).length > 0)
    patch.properties = { desired: withoutMeta(desired) };
  if (Object.keys(patch).length > 0) registry.updateTwin(deviceId, moduleId, patch, ifMatch);
}

/** An exported desired section carries `$metadata`/`$version`; a twin patch may not. */
function withoutMeta(section: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(section).filter(([key]) => !key.startsWith('$')));
}

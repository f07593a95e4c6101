/**
 * Device scopes of IoT Edge gateway hierarchies, as the registry stores them on the device twin (so get, list, query,
 * export and persistence carry them without extra code).
 *
 * Rules, from https://learn.microsoft.com/azure/iot-edge/iot-edge-as-gateway#parent-and-child-relationships and
 * https://learn.microsoft.com/azure/iot-edge/iot-edge-limits-and-restrictions ("Number of nested hierarchy layers"), and
 * the Twin.DeviceScope / Twin.ParentScopes remarks of Microsoft.Azure.Devices ("auto-generated and immutable for edge
 * devices and modifiable in leaf devices"):
 * - an Edge device's own `deviceScope` is `ms-azure-iot-edge://{deviceId}-{generationId}`, generated and immutable;
 * - a leaf device (not Edge) may name one Edge parent: its `deviceScope` and `parentScopes[0]` are the parent's scope;
 * - an Edge device may name one Edge parent in `parentScopes`;
 * - a scope must belong to an existing Edge device; at most one parent; no cycles; an Edge device has at most five
 *   layers of Edge devices below it, so a chain of Edge devices is at most six long.
 */
import { HubError } from './hub-error';

export const EDGE_SCOPE_PREFIX = 'ms-azure-iot-edge://';
/** Edge devices in one chain, top included: a top-level device plus five nested layers. */
export const MAX_EDGE_CHAIN = 6;

/** What the registry knows about a device, for scope validation. */
export interface ScopeHolder {
  deviceId: string;
  isEdge: boolean;
  deviceScope?: string;
  parentScopes?: readonly string[];
}

export interface ScopeRequest {
  deviceScope?: unknown;
  parentScopes?: unknown;
}

/** The twin fields that carry scopes: absent when the device has none. */
export interface StoredScopes {
  deviceScope?: string;
  parentScopes?: string[];
}

export function edgeScopeOf(deviceId: string, generationId: string): string {
  return `${EDGE_SCOPE_PREFIX}${deviceId}-${generationId}`;
}

/** The device id a scope names (`ms-azure-iot-edge://{id}-{generation}`), or undefined when it is not one. */
export function deviceIdOfScope(scope: string): string | undefined {
  if (!scope.startsWith(EDGE_SCOPE_PREFIX)) return undefined;
  const rest = scope.slice(EDGE_SCOPE_PREFIX.length);
  const dash = rest.lastIndexOf('-');
  return dash > 0 && /^\d+$/.test(rest.slice(dash + 1)) ? rest.slice(0, dash) : undefined;
}

/**
 * The scopes to store for `device` after a create or update that asked for `request`. Absent fields keep `current`
 * (an SDK update sends back what it read); `null`, `''` or `[]` remove the parent.
 * @param find looks a device up by id. @throws HubError 400 ArgumentInvalid naming the rule that failed.
 */
export function resolveDeviceScopes(
  device: { deviceId: string; isEdge: boolean; generationId: string },
  request: ScopeRequest,
  current: StoredScopes,
  find: (deviceId: string) => ScopeHolder | undefined,
): StoredScopes {
  const ownScope = device.isEdge ? ownEdgeScope(device, request, current) : undefined;
  const parent = requestedParent(device, request, current, ownScope);
  if (parent === undefined) return ownScope === undefined ? {} : { deviceScope: ownScope };
  const holderId = deviceIdOfScope(parent);
  const holder = holderId === undefined ? undefined : find(holderId);
  if (!holder || holder.deviceScope !== parent) {
    throw new HubError(400, 'ArgumentInvalid', `Device scope '${parent}' does not belong to any device of this hub`);
  }
  if (!holder.isEdge)
    throw new HubError(400, 'ArgumentInvalid', `Device '${holder.deviceId}' is not an IoT Edge device and cannot be a parent`);
  if (holder.deviceId === device.deviceId) throw new HubError(400, 'ArgumentInvalid', 'A device cannot be its own parent');
  if (device.isEdge) assertEdgeChain(device.deviceId, holder, find);
  return ownScope === undefined ? { deviceScope: parent, parentScopes: [parent] } : { deviceScope: ownScope, parentScopes: [parent] };
}

/**
 * An Edge device keeps the scope it has. A new one gets a generated scope, or adopts the one it asks for when that scope
 * names it (`{deviceId}-{digits}`): an exported hierarchy imported into another hub keeps its scopes, so children's
 * parentScopes still match.
 */
function ownEdgeScope(device: { deviceId: string; generationId: string }, request: ScopeRequest, current: StoredScopes): string {
  if (current.deviceScope !== undefined && deviceIdOfScope(current.deviceScope) === device.deviceId) return current.deviceScope;
  const asked = request.deviceScope;
  if (current.deviceScope === undefined && typeof asked === 'string' && deviceIdOfScope(asked) === device.deviceId) return asked;
  return edgeScopeOf(device.deviceId, device.generationId);
}

function requestedParent(
  device: { deviceId: string; isEdge: boolean },
  request: ScopeRequest,
  current: StoredScopes,
  ownScope: string | undefined,
): string | undefined {
  const { deviceScope, parentScopes } = request;
  if (deviceScope !== undefined && deviceScope !== null && typeof deviceScope !== 'string')
    throw new HubError(400, 'ArgumentInvalid', 'deviceScope must be a string');
  if (
    parentScopes !== undefined &&
    parentScopes !== null &&
    (!Array.isArray(parentScopes) || parentScopes.some((s) => typeof s !== 'string'))
  )
    throw new HubError(400, 'ArgumentInvalid', 'parentScopes must be an array of device scopes');
  const listed = Array.isArray(parentScopes) ? (parentScopes as string[]).filter((s) => s !== '') : [];
  if (listed.length > 1)
    throw new HubError(400, 'ArgumentInvalid', 'A device can have only one parent: parentScopes has more than one scope');
  if (device.isEdge) {
    // An Edge device's own scope is immutable: it may be sent back unchanged (or empty), never set to another.
    if (typeof deviceScope === 'string' && deviceScope !== '' && deviceScope !== ownScope && deviceScope !== current.deviceScope)
      throw new HubError(400, 'ArgumentInvalid', `The deviceScope of IoT Edge device '${device.deviceId}' is generated and cannot be set`);
    return parentScopes === undefined ? current.parentScopes?.[0] : listed[0];
  }
  if (listed.length === 1) return listed[0];
  // A device that stops being Edge sends its own former scope back: that names no parent.
  if (typeof deviceScope === 'string' && deviceScope !== '')
    return deviceIdOfScope(deviceScope) === device.deviceId ? undefined : deviceScope;
  if (deviceScope === undefined && parentScopes === undefined) return current.parentScopes?.[0] ?? current.deviceScope;
  return undefined;
}

/** Walks `parent`'s ancestors: no cycle through `deviceId`, and the chain stays within {@link MAX_EDGE_CHAIN}. */
function assertEdgeChain(deviceId: string, parent: ScopeHolder, find: (deviceId: string) => ScopeHolder | undefined): void {
  let length = 2;
  let cursor: ScopeHolder | undefined = parent;
  while (cursor?.parentScopes?.[0] !== undefined) {
    const nextId = deviceIdOfScope(cursor.parentScopes[0]);
    if (nextId === deviceId) throw new HubError(400, 'ArgumentInvalid', `Setting this parent would make a cycle through '${deviceId}'`);
    cursor = nextId === undefined ? undefined : find(nextId);
    if (cursor) length++;
    if (length > MAX_EDGE_CHAIN)
      throw new HubError(
        400,
        'ArgumentInvalid',
        `An IoT Edge hierarchy can have at most ${MAX_EDGE_CHAIN - 1} layers below its top device`,
      );
  }
}

/** The scopes stored on a device twin. */
export function storedScopesOf(twin: Record<string, unknown>): StoredScopes {
  const { deviceScope, parentScopes } = twin;
  return {
    ...(typeof deviceScope === 'string' ? { deviceScope } : {}),
    ...(Array.isArray(parentScopes) ? { parentScopes: parentScopes as string[] } : {}),
  };
}

export function scopeHolderOf(twin: Record<string, unknown>): ScopeHolder {
  const capabilities = twin.capabilities as { iotEdge?: boolean } | undefined;
  return { deviceId: twin.deviceId as string, isEdge: capabilities?.iotEdge === true, ...storedScopesOf(twin) };
}

/** Writes `scopes` onto a device twin (top level, in place), removing the fields it does not carry. */
export function applyScopes(twin: Record<string, unknown>, scopes: StoredScopes): void {
  if (scopes.deviceScope === undefined) delete twin.deviceScope;
  else twin.deviceScope = scopes.deviceScope;
  if (scopes.parentScopes === undefined) delete twin.parentScopes;
  else twin.parentScopes = scopes.parentScopes;
}

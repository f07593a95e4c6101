/** Device and module identities as the registry's REST API returns them, and how a stored entry becomes one. */
import type { AuthenticationType } from '../../shared/domain/authentication-type';
import type { DeviceEntry, EntryBase, ModuleEntry } from './registry-entry';

export type ConnectionState = 'Connected' | 'Disconnected';
export type DeviceStatus = 'enabled' | 'disabled';

export interface AuthenticationMechanism {
  type: AuthenticationType;
  symmetricKey: { primaryKey: string | null; secondaryKey: string | null };
  x509Thumbprint: { primaryThumbprint: string | null; secondaryThumbprint: string | null };
}

/** A device identity as GET /devices/{id} returns it. */
export interface DeviceIdentityJson {
  deviceId: string;
  generationId: string;
  etag: string;
  connectionState: ConnectionState;
  status: DeviceStatus;
  statusReason: string | null;
  connectionStateUpdatedTime: string;
  statusUpdatedTime: string;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  authentication: AuthenticationMechanism;
  capabilities: { iotEdge: boolean };
  deviceScope?: string;
  parentScopes?: string[];
}

/** A module identity as GET /devices/{d}/modules/{m} returns it. */
export interface ModuleIdentityJson {
  moduleId: string;
  managedBy: string | null;
  deviceId: string;
  generationId: string;
  etag: string;
  connectionState: ConnectionState;
  connectionStateUpdatedTime: string;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  authentication: AuthenticationMechanism;
}

export function deviceIdentityJson(entry: DeviceEntry): DeviceIdentityJson {
  const twin = entry.twin;
  return {
    deviceId: twin.deviceId,
    generationId: entry.generationId,
    etag: twin.deviceEtag as string,
    connectionState: twin.connectionState as ConnectionState,
    status: twin.status as DeviceStatus,
    statusReason: entry.statusReason,
    connectionStateUpdatedTime: entry.connectionStateUpdatedTime,
    statusUpdatedTime: entry.statusUpdatedTime,
    lastActivityTime: twin.lastActivityTime as string,
    cloudToDeviceMessageCount: twin.cloudToDeviceMessageCount as number,
    authentication: authenticationJson(entry),
    capabilities: { iotEdge: (twin.capabilities as { iotEdge: boolean }).iotEdge },
    ...(typeof twin.deviceScope === 'string' ? { deviceScope: twin.deviceScope } : {}),
    ...(Array.isArray(twin.parentScopes) ? { parentScopes: twin.parentScopes as string[] } : {}),
  };
}

export function moduleIdentityJson(entry: ModuleEntry): ModuleIdentityJson {
  const twin = entry.twin;
  return {
    moduleId: twin.moduleId ?? '',
    managedBy: entry.managedBy,
    deviceId: twin.deviceId,
    generationId: entry.generationId,
    etag: twin.deviceEtag as string,
    connectionState: twin.connectionState as ConnectionState,
    connectionStateUpdatedTime: entry.connectionStateUpdatedTime,
    lastActivityTime: twin.lastActivityTime as string,
    cloudToDeviceMessageCount: twin.cloudToDeviceMessageCount as number,
    authentication: authenticationJson(entry),
  };
}

function authenticationJson(entry: EntryBase): AuthenticationMechanism {
  const thumbprint = entry.twin.x509Thumbprint as AuthenticationMechanism['x509Thumbprint'];
  return {
    symmetricKey: { primaryKey: entry.primaryKey, secondaryKey: entry.secondaryKey },
    x509Thumbprint: { primaryThumbprint: thumbprint.primaryThumbprint, secondaryThumbprint: thumbprint.secondaryThumbprint },
    type: entry.twin.authenticationType as AuthenticationType,
  };
}

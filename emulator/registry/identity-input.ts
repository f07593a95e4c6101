/** What a caller may set when creating or updating an identity; everything else is service-managed. */
import type { AuthenticationType } from '../../shared/domain/authentication-type';
import type { AuthenticationMechanism, DeviceStatus } from './identity-json';

/** Fields a caller may set when creating or updating a device; everything else is service-managed. */
export interface DeviceInput {
  deviceId: string;
  status?: DeviceStatus;
  statusReason?: string | null;
  authentication?: Partial<{
    type: AuthenticationType;
    symmetricKey: Partial<AuthenticationMechanism['symmetricKey']>;
    x509Thumbprint: Partial<AuthenticationMechanism['x509Thumbprint']>;
  }>;
  capabilities?: { iotEdge?: boolean };
  /** Edge hierarchy (registry/device-scope.ts): a leaf's parent scope; ignored/immutable on Edge devices. */
  deviceScope?: string | null;
  /** Edge hierarchy: the one parent Edge device's scope. */
  parentScopes?: string[] | null;
  /** Only honoured by seeding/restore (the REST API ignores it), to build fleets with a known posture. */
  tags?: Record<string, unknown>;
}

export interface ModuleInput {
  deviceId: string;
  moduleId: string;
  managedBy?: string | null;
  authentication?: DeviceInput['authentication'];
}

/**
 * IoT Hub's registry and twins as TwinGuard uses them. Real adapter: shared/adapters/iothub-registry.ts (over
 * `azure-iothub`); in memory: shared/adapters/memory/memory-device-registry.ts.
 */
import type { AuthenticationType } from '../domain/authentication-type';
import type { AutomaticConfiguration } from '../domain/configurations/winning-configuration';
import type { ModuleAuthentication } from '../domain/module-authentication';
import type { JsonObject } from '../domain/types';

export interface DeviceIdentity {
  deviceId: string;
  status: 'enabled' | 'disabled';
  authType: AuthenticationType;
  iotEdge: boolean;
  etag?: string;
}

export interface ModuleIdentity {
  deviceId: string;
  moduleId: string;
  authType: AuthenticationType;
  connectionState?: string;
  lastActivityTime?: string;
  managedBy?: string;
}

export type CreateModuleResult = 'created' | 'alreadyExists' | 'deviceNotFound';

export interface ModuleTwin {
  deviceId: string;
  moduleId: string;
  etag: string;
  version: number;
  tags: JsonObject;
  desired: JsonObject;
  reported: JsonObject;
  authType?: AuthenticationType;
}

export interface TwinQueryPage<T = JsonObject> {
  items: T[];
  continuationToken?: string;
}

/**
 * IoT Hub service operations. Implementations retry throttling (429) and transient (5xx, timeouts)
 * failures within a time budget and throw TransientError when the budget is spent.
 */
export interface DeviceRegistry {
  getDevice(deviceId: string): Promise<DeviceIdentity | undefined>;
  getModule(deviceId: string, moduleId: string): Promise<ModuleIdentity | undefined>;
  createModule(deviceId: string, moduleId: string, authentication: ModuleAuthentication): Promise<CreateModuleResult>;
  getModuleTwin(deviceId: string, moduleId: string): Promise<ModuleTwin | undefined>;
  /** Patch desired properties; etag `*` forces. Returns the new twin, or undefined when the module is gone. */
  updateModuleDesired(deviceId: string, moduleId: string, desiredPatch: JsonObject, etag: string): Promise<ModuleTwin | undefined>;
  queryTwins(query: string, pageSize: number, continuationToken?: string): Promise<TwinQueryPage>;
  /** The hub's automatic device/module configurations (ADM), at most 100 (`Registry.getConfigurations`). */
  listConfigurations(): Promise<AutomaticConfiguration[]>;
}

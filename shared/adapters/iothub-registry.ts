/**
 * DeviceRegistry over the azure-iothub service SDK. The SDK's Registry performs no retries (azure-iothub 1.16.6: see
 * registry-client.ts) and its error classes are not exported, so this adapter classifies by HTTP status and retries
 * 429/5xx/network failures/timeouts itself within a per-call time budget, waiting at least what Retry-After asks.
 * A silent hub is cut off per attempt by the client's timeout (registry-client.ts, OUTBOUND_TIMEOUT_MS).
 */
import type { Device, Module, Registry } from 'azure-iothub';

import { classifyServiceError, EtagMismatchError } from '../errors';
import type { Logger } from '../logger';
import { retryTransient } from '../retry';
import { toAuthenticationType } from '../domain/authentication-type';
import type { AuthenticationType } from '../domain/authentication-type';
import type { AutomaticConfiguration } from '../domain/configurations/winning-configuration';
import type { JsonObject } from '../domain/types';
import type {
  CreateModuleResult,
  DeviceIdentity,
  DeviceRegistry,
  ModuleIdentity,
  ModuleTwin,
  TwinQueryPage,
} from '../ports/device-registry';
import type { ModuleAuthentication } from '../domain/module-authentication';
import { closeRegistryClient, createRegistryClient } from './registry-client';

export interface IotHubDeviceRegistryOptions {
  /** Time budget per call for retrying 429/5xx/timeouts; past it the call throws TransientError. */
  retryBudgetMs: number;
  /** Each retry is logged here at WARN ("IoT Hub registry call retried"); none by default. */
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** The wire shape of `authentication` on a module PUT (the SDK's typings omit `type`). */
interface WireAuthentication {
  type: 'sas' | 'certificateAuthority' | 'selfSigned';
  symmetricKey?: { primaryKey: string; secondaryKey: string };
  x509Thumbprint?: { primaryThumbprint?: string; secondaryThumbprint?: string };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Plain JSON copy: SDK objects carry prototypes and back-references that must not leak into domain data. */
function plainObject(value: unknown): JsonObject {
  return isRecord(value) ? (JSON.parse(JSON.stringify(value)) as JsonObject) : {};
}

function toWireAuthentication(authentication: ModuleAuthentication): WireAuthentication {
  switch (authentication.type) {
    case 'sas':
      // Empty keys ask the hub to generate them; keys are never handled by this app.
      return { type: 'sas', symmetricKey: { primaryKey: '', secondaryKey: '' } };
    case 'certificateAuthority':
      return { type: 'certificateAuthority' };
    case 'selfSigned':
      return {
        type: 'selfSigned',
        x509Thumbprint: {
          primaryThumbprint: authentication.primaryThumbprint,
          secondaryThumbprint: authentication.secondaryThumbprint ?? authentication.primaryThumbprint,
        },
      };
  }
}

function authTypeOf(identity: { authentication?: unknown }): AuthenticationType {
  const authentication = identity.authentication;
  return (isRecord(authentication) ? toAuthenticationType(authentication.type) : undefined) ?? 'none';
}

function toDeviceIdentity(device: Device): DeviceIdentity {
  const identity: DeviceIdentity = {
    deviceId: device.deviceId,
    status: device.status === 'disabled' ? 'disabled' : 'enabled',
    authType: authTypeOf(device),
    iotEdge: device.capabilities?.iotEdge === true,
  };
  if (device.etag) identity.etag = device.etag;
  return identity;
}

function toModuleIdentity(module: Module): ModuleIdentity {
  const identity: ModuleIdentity = { deviceId: module.deviceId, moduleId: module.moduleId, authType: authTypeOf(module) };
  if (module.connectionState) identity.connectionState = module.connectionState;
  if (module.lastActivityTime) identity.lastActivityTime = module.lastActivityTime;
  if (module.managedBy) identity.managedBy = module.managedBy;
  return identity;
}

/**
 * Reduces the SDK's Twin (which holds a reference to the Registry) to plain data. Desired and
 * reported keep their `$metadata` / `$version`, which posture derivation reads.
 */
/** A `GET /configurations` item as the fields TwinGuard ranks by; undefined without an id. */
export function toAutomaticConfiguration(row: JsonObject): AutomaticConfiguration | undefined {
  const id = row['id'];
  if (typeof id !== 'string') return undefined;
  const content = isRecord(row['content']) ? row['content'] : {};
  const section = (name: string): JsonObject | undefined => (isRecord(content[name]) ? content[name] : undefined);
  const deviceContent = section('deviceContent');
  const moduleContent = section('moduleContent');
  const modulesContent = section('modulesContent');
  return {
    id,
    priority: typeof row['priority'] === 'number' ? row['priority'] : 0,
    createdTimeUtc: typeof row['createdTimeUtc'] === 'string' ? row['createdTimeUtc'] : '',
    targetCondition: typeof row['targetCondition'] === 'string' ? row['targetCondition'] : '',
    content: {
      ...(deviceContent ? { deviceContent } : {}),
      ...(moduleContent ? { moduleContent } : {}),
      ...(modulesContent ? { modulesContent } : {}),
    },
  };
}

export function toModuleTwin(twin: unknown, fallback: { deviceId: string; moduleId: string }): ModuleTwin {
  const source = isRecord(twin) ? twin : {};
  const properties = isRecord(source.properties) ? source.properties : {};
  const result: ModuleTwin = {
    deviceId: typeof source.deviceId === 'string' ? source.deviceId : fallback.deviceId,
    moduleId: typeof source.moduleId === 'string' ? source.moduleId : fallback.moduleId,
    etag: typeof source.etag === 'string' ? source.etag : '*',
    version: typeof source.version === 'number' ? source.version : 0,
    tags: plainObject(source.tags),
    desired: plainObject(properties.desired),
    reported: plainObject(properties.reported),
  };
  const authType = toAuthenticationType(source.authenticationType);
  if (authType) result.authType = authType;
  return result;
}

/** DeviceRegistry backed by an azure-iothub Registry (real hub or the emulator via serviceEndpoint). */
export class IotHubDeviceRegistry implements DeviceRegistry {
  constructor(
    private readonly registry: Registry,
    private readonly options: IotHubDeviceRegistryOptions,
  ) {}

  /** Builds the Registry through the single client seam (connection string, AAD, or emulator endpoint). */
  static fromSettings(settings: Parameters<typeof createRegistryClient>[0], options: IotHubDeviceRegistryOptions): IotHubDeviceRegistry {
    return new IotHubDeviceRegistry(createRegistryClient(settings), options);
  }

  /** Releases the keep-alive sockets of the underlying client (a host stopping, tests). */
  close(): void {
    closeRegistryClient(this.registry);
  }

  async getDevice(deviceId: string): Promise<DeviceIdentity | undefined> {
    const device = await this.orUndefinedOnNotFound(this.call('getDevice', { deviceId }, () => this.registry.get(deviceId)));
    return device && toDeviceIdentity(device.responseBody);
  }

  async getModule(deviceId: string, moduleId: string): Promise<ModuleIdentity | undefined> {
    const module = await this.orUndefinedOnNotFound(
      this.call('getModule', { deviceId, moduleId }, () => this.registry.getModule(deviceId, moduleId)),
    );
    return module && toModuleIdentity(module.responseBody);
  }

  async createModule(deviceId: string, moduleId: string, authentication: ModuleAuthentication): Promise<CreateModuleResult> {
    const wireAuthentication: WireAuthentication = toWireAuthentication(authentication);
    const moduleToCreate: Module = { deviceId, moduleId, authentication: wireAuthentication };
    try {
      await this.call('createModule', { deviceId, moduleId }, () => this.registry.addModule(moduleToCreate));
      return 'created';
    } catch (err) {
      const kind = classifyServiceError(err).kind;
      // A retried PUT whose first attempt landed also answers 409: same outcome for the caller.
      if (kind === 'conflict') return 'alreadyExists';
      if (kind === 'notFound') return 'deviceNotFound';
      throw err;
    }
  }

  async getModuleTwin(deviceId: string, moduleId: string): Promise<ModuleTwin | undefined> {
    const twin = await this.orUndefinedOnNotFound(
      this.call('getModuleTwin', { deviceId, moduleId }, () => this.registry.getModuleTwin(deviceId, moduleId)),
    );
    return twin && toModuleTwin(twin.responseBody, { deviceId, moduleId });
  }

  /** Throws EtagMismatchError when `etag` is stale (412); returns undefined when the module is gone. */
  async updateModuleDesired(deviceId: string, moduleId: string, desiredPatch: JsonObject, etag: string): Promise<ModuleTwin | undefined> {
    try {
      const twin = await this.orUndefinedOnNotFound(
        this.call('updateModuleDesired', { deviceId, moduleId }, () =>
          this.registry.updateModuleTwin(deviceId, moduleId, { properties: { desired: desiredPatch } }, etag),
        ),
      );
      return twin && toModuleTwin(twin.responseBody, { deviceId, moduleId });
    } catch (err) {
      if (classifyServiceError(err).kind === 'preconditionFailed') {
        throw new EtagMismatchError(`module twin ${deviceId}/${moduleId} changed since it was read (etag mismatch)`, { cause: err });
      }
      throw err;
    }
  }

  /** One page of a twin query; pass the returned token back to continue. Rows are plain JSON as the hub sent them. */
  async queryTwins(query: string, pageSize: number, continuationToken?: string): Promise<TwinQueryPage> {
    return this.call('queryTwins', { pageSize }, async () => {
      const cursor = this.registry.createQuery(query, pageSize);
      const page = continuationToken ? await cursor.next(continuationToken) : await cursor.next();
      const rows: unknown[] = Array.isArray(page.result) ? page.result : [];
      const items = rows.map(plainObject);
      const next = cursor.continuationToken;
      return typeof next === 'string' && next !== '' ? { items, continuationToken: next } : { items };
    });
  }

  async listConfigurations(): Promise<AutomaticConfiguration[]> {
    return this.call('listConfigurations', {}, async () => {
      const response = await this.registry.getConfigurations();
      const rows: unknown[] = Array.isArray(response.responseBody) ? response.responseBody : [];
      return rows.map(plainObject).flatMap((row) => {
        const configuration = toAutomaticConfiguration(row);
        return configuration ? [configuration] : [];
      });
    });
  }

  private call<T>(operation: string, ids: Record<string, string | number>, request: () => Promise<T>): Promise<T> {
    const label = Object.values(ids).join('/');
    return retryTransient(request, {
      budgetMs: this.options.retryBudgetMs,
      operationName: `${operation}(${label})`,
      sleep: this.options.sleep,
      random: this.options.random,
      logger: this.options.logger,
      retryMessage: 'IoT Hub registry call retried',
      logFields: { operation, ...ids },
    });
  }

  private async orUndefinedOnNotFound<T>(pending: Promise<T>): Promise<T | undefined> {
    try {
      return await pending;
    } catch (err) {
      if (classifyServiceError(err).kind === 'notFound') return undefined;
      throw err;
    }
  }
}

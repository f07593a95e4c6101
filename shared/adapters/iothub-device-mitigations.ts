/**
 * DeviceMitigations over the azure-iothub service SDK (REST api-version 2021-04-12): device twin tags for quarantine,
 * the device identity's status for disableDevice, the module identity's keys and module twin tags for disableModule.
 * Each call reads first and writes only what is missing, so a repeated mitigation costs reads, never a second write.
 * 429/5xx/timeouts are retried within the budget as every registry call is (IotHubDeviceRegistry); `beforeCall` lets
 * the caller hold each request to the sweep's registry budget.
 */
import { randomBytes } from 'node:crypto';
import type { Registry } from 'azure-iothub';
import { classifyServiceError } from '../errors';
import type { Logger } from '../logger';
import { retryTransient } from '../retry';
import type { DeviceMitigations, MitigationOutcome } from '../ports/device-mitigations';

export interface IotHubDeviceMitigationsOptions {
  retryBudgetMs: number;
  logger?: Logger;
  /** Awaited before every REST request (the registry budget's token). */
  beforeCall?: () => Promise<void>;
}

/** Module twin tag marking a module whose keys TwinGuard replaced. */
export const MODULE_DISABLED_TAG = ['twinguard', 'moduleDisabled'] as const;

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function tagAt(tags: unknown, path: readonly string[]): unknown {
  let node: unknown = tags;
  for (const segment of path) node = isRecord(node) ? node[segment] : undefined;
  return node;
}

/** `{a: {b: true}}` for ['a', 'b']: a twin PATCH merges nested tags, leaving the others alone. */
function nestedTag(path: readonly string[], value: unknown): Json {
  return path.reduceRight<Json>((inner, segment) => ({ [segment]: inner }), value as Json);
}

/** A key nobody will ever know: the module can no longer authenticate until an operator regenerates its keys. */
function unknowableKey(): string {
  return randomBytes(32).toString('base64');
}

export class IotHubDeviceMitigations implements DeviceMitigations {
  constructor(
    private readonly registry: Registry,
    private readonly options: IotHubDeviceMitigationsOptions,
  ) {}

  async quarantine(deviceId: string, tagPath: readonly string[]): Promise<MitigationOutcome> {
    const twin = await this.read('getTwin', deviceId, () => this.registry.getTwin(deviceId));
    if (!twin) return 'deviceNotFound';
    if (tagAt(twin.tags, tagPath) === true) return 'alreadyApplied';
    const patch = { tags: nestedTag(tagPath, true) };
    const etag = typeof twin.etag === 'string' ? twin.etag : '*';
    try {
      await this.call('updateTwin', deviceId, () => this.registry.updateTwin(deviceId, patch, etag));
    } catch (error) {
      const kind = classifyServiceError(error).kind;
      if (kind === 'notFound') return 'deviceNotFound';
      // Someone changed the twin between our read and write: the tag patch merges, so applying it unconditionally is safe.
      if (kind !== 'preconditionFailed') throw error;
      await this.call('updateTwin', deviceId, () => this.registry.updateTwin(deviceId, patch, '*'));
    }
    return 'applied';
  }

  async disableDevice(deviceId: string, reason: string): Promise<MitigationOutcome> {
    const device = await this.read('getDevice', deviceId, () => this.registry.get(deviceId));
    if (!device) return 'deviceNotFound';
    if (device.status === 'disabled') return 'alreadyApplied';
    // The SDK's update sends If-Match: * (azure-iothub registry.js update); the body is the identity just read, so
    // only status and statusReason change.
    const update = { ...device, status: 'disabled', statusReason: reason.slice(0, 128) };
    try {
      await this.call('updateDevice', deviceId, () => this.registry.update(update as never));
    } catch (error) {
      if (classifyServiceError(error).kind === 'notFound') return 'deviceNotFound';
      throw error;
    }
    return 'applied';
  }

  async disableModule(deviceId: string, moduleId: string): Promise<MitigationOutcome> {
    const twin = await this.read('getModuleTwin', deviceId, () => this.registry.getModuleTwin(deviceId, moduleId));
    if (!twin) return 'moduleNotFound';
    if (tagAt(twin.tags, MODULE_DISABLED_TAG) === true) return 'alreadyApplied';
    const module = await this.read('getModule', deviceId, () => this.registry.getModule(deviceId, moduleId));
    if (!module) return 'moduleNotFound';
    const authentication = isRecord(module.authentication) ? module.authentication : {};
    if (authentication['type'] !== 'sas') return 'unsupported';
    const replaced = {
      ...module,
      authentication: { type: 'sas', symmetricKey: { primaryKey: unknowableKey(), secondaryKey: unknowableKey() } },
    };
    try {
      // With the etag read above (If-Match), so a module changed meanwhile is not overwritten blindly.
      await this.call('updateModule', deviceId, () => this.registry.updateModule(replaced as never, false));
      await this.call('updateModuleTwin', deviceId, () =>
        this.registry.updateModuleTwin(deviceId, moduleId, { tags: nestedTag(MODULE_DISABLED_TAG, true) }, '*'),
      );
    } catch (error) {
      if (classifyServiceError(error).kind === 'notFound') return 'moduleNotFound';
      throw error;
    }
    return 'applied';
  }

  private async read<T>(operation: string, deviceId: string, request: () => Promise<{ responseBody: T }>): Promise<(T & Json) | undefined> {
    try {
      const response = await this.call(operation, deviceId, request);
      return JSON.parse(JSON.stringify(response.responseBody)) as T & Json;
    } catch (error) {
      if (classifyServiceError(error).kind === 'notFound') return undefined;
      throw error;
    }
  }

  private call<T>(operation: string, deviceId: string, request: () => Promise<T>): Promise<T> {
    return retryTransient(
      async () => {
        await this.options.beforeCall?.();
        return request();
      },
      {
        budgetMs: this.options.retryBudgetMs,
        operationName: `${operation}(${deviceId})`,
        logger: this.options.logger,
        retryMessage: 'IoT Hub registry call retried',
        logFields: { operation, deviceId },
      },
    );
  }
}

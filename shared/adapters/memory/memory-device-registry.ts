/**
 * In-memory DeviceRegistry for handler tests and the in-memory benchmark. Behaves like the IoT Hub
 * adapter: getModule/getModuleTwin → undefined when absent, createModule → created / alreadyExists /
 * deviceNotFound, desired updates bump versions and etags and reject stale etags with
 * EtagMismatchError, and queries run on the IoT Hub query language of domain/iothub-query (the subset and
 * paging the emulator serves too).
 * Scripted failures (`failNext`) let tests exercise retry and error paths without a network.
 */
import { executeQueryPage, type QuerySlot, type QuerySource } from '../../domain/iothub-query/execute-query-page';
import { parseQuery, type QueryCollection } from '../../domain/iothub-query/parse-query';
import { EtagMismatchError, PermanentError } from '../../errors';
import { mergePatch } from '../../domain/twin-patch';
import type { AuthenticationType } from '../../domain/authentication-type';
import type { AutomaticConfiguration } from '../../domain/configurations/winning-configuration';
import type { JsonObject } from '../../domain/types';
import type {
  CreateModuleResult,
  DeviceIdentity,
  DeviceRegistry,
  ModuleIdentity,
  ModuleTwin,
  TwinQueryPage,
} from '../../ports/device-registry';
import type { ModuleAuthentication } from '../../domain/module-authentication';
import { settle } from './settle';

export type MemoryRegistryOperation = keyof DeviceRegistry;

interface ModuleRecord {
  identity: ModuleIdentity;
  twin: ModuleTwin;
  slot: { seq: number; deleted: boolean };
}

interface DeviceRecord {
  identity: DeviceIdentity;
  modules: Map<string, ModuleRecord>;
  slot: { seq: number; deleted: boolean };
}

function parseOrReject(query: string): ReturnType<typeof parseQuery> {
  try {
    return parseQuery(query);
  } catch (err) {
    throw new PermanentError(`query rejected: ${err instanceof Error ? err.message : String(err)}`, {
      statusCode: 400,
      code: 'BadRequest',
      cause: err,
    });
  }
}

function authTypeOf(authentication: ModuleAuthentication): AuthenticationType {
  return authentication.type;
}

export class MemoryDeviceRegistry implements DeviceRegistry {
  private readonly devices = new Map<string, DeviceRecord>();
  private readonly failures = new Map<MemoryRegistryOperation, Error[]>();
  private seq = 0;
  private configurations: AutomaticConfiguration[] = [];
  private etagCounter = 0;
  /** Calls per operation, including failed ones (assert on request budgets). */
  readonly calls: Record<MemoryRegistryOperation, number> = {
    getDevice: 0,
    getModule: 0,
    createModule: 0,
    getModuleTwin: 0,
    updateModuleDesired: 0,
    queryTwins: 0,
    listConfigurations: 0,
  };

  /** Adds (or replaces) a device identity. */
  addDevice(deviceId: string, options: { authType?: AuthenticationType; iotEdge?: boolean; status?: 'enabled' | 'disabled' } = {}): void {
    const previous = this.devices.get(deviceId);
    if (previous) previous.slot.deleted = true;
    this.devices.set(deviceId, {
      identity: {
        deviceId,
        status: options.status ?? 'enabled',
        authType: options.authType ?? 'sas',
        iotEdge: options.iotEdge ?? false,
        etag: this.nextEtag(),
      },
      modules: new Map(),
      slot: { seq: this.seq++, deleted: false },
    });
  }

  /** Removes a device and its modules. */
  removeDevice(deviceId: string): void {
    const device = this.devices.get(deviceId);
    if (!device) return;
    device.slot.deleted = true;
    for (const module of device.modules.values()) module.slot.deleted = true;
    this.devices.delete(deviceId);
  }

  /** Simulates the agent reporting: merges `patch` into reported and bumps versions. */
  setReported(deviceId: string, moduleId: string, patch: JsonObject): ModuleTwin {
    const module = this.devices.get(deviceId)?.modules.get(moduleId);
    if (!module) throw new Error(`no module ${deviceId}/${moduleId}`);
    const version = (typeof module.twin.reported.$version === 'number' ? module.twin.reported.$version : 1) + 1;
    module.twin.reported = { ...mergePatch(module.twin.reported, patch), $version: version };
    this.touch(module);
    return structuredClone(module.twin);
  }

  /** Replaces the hub's automatic configurations (what listConfigurations answers). */
  setConfigurations(configurations: readonly AutomaticConfiguration[]): void {
    this.configurations = structuredClone([...configurations]);
  }

  listConfigurations(): Promise<AutomaticConfiguration[]> {
    return settle(() => {
      this.enter('listConfigurations');
      return structuredClone(this.configurations);
    });
  }

  /** The next `count` calls of `operation` reject with `error` (before touching state). */
  failNext(operation: MemoryRegistryOperation, error: Error, count = 1): void {
    const queue = this.failures.get(operation) ?? [];
    for (let i = 0; i < count; i += 1) queue.push(error);
    this.failures.set(operation, queue);
  }

  getDevice(deviceId: string): Promise<DeviceIdentity | undefined> {
    return settle(() => {
      this.enter('getDevice');
      const device = this.devices.get(deviceId);
      return device && structuredClone(device.identity);
    });
  }

  getModule(deviceId: string, moduleId: string): Promise<ModuleIdentity | undefined> {
    return settle(() => {
      this.enter('getModule');
      const module = this.devices.get(deviceId)?.modules.get(moduleId);
      return module && structuredClone(module.identity);
    });
  }

  createModule(deviceId: string, moduleId: string, authentication: ModuleAuthentication): Promise<CreateModuleResult> {
    return settle(() => {
      this.enter('createModule');
      const device = this.devices.get(deviceId);
      if (!device) return 'deviceNotFound';
      if (device.modules.has(moduleId)) return 'alreadyExists';
      const authType = authTypeOf(authentication);
      device.modules.set(moduleId, {
        identity: { deviceId, moduleId, authType, connectionState: 'disconnected' },
        twin: {
          deviceId,
          moduleId,
          etag: this.nextEtag(),
          version: 1,
          tags: {},
          desired: { $version: 1 },
          reported: { $version: 1 },
          authType,
        },
        slot: { seq: this.seq++, deleted: false },
      });
      return 'created';
    });
  }

  getModuleTwin(deviceId: string, moduleId: string): Promise<ModuleTwin | undefined> {
    return settle(() => {
      this.enter('getModuleTwin');
      const module = this.devices.get(deviceId)?.modules.get(moduleId);
      return module && structuredClone(module.twin);
    });
  }

  updateModuleDesired(deviceId: string, moduleId: string, desiredPatch: JsonObject, etag: string): Promise<ModuleTwin | undefined> {
    return settle(() => {
      this.enter('updateModuleDesired');
      const module = this.devices.get(deviceId)?.modules.get(moduleId);
      if (!module) return undefined;
      if (etag !== '*' && etag !== module.twin.etag)
        throw new EtagMismatchError(`module twin ${deviceId}/${moduleId} changed since it was read (etag mismatch)`);
      const version = (typeof module.twin.desired.$version === 'number' ? module.twin.desired.$version : 1) + 1;
      module.twin.desired = { ...mergePatch(module.twin.desired, desiredPatch), $version: version };
      this.touch(module);
      return structuredClone(module.twin);
    });
  }

  queryTwins(query: string, pageSize: number, continuationToken?: string): Promise<TwinQueryPage> {
    return settle(() => {
      this.enter('queryTwins');
      const page = executeQueryPage(this.querySource(), parseOrReject(query), pageSize, continuationToken);
      const items = page.items.map((item) => structuredClone(item) as JsonObject);
      return page.continuationToken ? { items, continuationToken: page.continuationToken } : { items };
    });
  }

  private querySource(): QuerySource {
    const deviceSlots: QuerySlot[] = [];
    const moduleSlots: QuerySlot[] = [];
    for (const device of this.devices.values()) {
      deviceSlots.push({
        seq: device.slot.seq,
        deleted: device.slot.deleted,
        twin: {
          deviceId: device.identity.deviceId,
          status: device.identity.status,
          authenticationType: device.identity.authType,
          capabilities: { iotEdge: device.identity.iotEdge },
          tags: {},
          properties: { desired: {}, reported: {} },
        },
      });
      for (const module of device.modules.values())
        moduleSlots.push({ seq: module.slot.seq, deleted: module.slot.deleted, twin: this.twinDocument(module.twin) });
    }
    const bySeq = (a: QuerySlot, b: QuerySlot): number => a.seq - b.seq;
    const slots: Record<QueryCollection, QuerySlot[]> = { devices: deviceSlots.sort(bySeq), 'devices.modules': moduleSlots.sort(bySeq) };
    return { slots: (collection) => slots[collection] };
  }

  private twinDocument(twin: ModuleTwin): JsonObject {
    return {
      deviceId: twin.deviceId,
      moduleId: twin.moduleId,
      etag: twin.etag,
      version: twin.version,
      authenticationType: twin.authType,
      tags: twin.tags,
      properties: { desired: twin.desired, reported: twin.reported },
    };
  }

  private touch(module: ModuleRecord): void {
    module.twin.version += 1;
    module.twin.etag = this.nextEtag();
  }

  private nextEtag(): string {
    this.etagCounter += 1;
    return `AAAAAAAAAA${this.etagCounter}=`;
  }

  private enter(operation: MemoryRegistryOperation): void {
    this.calls[operation] += 1;
    const failure = this.failures.get(operation)?.shift();
    if (failure !== undefined) throw failure;
  }
}

/**
 * The emulated identity registry and twin store: all state and every state operation of the emulator.
 * The HTTP layer (http-server.ts) only translates requests into these calls and HubError into responses.
 *
 * State is designed for ~10^6 identities: each identity keeps one twin document already in wire shape
 * (so GET and query pages serialize it directly) plus a few identity-only fields (registry-entry.ts). Twin
 * sections (tags, desired, reported) are copy-on-write (twin-sections.ts), so a HubChange body handed to a
 * listener stays valid forever.
 */
import { executeQueryPage, type QueryPage, type QuerySlot, type QuerySource } from '../../shared/domain/iothub-query/execute-query-page';
import { parseQuery, type ParsedQuery, type QueryCollection } from '../../shared/domain/iothub-query/parse-query';
import type { JsonObject } from '../../shared/domain/types';
import type { HubChange, HubChangeListener, TwinDocument } from '../hub-events';
import { fromDeviceSnapshot, toDeviceSnapshot, type DeviceSnapshot } from './device-snapshot';
import { etagMatches, identityEtag, twinEtag } from './etag';
import { HubError, preconditionFailed } from './hub-error';
import { hubTimestamp, NEVER } from './hub-timestamp';
import { applyScopes, resolveDeviceScopes, scopeHolderOf, storedScopesOf, type StoredScopes } from './device-scope';
import { assertValidId } from './identity-id';
import type { DeviceInput, ModuleInput } from './identity-input';
import {
  deviceIdentityJson,
  moduleIdentityJson,
  type ConnectionState,
  type DeviceIdentityJson,
  type DeviceStatus,
  type ModuleIdentityJson,
} from './identity-json';
import { parseAuthentication } from './parse-authentication';
import type { DeviceEntry, ModuleEntry, StoredTwin } from './registry-entry';
import { applyDesired, emptySection, mergeSection, splitSection, withoutNulls } from './twin-sections';
import { assertSize, MAX_PROPERTIES_BYTES, MAX_TAGS_BYTES, readServicePatch, validateKeys } from './twin-validation';

const EDGE_CAPABILITIES = Object.freeze({ iotEdge: true });
const NON_EDGE_CAPABILITIES = Object.freeze({ iotEdge: false });

/** Options for direct (non-HTTP) state operations. */
export interface WriteOptions {
  /** Emit HubChanges for this operation (default true; bulk seeding turns it off). */
  notify?: boolean;
}

export interface HubRegistryOptions {
  /** Clock, injectable for deterministic tests. */
  now?: () => Date;
  /** Module identities allowed per device (IoT Hub: 50). */
  maxModulesPerDevice?: number;
}

/**
 * The emulated registry. Direct calls are synchronous and throw {@link HubError}; listeners registered
 * with {@link HubRegistry.onChange} get one HubChange per create/delete/twin change, after it applied.
 */
export class HubRegistry implements QuerySource {
  private readonly devices = new Map<string, DeviceEntry>();
  private deviceSlots: DeviceEntry[] = [];
  private moduleSlots: ModuleEntry[] = [];
  private deletedDeviceSlots = 0;
  private deletedModuleSlots = 0;
  private moduleTotal = 0;
  private nextSeq = 1;
  private etagCounter = 0n;
  private connectionSequence = 0n;
  private readonly listeners = new Set<HubChangeListener>();
  private readonly queryCache = new Map<string, ParsedQuery>();
  /** Bumped by every state-changing call (even one that then fails): see {@link HubRegistry.revision}. */
  private revisionCounter = 0;
  private readonly now: () => Date;
  private readonly maxModulesPerDevice: number;

  constructor(options: HubRegistryOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.maxModulesPerDevice = options.maxModulesPerDevice ?? 50;
  }

  /** Registers a change listener; returns the function that removes it. Listeners must not throw. */
  onChange(listener: HubChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get deviceCount(): number {
    return this.devices.size;
  }

  get moduleCount(): number {
    return this.moduleTotal;
  }

  /**
   * Changes whenever any identity or twin may have changed. Equal revisions guarantee equal query results,
   * so a query page computed ahead of its request (http-server.ts) is served only while it is unchanged.
   */
  get revision(): number {
    return this.revisionCounter;
  }

  // ---- devices ---------------------------------------------------------------------------------

  /** Creates a device. @throws HubError 409 DeviceAlreadyExists, 400 ArgumentInvalid. */
  createDevice(input: DeviceInput, options: WriteOptions = {}): DeviceIdentityJson {
    this.revisionCounter++;
    assertValidId(input.deviceId, 'deviceId');
    if (this.devices.has(input.deviceId))
      throw new HubError(409, 'DeviceAlreadyExists', `A device with ID '${input.deviceId}' is already registered.`);
    const auth = parseAuthentication(input.authentication);
    const status = input.status ?? 'enabled';
    if (status !== 'enabled' && status !== 'disabled')
      throw new HubError(400, 'ArgumentInvalid', `status '${String(status)}' must be enabled or disabled`);
    const time = hubTimestamp(this.now());
    const tags = input.tags && Object.keys(input.tags).length > 0 ? input.tags : undefined;
    if (tags) validateKeys(tags, 'tags', 1);
    const twin: StoredTwin = {
      deviceId: input.deviceId,
      etag: this.nextTwinEtag(),
      deviceEtag: this.nextIdentityEtag(),
      status,
      statusUpdateTime: NEVER,
      connectionState: 'Disconnected',
      lastActivityTime: NEVER,
      cloudToDeviceMessageCount: 0,
      authenticationType: auth.type,
      x509Thumbprint: auth.thumbprint,
      modelId: '',
      version: 1,
      tags,
      properties: { desired: emptySection(true), reported: emptySection(false) },
      capabilities: input.capabilities?.iotEdge ? EDGE_CAPABILITIES : NON_EDGE_CAPABILITIES,
    };
    const entry: DeviceEntry = {
      seq: this.nextSeq++,
      deleted: false,
      twin,
      generationId: this.generationId(),
      primaryKey: auth.primaryKey,
      secondaryKey: auth.secondaryKey,
      connectionStateUpdatedTime: NEVER,
      statusReason: input.statusReason ?? null,
      statusUpdatedTime: status === 'disabled' ? time : NEVER,
      modules: new Map(),
    };
    applyScopes(twin, this.scopesFor(input, entry, twin.capabilities === EDGE_CAPABILITIES));
    this.devices.set(input.deviceId, entry);
    this.deviceSlots.push(entry);
    if (options.notify !== false) this.emitLifecycle('createDeviceIdentity', entry);
    return deviceIdentityJson(entry);
  }

  /** Updates status/statusReason/authentication/capabilities. Empty SAS keys keep the current ones. */
  updateDevice(input: DeviceInput, ifMatch?: string): DeviceIdentityJson {
    this.revisionCounter++;
    assertValidId(input.deviceId, 'deviceId');
    const entry = this.requireDevice(input.deviceId);
    if (!etagMatches(ifMatch, entry.twin.deviceEtag as string)) throw preconditionFailed();
    const auth = parseAuthentication(input.authentication, entry);
    const scopes = this.scopesFor(
      input,
      entry,
      input.capabilities ? input.capabilities.iotEdge === true : scopeHolderOf(entry.twin).isEdge,
    );
    const status = input.status ?? (entry.twin.status as DeviceStatus);
    if (status !== 'enabled' && status !== 'disabled')
      throw new HubError(400, 'ArgumentInvalid', `status '${String(status)}' must be enabled or disabled`);
    if (status !== entry.twin.status) {
      entry.statusUpdatedTime = hubTimestamp(this.now());
      entry.twin.statusUpdateTime = entry.statusUpdatedTime;
    }
    entry.twin.status = status;
    entry.statusReason = input.statusReason ?? entry.statusReason;
    entry.primaryKey = auth.primaryKey;
    entry.secondaryKey = auth.secondaryKey;
    entry.twin.authenticationType = auth.type;
    entry.twin.x509Thumbprint = auth.thumbprint;
    if (input.capabilities) entry.twin.capabilities = input.capabilities.iotEdge ? EDGE_CAPABILITIES : NON_EDGE_CAPABILITIES;
    applyScopes(entry.twin, scopes);
    entry.twin.deviceEtag = this.nextIdentityEtag();
    return deviceIdentityJson(entry);
  }

  /** @throws HubError 404 DeviceNotFound. */
  getDevice(deviceId: string): DeviceIdentityJson {
    return deviceIdentityJson(this.requireDevice(deviceId));
  }

  /** The first `max` devices in creation order (GET /devices returns at most 1000). */
  listDevices(max = 1000): DeviceIdentityJson[] {
    const out: DeviceIdentityJson[] = [];
    for (const entry of this.devices.values()) {
      if (out.length >= max) break;
      out.push(deviceIdentityJson(entry));
    }
    return out;
  }

  /**
   * Deletes a device and its modules. Emits one deleteDeviceIdentity for the device only: whether the real
   * hub also emits per-module deletes is unconfirmed, and a consumer must cope with either.
   */
  deleteDevice(deviceId: string, ifMatch?: string, options: WriteOptions = {}): void {
    this.revisionCounter++;
    const entry = this.requireDevice(deviceId);
    if (!etagMatches(ifMatch, entry.twin.deviceEtag as string)) throw preconditionFailed();
    this.devices.delete(deviceId);
    entry.deleted = true;
    this.deletedDeviceSlots++;
    for (const module of entry.modules.values()) {
      module.deleted = true;
      this.deletedModuleSlots++;
      this.moduleTotal--;
    }
    this.compactIfSparse();
    if (options.notify !== false) this.emitLifecycle('deleteDeviceIdentity', entry);
  }

  // ---- modules ---------------------------------------------------------------------------------

  /** @throws HubError 404 DeviceNotFound, 409 ModuleAlreadyExistsOnDevice, 413 TooManyModulesOnDevice. */
  createModule(input: ModuleInput, options: WriteOptions = {}): ModuleIdentityJson {
    this.revisionCounter++;
    assertValidId(input.deviceId, 'deviceId');
    assertValidId(input.moduleId, 'moduleId');
    const device = this.requireDevice(input.deviceId);
    if (device.modules.has(input.moduleId)) {
      throw new HubError(
        409,
        'ModuleAlreadyExistsOnDevice',
        `A module with ID '${input.moduleId}' already exists on device '${input.deviceId}'.`,
      );
    }
    if (device.modules.size >= this.maxModulesPerDevice) {
      throw new HubError(
        413,
        'TooManyModulesOnDevice',
        `Device '${input.deviceId}' already has ${device.modules.size} modules, the maximum.`,
      );
    }
    const auth = parseAuthentication(input.authentication);
    const twin: StoredTwin = {
      deviceId: input.deviceId,
      moduleId: input.moduleId,
      etag: this.nextTwinEtag(),
      deviceEtag: this.nextIdentityEtag(),
      status: 'enabled',
      statusUpdateTime: NEVER,
      connectionState: 'Disconnected',
      lastActivityTime: NEVER,
      cloudToDeviceMessageCount: 0,
      authenticationType: auth.type,
      x509Thumbprint: auth.thumbprint,
      modelId: '',
      version: 1,
      properties: { desired: emptySection(true), reported: emptySection(false) },
    };
    const entry: ModuleEntry = {
      seq: this.nextSeq++,
      deleted: false,
      twin,
      generationId: this.generationId(),
      primaryKey: auth.primaryKey,
      secondaryKey: auth.secondaryKey,
      connectionStateUpdatedTime: NEVER,
      device,
      managedBy: input.managedBy ?? null,
    };
    device.modules.set(input.moduleId, entry);
    this.moduleSlots.push(entry);
    this.moduleTotal++;
    if (options.notify !== false) this.emitLifecycle('createDeviceIdentity', entry);
    return moduleIdentityJson(entry);
  }

  updateModule(input: ModuleInput, ifMatch?: string): ModuleIdentityJson {
    this.revisionCounter++;
    const entry = this.requireModule(input.deviceId, input.moduleId);
    if (!etagMatches(ifMatch, entry.twin.deviceEtag as string)) throw preconditionFailed();
    const auth = parseAuthentication(input.authentication, entry);
    entry.primaryKey = auth.primaryKey;
    entry.secondaryKey = auth.secondaryKey;
    entry.twin.authenticationType = auth.type;
    entry.twin.x509Thumbprint = auth.thumbprint;
    if (input.managedBy !== undefined) entry.managedBy = input.managedBy;
    entry.twin.deviceEtag = this.nextIdentityEtag();
    return moduleIdentityJson(entry);
  }

  /** @throws HubError 404 DeviceNotFound / ModuleNotFound. */
  getModule(deviceId: string, moduleId: string): ModuleIdentityJson {
    return moduleIdentityJson(this.requireModule(deviceId, moduleId));
  }

  listModules(deviceId: string): ModuleIdentityJson[] {
    return [...this.requireDevice(deviceId).modules.values()].map((entry) => moduleIdentityJson(entry));
  }

  deleteModule(deviceId: string, moduleId: string, ifMatch?: string, options: WriteOptions = {}): void {
    this.revisionCounter++;
    const entry = this.requireModule(deviceId, moduleId);
    if (!etagMatches(ifMatch, entry.twin.deviceEtag as string)) throw preconditionFailed();
    entry.device.modules.delete(moduleId);
    entry.deleted = true;
    this.deletedModuleSlots++;
    this.moduleTotal--;
    this.compactIfSparse();
    if (options.notify !== false) this.emitLifecycle('deleteDeviceIdentity', entry);
  }

  // ---- twins -----------------------------------------------------------------------------------

  /** A snapshot of the twin document (top level copied; sections are immutable). @throws HubError 404. */
  getTwin(deviceId: string, moduleId?: string): TwinDocument {
    return { ...this.requireEntry(deviceId, moduleId).twin };
  }

  /** The twin, or undefined when the identity does not exist: for assertions and the agent simulator. */
  findTwin(deviceId: string, moduleId?: string): TwinDocument | undefined {
    const device = this.devices.get(deviceId);
    const entry = moduleId === undefined ? device : device?.modules.get(moduleId);
    return entry ? { ...entry.twin } : undefined;
  }

  /**
   * PATCH semantics: merges `tags` and `properties.desired` (null deletes); anything else → 400.
   * @throws HubError 412 PreconditionFailed when `ifMatch` is neither `*` nor the current etag.
   */
  updateTwin(deviceId: string, moduleId: string | undefined, patch: unknown, ifMatch?: string, options: WriteOptions = {}): TwinDocument {
    this.revisionCounter++;
    const entry = this.requireEntry(deviceId, moduleId);
    if (!etagMatches(ifMatch, entry.twin.etag)) throw preconditionFailed();
    const { tags, desired } = readServicePatch(patch);
    if (tags === undefined && desired === undefined) return { ...entry.twin };
    const date = this.now();
    const time = hubTimestamp(date);
    const twin = entry.twin;
    const version = twin.version + 1;
    if (tags !== undefined) {
      const merged = mergeSection(twin.tags === undefined ? {} : (twin.tags as JsonObject), {}, tags, {}).values;
      assertSize(merged, MAX_TAGS_BYTES, 'tags');
      twin.tags = Object.keys(merged).length > 0 ? merged : undefined;
    }
    if (desired !== undefined) applyDesired(twin, desired, time, false);
    twin.version = version;
    twin.etag = this.nextTwinEtag();
    if (options.notify !== false) {
      const body: JsonObject = { version };
      if (twin.tags !== undefined) body.tags = twin.tags;
      body.properties = { desired: twin.properties.desired };
      const change: HubChange = { kind: 'twinChange', opType: 'updateTwin', deviceId, moduleId, body, operationTime: date };
      if (desired !== undefined) change.desiredPatch = desired;
      this.emit(change);
    }
    return { ...twin };
  }

  /** PUT semantics: replaces all tags and desired properties; emits replaceTwin with the whole twin. */
  replaceTwin(deviceId: string, moduleId: string | undefined, replacement: unknown, ifMatch?: string): TwinDocument {
    this.revisionCounter++;
    const entry = this.requireEntry(deviceId, moduleId);
    if (!etagMatches(ifMatch, entry.twin.etag)) throw preconditionFailed();
    const { tags, desired } = readServicePatch(replacement);
    const date = this.now();
    const twin = entry.twin;
    const nextTags = tags === undefined ? {} : (withoutNulls(tags) as JsonObject);
    assertSize(nextTags, MAX_TAGS_BYTES, 'tags');
    twin.tags = Object.keys(nextTags).length > 0 ? nextTags : undefined;
    applyDesired(twin, desired ?? {}, hubTimestamp(date), true);
    twin.version += 1;
    twin.etag = this.nextTwinEtag();
    this.emit({ kind: 'twinChange', opType: 'replaceTwin', deviceId, moduleId, body: { ...twin }, operationTime: date });
    return { ...twin };
  }

  /**
   * Device-side reported patch (null deletes). Emits updateTwin whose body is only `version` and the
   * reported patch with its `$metadata` entries and the section's `$version`, like the real hub.
   */
  updateReported(deviceId: string, moduleId: string | undefined, patch: JsonObject, options: WriteOptions = {}): TwinDocument {
    this.revisionCounter++;
    const entry = this.requireEntry(deviceId, moduleId);
    validateKeys(patch, 'properties.reported', 1);
    const date = this.now();
    const time = hubTimestamp(date);
    const twin = entry.twin;
    const current = splitSection(twin.properties.reported);
    const merged = mergeSection(current.values, current.meta, patch, { $lastUpdated: time });
    const sectionVersion = current.version + 1;
    const section = { ...merged.values, $metadata: merged.meta, $version: sectionVersion };
    assertSize(section, MAX_PROPERTIES_BYTES, 'properties.reported');
    twin.properties = { desired: twin.properties.desired, reported: section };
    twin.version += 1;
    twin.etag = this.nextTwinEtag();
    if (options.notify !== false) {
      const body = { version: twin.version, properties: { reported: { ...patch, $metadata: merged.patchMeta, $version: sectionVersion } } };
      this.emit({ kind: 'twinChange', opType: 'updateTwin', deviceId, moduleId, body, operationTime: date });
    }
    return { ...twin };
  }

  /** Simulates a device (or module) connecting or disconnecting; emits a connectionState change. */
  setConnectionState(deviceId: string, moduleId: string | undefined, state: ConnectionState, options: WriteOptions = {}): void {
    this.revisionCounter++;
    const entry = this.requireEntry(deviceId, moduleId);
    const date = this.now();
    const time = hubTimestamp(date);
    entry.twin.connectionState = state;
    entry.connectionStateUpdatedTime = time;
    entry.twin.lastActivityTime = time;
    if (options.notify === false) return;
    this.connectionSequence += 1n;
    const sequenceNumber = this.connectionSequence.toString(16).padStart(64, '0');
    this.emit({
      kind: 'connectionState',
      opType: state === 'Connected' ? 'deviceConnected' : 'deviceDisconnected',
      deviceId,
      moduleId,
      sequenceNumber,
      operationTime: date,
    });
  }

  /**
   * A connected device (or module) sent something: moves `lastActivityTime` on without a notification, as the hub
   * does for device-to-cloud traffic. Unknown identities are ignored (the connection is about to be dropped).
   */
  touchActivity(deviceId: string, moduleId?: string): void {
    const device = this.devices.get(deviceId);
    const entry = moduleId === undefined ? device : device?.modules.get(moduleId);
    if (!entry) return;
    this.revisionCounter++;
    entry.twin.lastActivityTime = hubTimestamp(this.now());
  }

  /**
   * Sets a twin's `configurations` map (`{ [configurationId]: { status: 'Targeted' | 'Applied' } }`, what automatic
   * configurations report on each twin they target; emulator/configurations/), or removes it when empty. Not a
   * twin property change: no version, etag or notification.
   */
  setConfigurationStatus(deviceId: string, moduleId: string | undefined, statuses: JsonObject): void {
    this.revisionCounter++;
    const twin = this.requireEntry(deviceId, moduleId).twin;
    if (Object.keys(statuses).length === 0) delete twin['configurations'];
    else twin['configurations'] = statuses;
  }

  // ---- query -----------------------------------------------------------------------------------

  /** Runs one query page. @throws QuerySyntaxError for unsupported or malformed queries. */
  query(text: string, pageSize = 100, continuationToken?: string): QueryPage {
    let parsed = this.queryCache.get(text);
    if (!parsed) {
      parsed = parseQuery(text);
      if (this.queryCache.size > 256) this.queryCache.clear();
      this.queryCache.set(text, parsed);
    }
    return executeQueryPage(this, parsed, pageSize, continuationToken);
  }

  /** @internal QuerySource: slots in ascending seq order (deleted slots flagged, compacted lazily). */
  slots(collection: QueryCollection): readonly QuerySlot[] {
    return collection === 'devices' ? this.deviceSlots : this.moduleSlots;
  }

  // ---- auth support ----------------------------------------------------------------------------

  /** Symmetric keys of an identity (undefined when it is not SAS): for device-side tooling and tests. */
  keysOf(deviceId: string, moduleId?: string): { primaryKey: string; secondaryKey: string } | undefined {
    const entry = this.requireEntry(deviceId, moduleId);
    return entry.primaryKey && entry.secondaryKey ? { primaryKey: entry.primaryKey, secondaryKey: entry.secondaryKey } : undefined;
  }

  // ---- persistence -----------------------------------------------------------------------------

  /** Yields every device with its modules in creation order (persistence streams this). */
  *snapshot(): Generator<DeviceSnapshot> {
    for (const entry of this.devices.values()) yield toDeviceSnapshot(entry);
  }

  /** Counters that must survive a restart so etags and seqs keep increasing. */
  counters(): { nextSeq: number; etagCounter: string } {
    return { nextSeq: this.nextSeq, etagCounter: this.etagCounter.toString() };
  }

  /** Restores saved state into an empty registry (no notifications). */
  restore(devices: Iterable<DeviceSnapshot>, counters: { nextSeq: number; etagCounter: string }): void {
    this.revisionCounter++;
    if (this.devices.size > 0) throw new Error('restore needs an empty registry');
    const modules: ModuleEntry[] = [];
    for (const snapshot of devices) {
      const restored = fromDeviceSnapshot(snapshot);
      this.devices.set(restored.device.twin.deviceId, restored.device);
      this.deviceSlots.push(restored.device);
      modules.push(...restored.modules);
    }
    this.deviceSlots.sort((a, b) => a.seq - b.seq);
    this.moduleSlots = modules.sort((a, b) => a.seq - b.seq);
    this.moduleTotal = modules.length;
    // Also past every saved seq, in case identities were added while the state was being written.
    const lastSeq = Math.max(this.deviceSlots.at(-1)?.seq ?? 0, this.moduleSlots.at(-1)?.seq ?? 0);
    this.nextSeq = Math.max(counters.nextSeq, this.nextSeq, lastSeq + 1);
    this.etagCounter = BigInt(counters.etagCounter);
  }

  // ---- internals -------------------------------------------------------------------------------

  /** Edge scopes (registry/device-scope.ts) for a create or update of `entry`. @throws HubError 400. */
  private scopesFor(input: DeviceInput, entry: DeviceEntry, isEdge: boolean): StoredScopes {
    const find = (deviceId: string) => {
      const found = this.devices.get(deviceId);
      return found && scopeHolderOf(found.twin);
    };
    return resolveDeviceScopes(
      { deviceId: entry.twin.deviceId, isEdge, generationId: entry.generationId },
      input,
      storedScopesOf(entry.twin),
      find,
    );
  }

  private requireDevice(deviceId: string): DeviceEntry {
    const entry = this.devices.get(deviceId);
    if (!entry) throw new HubError(404, 'DeviceNotFound', `Device ${deviceId} not registered`);
    return entry;
  }

  private requireModule(deviceId: string, moduleId: string): ModuleEntry {
    const entry = this.requireDevice(deviceId).modules.get(moduleId);
    if (!entry) throw new HubError(404, 'ModuleNotFound', `Module ${moduleId} on device ${deviceId} not registered`);
    return entry;
  }

  private requireEntry(deviceId: string, moduleId: string | undefined): DeviceEntry | ModuleEntry {
    return moduleId === undefined ? this.requireDevice(deviceId) : this.requireModule(deviceId, moduleId);
  }

  private nextTwinEtag(): string {
    this.etagCounter += 1n;
    return twinEtag(this.etagCounter);
  }

  private nextIdentityEtag(): string {
    this.etagCounter += 1n;
    return identityEtag(this.etagCounter);
  }

  private generationId(): string {
    return `63${String(Math.floor(Math.random() * 1e16)).padStart(16, '0')}`;
  }

  private compactIfSparse(): void {
    if (this.deletedDeviceSlots > 1024 && this.deletedDeviceSlots * 2 > this.deviceSlots.length) {
      this.deviceSlots = this.deviceSlots.filter((slot) => !slot.deleted);
      this.deletedDeviceSlots = 0;
    }
    if (this.deletedModuleSlots > 1024 && this.deletedModuleSlots * 2 > this.moduleSlots.length) {
      this.moduleSlots = this.moduleSlots.filter((slot) => !slot.deleted);
      this.deletedModuleSlots = 0;
    }
  }

  private emitLifecycle(opType: 'createDeviceIdentity' | 'deleteDeviceIdentity', entry: DeviceEntry | ModuleEntry): void {
    const twin = entry.twin;
    this.emit({
      kind: 'lifecycle',
      opType,
      deviceId: twin.deviceId,
      moduleId: twin.moduleId,
      body: { ...twin },
      operationTime: this.now(),
    });
  }

  private emit(change: HubChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

/**
 * The emulated identity registry and twin store: all state and every state operation of the emulator.
 * The HTTP layer (http-server.ts) only translates requests into these calls and HubError into responses.
 *
 * State is designed for ~10^6 identities: each identity keeps one twin document already in wire shape
 * (so GET and query pages serialize it directly) plus a few identity-only fields. Twin sections (tags,
 * desired, reported) are copy-on-write: a change builds new objects and never mutates old ones, so a
 * HubChange body handed to a listener stays valid forever.
 */
import { randomBytes } from 'node:crypto';
import type { HubChange, HubChangeListener, TwinDocument } from './hub-events';
import { executeQueryPage, parseQuery, type ParsedQuery, type QueryCollection, type QueryPage, type QuerySlot, type QuerySource } from './query';

/** A registry failure with the IoT Hub error code and HTTP status the real service uses. */
export class HubError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

export type AuthenticationType = 'sas' | 'selfSigned' | 'certificateAuthority' | 'none';
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

/** Fields a caller may set when creating or updating a device; everything else is service-managed. */
export interface DeviceInput {
  deviceId: string;
  status?: DeviceStatus;
  statusReason?: string | null;
  authentication?: Partial<{ type: AuthenticationType; symmetricKey: Partial<AuthenticationMechanism['symmetricKey']>; x509Thumbprint: Partial<AuthenticationMechanism['x509Thumbprint']> }>;
  capabilities?: { iotEdge?: boolean };
  /** Only honoured by seeding/restore (the REST API ignores it), to build fleets with a known posture. */
  tags?: Record<string, unknown>;
}

export interface ModuleInput {
  deviceId: string;
  moduleId: string;
  managedBy?: string | null;
  authentication?: DeviceInput['authentication'];
}

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

/** Legal device/module ID: ASCII alphanumerics and `- : . + % _ # * ? ! ( ) , = @ ; $ '`, 1–128 chars. */
export const IDENTITY_ID_PATTERN = /^[A-Za-z0-9\-:.+%_#*?!(),=@;$']{1,128}$/;

/** The timestamp IoT Hub uses for "never" (connection times, empty metadata). */
export const NEVER = '0001-01-01T00:00:00Z';

const MAX_TAGS_BYTES = 8 * 1024;
const MAX_PROPERTIES_BYTES = 32 * 1024;
const MAX_DEPTH = 10;

type JsonRecord = Record<string, unknown>;

/** Twin document as stored: the wire shape, mutated in place only at the top level. */
type StoredTwin = TwinDocument & JsonRecord & { properties: { desired: JsonRecord; reported: JsonRecord } };

interface EntryBase extends QuerySlot {
  seq: number;
  deleted: boolean;
  twin: StoredTwin;
  generationId: string;
  primaryKey: string | null;
  secondaryKey: string | null;
  connectionStateUpdatedTime: string;
}

interface DeviceEntry extends EntryBase {
  statusReason: string | null;
  statusUpdatedTime: string;
  modules: Map<string, ModuleEntry>;
}

interface ModuleEntry extends EntryBase {
  device: DeviceEntry;
  managedBy: string | null;
}

/** Serializable form of one device and its modules (persistence.ts). */
export interface DeviceSnapshot {
  seq: number;
  twin: JsonRecord;
  generationId: string;
  primaryKey: string | null;
  secondaryKey: string | null;
  connectionStateUpdatedTime: string;
  statusReason: string | null;
  statusUpdatedTime: string;
  modules: Array<{ seq: number; twin: JsonRecord; generationId: string; primaryKey: string | null; secondaryKey: string | null; connectionStateUpdatedTime: string; managedBy: string | null }>;
}

const NULL_THUMBPRINT = Object.freeze({ primaryThumbprint: null, secondaryThumbprint: null });
const EDGE_CAPABILITIES = Object.freeze({ iotEdge: true });
const NON_EDGE_CAPABILITIES = Object.freeze({ iotEdge: false });

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** 32 random bytes, base64: what IoT Hub generates for an empty SAS key. */
export function generateSasKey(): string {
  return randomBytes(32).toString('base64');
}

/** ISO 8601 with 7 fractional digits, as IoT Hub writes times (JS only has ms precision). */
export function hubTimestamp(date: Date): string {
  return `${date.toISOString().slice(0, 23)}0000Z`;
}

/** @throws HubError(400 ArgumentInvalid) when `id` is not a legal device/module ID. */
export function assertValidId(id: unknown, what: 'deviceId' | 'moduleId'): asserts id is string {
  if (typeof id !== 'string' || !IDENTITY_ID_PATTERN.test(id)) {
    throw new HubError(400, 'ArgumentInvalid', `${what} is invalid: it must be 1-128 ASCII alphanumerics or - : . + % _ # * ? ! ( ) , = @ $ ' and the semicolon`);
  }
}

function stripQuotes(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

/** True when an If-Match value (possibly quoted, possibly `*`) allows a write over `current`. */
export function etagMatches(ifMatch: string | undefined, current: string): boolean {
  if (ifMatch === undefined || ifMatch === '') return true;
  const value = stripQuotes(ifMatch.trim());
  return value === '*' || value === current;
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

function validateKeys(value: unknown, section: string, depth: number): void {
  if (!isRecord(value)) return;
  if (depth > MAX_DEPTH) throw new HubError(400, 'ArgumentInvalid', `${section} is nested deeper than ${MAX_DEPTH} levels`);
  for (const [key, child] of Object.entries(value)) {
    if (key.length === 0 || /[.$ ]/.test(key) || hasControlCharacter(key)) {
      throw new HubError(400, 'ArgumentInvalid', `Property name '${key}' in ${section} is invalid: names cannot be empty or contain '.', '$', spaces or control characters`);
    }
    validateKeys(child, section, depth + 1);
  }
}

function assertSize(section: JsonRecord, limit: number, name: string): void {
  const size = Buffer.byteLength(JSON.stringify(section), 'utf8');
  if (size > limit) throw new HubError(400, 'ArgumentInvalid', `${name} is ${size} bytes, over the ${limit}-byte limit`);
}

interface MergeResult {
  values: JsonRecord;
  meta: JsonRecord;
  /** Metadata entries for just the patched keys, for reported-change notifications. */
  patchMeta: JsonRecord;
}

function leafMeta(value: unknown, stamp: JsonRecord): JsonRecord {
  if (!isRecord(value)) return stamp;
  const node: JsonRecord = { ...stamp };
  for (const [key, child] of Object.entries(value)) if (child !== null) node[key] = leafMeta(child, stamp);
  return node;
}

function withoutNulls(value: unknown): unknown {
  if (!isRecord(value)) return value;
  const out: JsonRecord = {};
  for (const [key, child] of Object.entries(value)) if (child !== null) out[key] = withoutNulls(child);
  return out;
}

/** Merges `patch` into `values` (null deletes), returning new objects; inputs are never mutated. */
function mergeSection(values: JsonRecord, meta: JsonRecord, patch: JsonRecord, stamp: JsonRecord): MergeResult {
  const nextValues: JsonRecord = { ...values };
  const nextMeta: JsonRecord = { ...meta, ...stamp };
  const patchMeta: JsonRecord = { ...stamp };
  for (const [key, patchValue] of Object.entries(patch)) {
    if (patchValue === null) {
      delete nextValues[key];
      delete nextMeta[key];
      continue;
    }
    const existing = values[key];
    const existingMeta = meta[key];
    if (isRecord(patchValue) && isRecord(existing)) {
      const nested = mergeSection(existing, isRecord(existingMeta) ? existingMeta : { ...stamp }, patchValue, stamp);
      nextValues[key] = nested.values;
      nextMeta[key] = nested.meta;
      patchMeta[key] = nested.patchMeta;
    } else {
      nextValues[key] = withoutNulls(patchValue);
      nextMeta[key] = leafMeta(patchValue, stamp);
      patchMeta[key] = nextMeta[key];
    }
  }
  return { values: nextValues, meta: nextMeta, patchMeta };
}

function splitSection(section: JsonRecord): { values: JsonRecord; meta: JsonRecord; version: number } {
  const { $metadata, $version, ...values } = section;
  return { values, meta: isRecord($metadata) ? $metadata : { $lastUpdated: NEVER }, version: typeof $version === 'number' ? $version : 1 };
}

function emptySection(desired: boolean): JsonRecord {
  return { $metadata: desired ? { $lastUpdated: NEVER } : { $lastUpdated: NEVER }, $version: 1 };
}

function parseAuthentication(input: DeviceInput['authentication'], previous?: EntryBase): { type: AuthenticationType; primaryKey: string | null; secondaryKey: string | null; thumbprint: AuthenticationMechanism['x509Thumbprint'] } {
  const type = input?.type ?? 'sas';
  if (type !== 'sas' && type !== 'selfSigned' && type !== 'certificateAuthority' && type !== 'none') {
    throw new HubError(400, 'ArgumentInvalid', `authentication.type '${String(type)}' is not one of sas, selfSigned, certificateAuthority, none`);
  }
  if (type === 'sas') {
    const keyOf = (key: unknown, fallback: string | null | undefined): string => {
      if (typeof key === 'string' && key.length > 0) {
        const raw = Buffer.from(key, 'base64');
        if (raw.length < 16 || raw.length > 64 || raw.toString('base64') !== key) throw new HubError(400, 'ArgumentInvalid', 'Symmetric keys must be base64 of 16 to 64 bytes');
        return key;
      }
      return fallback ?? generateSasKey();
    };
    return {
      type,
      primaryKey: keyOf(input?.symmetricKey?.primaryKey, previous?.primaryKey),
      secondaryKey: keyOf(input?.symmetricKey?.secondaryKey, previous?.secondaryKey),
      thumbprint: NULL_THUMBPRINT,
    };
  }
  if (type === 'selfSigned') {
    const primary = input?.x509Thumbprint?.primaryThumbprint ?? null;
    const secondary = input?.x509Thumbprint?.secondaryThumbprint ?? null;
    if (!primary && !secondary) throw new HubError(400, 'ArgumentInvalid', 'selfSigned authentication needs a primary or secondary thumbprint');
    return { type, primaryKey: null, secondaryKey: null, thumbprint: { primaryThumbprint: primary, secondaryThumbprint: secondary } };
  }
  return { type, primaryKey: null, secondaryKey: null, thumbprint: NULL_THUMBPRINT };
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
    if (this.devices.has(input.deviceId)) throw new HubError(409, 'DeviceAlreadyExists', `A device with ID '${input.deviceId}' is already registered.`);
    const auth = parseAuthentication(input.authentication);
    const status = input.status ?? 'enabled';
    if (status !== 'enabled' && status !== 'disabled') throw new HubError(400, 'ArgumentInvalid', `status '${String(status)}' must be enabled or disabled`);
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
    this.devices.set(input.deviceId, entry);
    this.deviceSlots.push(entry);
    if (options.notify !== false) this.emitLifecycle('createDeviceIdentity', entry);
    return this.deviceJson(entry);
  }

  /** Updates status/statusReason/authentication/capabilities. Empty SAS keys keep the current ones. */
  updateDevice(input: DeviceInput, ifMatch?: string): DeviceIdentityJson {
    this.revisionCounter++;
    assertValidId(input.deviceId, 'deviceId');
    const entry = this.requireDevice(input.deviceId);
    if (!etagMatches(ifMatch, entry.twin.deviceEtag as string)) throw this.preconditionFailed();
    const auth = parseAuthentication(input.authentication, entry);
    const status = input.status ?? (entry.twin.status as DeviceStatus);
    if (status !== 'enabled' && status !== 'disabled') throw new HubError(400, 'ArgumentInvalid', `status '${String(status)}' must be enabled or disabled`);
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
    entry.twin.deviceEtag = this.nextIdentityEtag();
    return this.deviceJson(entry);
  }

  /** @throws HubError 404 DeviceNotFound. */
  getDevice(deviceId: string): DeviceIdentityJson {
    return this.deviceJson(this.requireDevice(deviceId));
  }

  /** The first `max` devices in creation order (GET /devices returns at most 1000). */
  listDevices(max = 1000): DeviceIdentityJson[] {
    const out: DeviceIdentityJson[] = [];
    for (const entry of this.devices.values()) {
      if (out.length >= max) break;
      out.push(this.deviceJson(entry));
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
    if (!etagMatches(ifMatch, entry.twin.deviceEtag as string)) throw this.preconditionFailed();
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
      throw new HubError(409, 'ModuleAlreadyExistsOnDevice', `A module with ID '${input.moduleId}' already exists on device '${input.deviceId}'.`);
    }
    if (device.modules.size >= this.maxModulesPerDevice) {
      throw new HubError(413, 'TooManyModulesOnDevice', `Device '${input.deviceId}' already has ${device.modules.size} modules, the maximum.`);
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
    return this.moduleJson(entry);
  }

  updateModule(input: ModuleInput, ifMatch?: string): ModuleIdentityJson {
    this.revisionCounter++;
    const entry = this.requireModule(input.deviceId, input.moduleId);
    if (!etagMatches(ifMatch, entry.twin.deviceEtag as string)) throw this.preconditionFailed();
    const auth = parseAuthentication(input.authentication, entry);
    entry.primaryKey = auth.primaryKey;
    entry.secondaryKey = auth.secondaryKey;
    entry.twin.authenticationType = auth.type;
    entry.twin.x509Thumbprint = auth.thumbprint;
    if (input.managedBy !== undefined) entry.managedBy = input.managedBy;
    entry.twin.deviceEtag = this.nextIdentityEtag();
    return this.moduleJson(entry);
  }

  /** @throws HubError 404 DeviceNotFound / ModuleNotFound. */
  getModule(deviceId: string, moduleId: string): ModuleIdentityJson {
    return this.moduleJson(this.requireModule(deviceId, moduleId));
  }

  listModules(deviceId: string): ModuleIdentityJson[] {
    return [...this.requireDevice(deviceId).modules.values()].map((entry) => this.moduleJson(entry));
  }

  deleteModule(deviceId: string, moduleId: string, ifMatch?: string, options: WriteOptions = {}): void {
    this.revisionCounter++;
    const entry = this.requireModule(deviceId, moduleId);
    if (!etagMatches(ifMatch, entry.twin.deviceEtag as string)) throw this.preconditionFailed();
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
    if (!etagMatches(ifMatch, entry.twin.etag)) throw this.preconditionFailed();
    const { tags, desired } = this.readServicePatch(patch);
    if (tags === undefined && desired === undefined) return { ...entry.twin };
    const date = this.now();
    const time = hubTimestamp(date);
    const twin = entry.twin;
    const version = twin.version + 1;
    if (tags !== undefined) {
      const merged = mergeSection(twin.tags === undefined ? {} : (twin.tags as JsonRecord), {}, tags, {}).values;
      assertSize(merged, MAX_TAGS_BYTES, 'tags');
      twin.tags = Object.keys(merged).length > 0 ? merged : undefined;
    }
    if (desired !== undefined) this.applyDesired(twin, desired, time, false);
    twin.version = version;
    twin.etag = this.nextTwinEtag();
    if (options.notify !== false) {
      const body: JsonRecord = { version };
      if (twin.tags !== undefined) body.tags = twin.tags;
      body.properties = { desired: twin.properties.desired };
      this.emit({ kind: 'twinChange', opType: 'updateTwin', deviceId, moduleId, body, operationTime: date });
    }
    return { ...twin };
  }

  /** PUT semantics: replaces all tags and desired properties; emits replaceTwin with the whole twin. */
  replaceTwin(deviceId: string, moduleId: string | undefined, replacement: unknown, ifMatch?: string): TwinDocument {
    this.revisionCounter++;
    const entry = this.requireEntry(deviceId, moduleId);
    if (!etagMatches(ifMatch, entry.twin.etag)) throw this.preconditionFailed();
    const { tags, desired } = this.readServicePatch(replacement);
    const date = this.now();
    const twin = entry.twin;
    const nextTags = tags === undefined ? {} : (withoutNulls(tags) as JsonRecord);
    assertSize(nextTags, MAX_TAGS_BYTES, 'tags');
    twin.tags = Object.keys(nextTags).length > 0 ? nextTags : undefined;
    this.applyDesired(twin, desired ?? {}, hubTimestamp(date), true);
    twin.version += 1;
    twin.etag = this.nextTwinEtag();
    this.emit({ kind: 'twinChange', opType: 'replaceTwin', deviceId, moduleId, body: { ...twin }, operationTime: date });
    return { ...twin };
  }

  /**
   * Device-side reported patch (null deletes). Emits updateTwin whose body is only `version` and the
   * reported patch with its `$metadata` entries and the section's `$version`, like the real hub.
   */
  updateReported(deviceId: string, moduleId: string | undefined, patch: JsonRecord, options: WriteOptions = {}): TwinDocument {
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
    this.emit({ kind: 'connectionState', opType: state === 'Connected' ? 'deviceConnected' : 'deviceDisconnected', deviceId, moduleId, sequenceNumber, operationTime: date });
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
    for (const entry of this.devices.values()) {
      yield {
        seq: entry.seq,
        twin: entry.twin,
        generationId: entry.generationId,
        primaryKey: entry.primaryKey,
        secondaryKey: entry.secondaryKey,
        connectionStateUpdatedTime: entry.connectionStateUpdatedTime,
        statusReason: entry.statusReason,
        statusUpdatedTime: entry.statusUpdatedTime,
        modules: [...entry.modules.values()].map((module) => ({
          seq: module.seq,
          twin: module.twin,
          generationId: module.generationId,
          primaryKey: module.primaryKey,
          secondaryKey: module.secondaryKey,
          connectionStateUpdatedTime: module.connectionStateUpdatedTime,
          managedBy: module.managedBy,
        })),
      };
    }
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
      const device: DeviceEntry = {
        seq: snapshot.seq,
        deleted: false,
        twin: snapshot.twin as StoredTwin,
        generationId: snapshot.generationId,
        primaryKey: snapshot.primaryKey,
        secondaryKey: snapshot.secondaryKey,
        connectionStateUpdatedTime: snapshot.connectionStateUpdatedTime,
        statusReason: snapshot.statusReason,
        statusUpdatedTime: snapshot.statusUpdatedTime,
        modules: new Map(),
      };
      this.devices.set(device.twin.deviceId, device);
      this.deviceSlots.push(device);
      for (const saved of snapshot.modules) {
        const module: ModuleEntry = { ...saved, deleted: false, twin: saved.twin as StoredTwin, device };
        device.modules.set(module.twin.moduleId ?? '', module);
        modules.push(module);
      }
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

  private readServicePatch(patch: unknown): { tags?: JsonRecord; desired?: JsonRecord } {
    if (!isRecord(patch)) throw new HubError(400, 'ArgumentInvalid', 'The twin patch must be a JSON object');
    const { tags, properties } = patch;
    if (tags !== undefined && tags !== null && !isRecord(tags)) throw new HubError(400, 'ArgumentInvalid', 'tags must be an object');
    let desired: JsonRecord | undefined;
    if (properties !== undefined && properties !== null) {
      if (!isRecord(properties)) throw new HubError(400, 'ArgumentInvalid', 'properties must be an object');
      if (properties.reported !== undefined) throw new HubError(400, 'ArgumentInvalid', 'Reported properties cannot be updated by the service');
      if (properties.desired !== undefined && properties.desired !== null) {
        if (!isRecord(properties.desired)) throw new HubError(400, 'ArgumentInvalid', 'properties.desired must be an object');
        const { $metadata: _m, $version: _v, ...rest } = properties.desired;
        desired = rest;
      }
    }
    const cleanTags = isRecord(tags) ? tags : undefined;
    if (cleanTags) validateKeys(cleanTags, 'tags', 1);
    if (desired) validateKeys(desired, 'properties.desired', 1);
    return { tags: cleanTags, desired };
  }

  private applyDesired(twin: StoredTwin, desired: JsonRecord, time: string, replace: boolean): void {
    const current = splitSection(twin.properties.desired);
    const sectionVersion = current.version + 1;
    const stamp = { $lastUpdated: time, $lastUpdatedVersion: sectionVersion };
    const merged = replace ? mergeSection({}, { $lastUpdated: NEVER }, desired, stamp) : mergeSection(current.values, current.meta, desired, stamp);
    const section = { ...merged.values, $metadata: merged.meta, $version: sectionVersion };
    assertSize(section, MAX_PROPERTIES_BYTES, 'properties.desired');
    twin.properties = { desired: section, reported: twin.properties.reported };
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

  private preconditionFailed(): HubError {
    return new HubError(412, 'PreconditionFailed', 'Precondition failed: the etag does not match the current version');
  }

  private nextTwinEtag(): string {
    this.etagCounter += 1n;
    const buffer = Buffer.alloc(8);
    buffer.writeBigUInt64BE(this.etagCounter);
    return buffer.toString('base64');
  }

  private nextIdentityEtag(): string {
    this.etagCounter += 1n;
    return Buffer.from(this.etagCounter.toString()).toString('base64');
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

  private deviceJson(entry: DeviceEntry): DeviceIdentityJson {
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
      authentication: this.authenticationJson(entry),
      capabilities: { iotEdge: (twin.capabilities as { iotEdge: boolean }).iotEdge },
    };
  }

  private moduleJson(entry: ModuleEntry): ModuleIdentityJson {
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
      authentication: this.authenticationJson(entry),
    };
  }

  private authenticationJson(entry: EntryBase): AuthenticationMechanism {
    const thumbprint = entry.twin.x509Thumbprint as AuthenticationMechanism['x509Thumbprint'];
    return {
      symmetricKey: { primaryKey: entry.primaryKey, secondaryKey: entry.secondaryKey },
      x509Thumbprint: { primaryThumbprint: thumbprint.primaryThumbprint, secondaryThumbprint: thumbprint.secondaryThumbprint },
      type: entry.twin.authenticationType as AuthenticationType,
    };
  }

  private emitLifecycle(opType: 'createDeviceIdentity' | 'deleteDeviceIdentity', entry: DeviceEntry | ModuleEntry): void {
    const twin = entry.twin;
    this.emit({ kind: 'lifecycle', opType, deviceId: twin.deviceId, moduleId: twin.moduleId, body: { ...twin }, operationTime: this.now() });
  }

  private emit(change: HubChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

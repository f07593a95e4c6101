/**
 * Turns one Event Hub trigger invocation (cardinality 'many', dataType 'string') into domain events.
 *
 * The built-in endpoint mixes telemetry with lifecycle and twin notifications. Events are told apart
 * by the `iothub-message-source` annotation, which only IoT Hub can set; application properties
 * such as `opType` and `iothub-message-schema` can be set by any device on its telemetry, and a
 * digital twin change also uses `opType=updateTwin`, so neither is trusted on its own.
 *
 * Decoding never throws: a batch always yields one DecodedEvent per message, so one poison event
 * becomes an InvalidEvent (dead letter) instead of failing the invocation.
 */
import type { DecodedEvent, EventPosition, HubEvent, InvalidEvent, JsonObject, SkippedCategory, SkippedEvent } from './types';

/** Larger than any legitimate notification (twin sections are capped at 32 KB each); beyond it we refuse. */
export const MAX_NOTIFICATION_BYTES = 256 * 1024;

/** Partition id of a synthetic position, used when the host did not say where an event came from. */
export const UNKNOWN_PARTITION = 'unknown';

type UnknownRecord = Record<string, unknown>;

const LIFECYCLE_SOURCES = new Set(['devicelifecycleevents', 'modulelifecycleevents']);
const LIFECYCLE_SCHEMAS = new Set(['deviceLifecycleNotification', 'moduleLifecycleNotification']);
const TWIN_SOURCE = 'twinchangeevents';
const TWIN_SCHEMA = 'twinChangeNotification';
const SKIPPED_SOURCES: ReadonlyMap<string, SkippedCategory> = new Map([
  ['telemetry', 'telemetry'],
  ['deviceconnectionstateevents', 'connectionState'],
  ['digitaltwinchangeevents', 'digitalTwin'],
  // Source string of DeviceJobLifecycleEvents is not documented; this is the pattern the others follow.
  ['devicejoblifecycleevents', 'jobLifecycle'],
]);
const CREATE_OPS = new Set(['createDeviceIdentity', 'createModuleIdentity']);
const DELETE_OPS = new Set(['deleteDeviceIdentity', 'deleteModuleIdentity']);

/**
 * ISO 8601 date-time with optional fraction (any number of digits: .NET writes 7) and optional zone.
 * Parsed by hand with Date.UTC: a zone-less .NET DateTime from the host is UTC, and Date.parse would
 * read it as local time.
 */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:(Z)|([+-])(\d{2}):(\d{2}))?$/;

function isRecord(value: unknown): value is UnknownRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function arrayEntry(metadata: UnknownRecord, arrayKey: string, singleKey: string, index: number, single: boolean): unknown {
  if (single) return metadata[singleKey];
  const array = metadata[arrayKey];
  return Array.isArray(array) ? array[index] : undefined;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function parseIsoDateTime(text: string): number | undefined {
  const match = ISO_DATE_TIME.exec(text);
  if (!match) return undefined;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const hour = Number(match[4]);
  const minute = Number(match[5]);
  const second = match[6] === undefined ? 0 : Number(match[6]);
  const fraction = match[7];
  const daysInMonth = month === 2 && !isLeapYear(year) ? 28 : (DAYS_IN_MONTH[month - 1] ?? 0);
  if (day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = fraction === undefined ? 0 : Number(fraction.length >= 3 ? fraction.slice(0, 3) : fraction.padEnd(3, '0'));
  let utc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Date.UTC maps years 0–99 to 1900–1999.
  if (year < 100) utc = new Date(utc).setUTCFullYear(year);
  if (match[9] === undefined) return utc;
  const offset = (Number(match[10]) * 60 + Number(match[11])) * 60000;
  return match[9] === '-' ? utc + offset : utc - offset;
}

/** Accepts ISO strings with or without zone (no zone = UTC, as the host means it), epoch milliseconds and Dates. */
export function parseHostTime(value: unknown): Date | undefined {
  let time: number | undefined;
  if (value instanceof Date) time = value.getTime();
  else if (typeof value === 'number') time = value;
  else if (typeof value === 'string') time = parseIsoDateTime(value);
  return time !== undefined && Number.isFinite(time) ? new Date(time) : undefined;
}

function parseSequenceNumber(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) && number >= 0 ? number : undefined;
}

function parseOffset(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function readPartitionId(metadata: UnknownRecord): string | undefined {
  for (const key of ['partitionContext', 'triggerPartitionContext']) {
    const context = metadata[key];
    if (!isRecord(context)) continue;
    const id = context['partitionId'];
    if (typeof id === 'string' && id.length > 0) return id;
    if (typeof id === 'number' && Number.isInteger(id)) return String(id);
  }
  return undefined;
}

interface ResolvedPosition {
  position: EventPosition;
  /** Names of the parts that were missing and replaced by synthetic values. */
  missing: string[];
}

/**
 * Position from the trigger metadata arrays, else from the event's own system properties (the host
 * copies sequence number, offset and enqueued time there too, and the broker annotations carry them).
 * Missing parts get synthetic values: partition `unknown`, sequence number −(index+1) (never a real
 * one, unique within the batch), offset '' and the Unix epoch (a pure decoder has no clock).
 */
function resolvePosition(metadata: UnknownRecord, systemProperties: UnknownRecord, partitionId: string | undefined, index: number, single: boolean): ResolvedPosition {
  const missing: string[] = [];
  const sequenceNumber =
    parseSequenceNumber(arrayEntry(metadata, 'sequenceNumberArray', 'sequenceNumber', index, single)) ??
    parseSequenceNumber(systemProperties['sequenceNumber']) ??
    parseSequenceNumber(systemProperties['x-opt-sequence-number']);
  const offset =
    parseOffset(arrayEntry(metadata, 'offsetStringArray', 'offsetString', index, single)) ??
    parseOffset(arrayEntry(metadata, 'offsetArray', 'offset', index, single)) ??
    parseOffset(systemProperties['offsetString']) ??
    parseOffset(systemProperties['offset']) ??
    parseOffset(systemProperties['x-opt-offset']);
  const enqueuedTime =
    parseHostTime(arrayEntry(metadata, 'enqueuedTimeUtcArray', 'enqueuedTimeUtc', index, single)) ??
    parseHostTime(systemProperties['enqueuedTimeUtc']) ??
    parseHostTime(systemProperties['x-opt-enqueued-time']);
  if (partitionId === undefined) missing.push('partition id');
  if (sequenceNumber === undefined) missing.push('sequence number');
  if (enqueuedTime === undefined) missing.push('enqueued time');
  return {
    position: {
      partitionId: partitionId ?? UNKNOWN_PARTITION,
      sequenceNumber: sequenceNumber ?? -(index + 1),
      offset: offset ?? '',
      enqueuedTime: enqueuedTime ?? new Date(0),
    },
    missing,
  };
}

/** The hub name travels as the `hubName` property; `user-id` is bytes in .NET and may arrive as a number array. */
function readHubName(properties: UnknownRecord, systemProperties: UnknownRecord): string | undefined {
  const hubName = nonEmptyString(properties['hubName']);
  if (hubName !== undefined) return hubName;
  const userId = systemProperties['user-id'];
  if (typeof userId === 'string' && userId.length > 0) return userId;
  if (Array.isArray(userId) && userId.length > 0 && userId.every((byte) => Number.isInteger(byte) && byte >= 0 && byte < 256)) {
    return Buffer.from(userId as number[]).toString('utf8');
  }
  return undefined;
}

interface RawPayload {
  raw: string;
  rawSize: number;
}

/** Dead-letter text: strings as they are, bytes as `base64:…`, anything else re-serialised as JSON. */
export function rawPayload(body: unknown): RawPayload {
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    return { raw: `base64:${Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64')}`, rawSize: body.byteLength };
  }
  if (typeof body === 'string') return { raw: body, rawSize: Buffer.byteLength(body, 'utf8') };
  if (body === undefined) return { raw: '', rawSize: 0 };
  let raw: string;
  try {
    raw = JSON.stringify(body) ?? String(body);
  } catch {
    raw = String(body);
  }
  return { raw, rawSize: Buffer.byteLength(raw, 'utf8') };
}

/**
 * Cheap upper-bound check before the exact one: serializing every body just to measure it was the
 * largest single cost of decoding. The walk over-estimates (every character counted as up to 3
 * UTF-8 bytes, generous punctuation), so `false` is a proof the body fits.
 */
function mayExceed(body: unknown, limit: number): boolean {
  if (typeof body === 'string') return body.length * 3 > limit;
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) return body.byteLength > limit;
  let budget = limit;
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') budget -= value.length * 3 + 2;
    else if (value === null || typeof value !== 'object') budget -= 24;
    else if (Array.isArray(value)) {
      budget -= 2 + value.length;
      for (const item of value) stack.push(item);
    } else {
      budget -= 2;
      for (const key in value as Record<string, unknown>) {
        budget -= key.length * 3 + 4;
        stack.push((value as Record<string, unknown>)[key]);
      }
    }
    if (budget < 0) return true;
  }
  return false;
}

type BodyResult = { ok: true; body: JsonObject } | { ok: false; reason: string };

/** The worker JSON-parses string bodies itself; a string here is one that did not parse. */
function readJsonObjectBody(body: unknown): BodyResult {
  let value = body;
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) value = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return { ok: false, reason: 'body is not valid JSON' };
    }
  }
  if (!isRecord(value)) return { ok: false, reason: `body is not a JSON object (${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value})` };
  return { ok: true, body: value };
}

interface EventContext {
  index: number;
  body: unknown;
  properties: UnknownRecord;
  systemProperties: UnknownRecord;
  resolved: ResolvedPosition;
  source?: string;
  schema?: string;
}

function invalid(context: EventContext, reason: string, deviceId?: string): InvalidEvent {
  const { raw, rawSize } = rawPayload(context.body);
  const event: InvalidEvent = { kind: 'invalid', reason, position: context.resolved.position, raw, rawSize };
  if (deviceId !== undefined) event.deviceId = deviceId;
  if (context.source !== undefined) event.source = context.source;
  if (context.schema !== undefined) event.schema = context.schema;
  return event;
}

function skipped(context: EventContext, category: SkippedCategory, deviceId: string | undefined): SkippedEvent {
  const event: SkippedEvent = { kind: 'skipped', category, position: context.resolved.position };
  if (deviceId !== undefined) event.deviceId = deviceId;
  return event;
}

function decodeOne(context: EventContext): DecodedEvent {
  const { properties, systemProperties, resolved } = context;
  const propertyDeviceId = nonEmptyString(properties['deviceId']);
  const connectionDeviceId = nonEmptyString(systemProperties['iothub-connection-device-id']);
  const headerDeviceId = propertyDeviceId ?? connectionDeviceId;
  const normalizedSource = context.source?.toLowerCase();

  const isLifecycle = normalizedSource !== undefined && LIFECYCLE_SOURCES.has(normalizedSource);
  const isTwin = normalizedSource === TWIN_SOURCE;
  if (!isLifecycle && !isTwin) {
    // No IoT Hub source at all means a device message: only IoT Hub sets the annotation.
    const category = normalizedSource === undefined ? 'telemetry' : (SKIPPED_SOURCES.get(normalizedSource) ?? 'other');
    return skipped(context, category, headerDeviceId);
  }

  if (resolved.missing.length > 0) {
    // Without (partition, sequence number) history keys are not deterministic and order is unknown.
    return invalid(context, `event position unknown: ${resolved.missing.join(', ')} missing from the trigger metadata`, headerDeviceId);
  }
  if (context.schema !== undefined && !(isLifecycle ? LIFECYCLE_SCHEMAS.has(context.schema) : context.schema === TWIN_SCHEMA)) {
    return invalid(context, `unknown schema "${context.schema}" for source "${context.source}"`, headerDeviceId);
  }
  if (propertyDeviceId !== undefined && connectionDeviceId !== undefined && propertyDeviceId !== connectionDeviceId) {
    return invalid(context, `deviceId property "${propertyDeviceId}" differs from iothub-connection-device-id "${connectionDeviceId}"`, propertyDeviceId);
  }

  const opType = nonEmptyString(properties['opType']);
  const isCreate = opType !== undefined && CREATE_OPS.has(opType);
  const isDelete = opType !== undefined && DELETE_OPS.has(opType);
  const isTwinOp = opType === 'updateTwin' || opType === 'replaceTwin';
  if (isLifecycle ? !isCreate && !isDelete : !isTwinOp) {
    return invalid(context, opType === undefined ? 'opType property missing' : `unknown opType "${opType}" for source "${context.source}"`, headerDeviceId);
  }

  if (mayExceed(context.body, MAX_NOTIFICATION_BYTES)) {
    const { rawSize } = rawPayload(context.body);
    if (rawSize > MAX_NOTIFICATION_BYTES) {
      return invalid(context, `body is ${rawSize} bytes; the limit is ${MAX_NOTIFICATION_BYTES}`, headerDeviceId);
    }
  }
  const parsed = readJsonObjectBody(context.body);
  if (!parsed.ok) return invalid(context, parsed.reason, headerDeviceId);
  const body = parsed.body;

  const bodyDeviceId = body['deviceId'];
  if (bodyDeviceId !== undefined && headerDeviceId !== undefined && bodyDeviceId !== headerDeviceId) {
    return invalid(context, `body deviceId ${JSON.stringify(bodyDeviceId)} differs from the event's device "${headerDeviceId}"`, headerDeviceId);
  }
  const deviceId = headerDeviceId ?? nonEmptyString(bodyDeviceId);
  if (deviceId === undefined) return invalid(context, 'device id missing (no deviceId property, connection device id or body deviceId)');

  const headerModuleId = nonEmptyString(properties['moduleId']) ?? nonEmptyString(systemProperties['iothub-connection-module-id']);
  const bodyModuleId = body['moduleId'];
  if (bodyModuleId !== undefined && headerModuleId !== undefined && bodyModuleId !== headerModuleId) {
    return invalid(context, `body moduleId ${JSON.stringify(bodyModuleId)} differs from the event's module "${headerModuleId}"`, deviceId);
  }
  // A lifecycle body is the identity's twin, so it names the module; a twin patch body does not.
  const moduleId = headerModuleId ?? (isLifecycle ? nonEmptyString(bodyModuleId) : undefined);

  const base = {
    position: resolved.position,
    deviceId,
    operationTime: parseHostTime(properties['operationTimestamp']) ?? resolved.position.enqueuedTime,
  };
  const hubName = readHubName(properties, systemProperties);
  const withHub = hubName === undefined ? base : { ...base, hubName };

  if (isTwin) {
    const event: HubEvent = { ...withHub, kind: 'twinChanged', opType: opType as 'updateTwin' | 'replaceTwin', body };
    if (moduleId !== undefined) event.moduleId = moduleId;
    return event;
  }
  if (moduleId === undefined) {
    if (opType === 'createModuleIdentity' || opType === 'deleteModuleIdentity') {
      return invalid(context, `${opType} without a module id`, deviceId);
    }
    return isCreate ? { ...withHub, kind: 'deviceCreated', twin: body } : { ...withHub, kind: 'deviceDeleted', twin: body };
  }
  return isCreate ? { ...withHub, kind: 'moduleCreated', moduleId, twin: body } : { ...withHub, kind: 'moduleDeleted', moduleId, twin: body };
}

/**
 * Decodes one invocation: `messages` as the Node worker passes it (array for cardinality 'many';
 * a non-array is read as a single event with the singular metadata keys), `triggerMetadata` as
 * `context.triggerMetadata` (validated here, it is only typed as a record). Returns exactly one
 * event per message, in order. Never throws.
 *
 * Lifecycle and twin notifications without a complete position (metadata arrays missing or shorter
 * than the batch, and nothing in the event's system properties) are InvalidEvents with a synthetic
 * position: they cannot be keyed deterministically. Telemetry and other non-actionable events stay
 * SkippedEvents whatever their position, so a host contract break never floods the dead-letter table
 * with device telemetry.
 */
export function decodeBatch(messages: unknown, triggerMetadata: unknown): DecodedEvent[] {
  const single = !Array.isArray(messages);
  const bodies: readonly unknown[] = single ? [messages] : (messages as unknown[]);
  const metadata = isRecord(triggerMetadata) ? triggerMetadata : {};
  const partitionId = readPartitionId(metadata);
  const events: DecodedEvent[] = new Array<DecodedEvent>(bodies.length);
  for (let index = 0; index < bodies.length; index++) {
    const body = bodies[index];
    const properties = arrayEntry(metadata, 'propertiesArray', 'properties', index, single);
    const systemProperties = arrayEntry(metadata, 'systemPropertiesArray', 'systemProperties', index, single);
    const systemRecord = isRecord(systemProperties) ? systemProperties : {};
    const propertyRecord = isRecord(properties) ? properties : {};
    const context: EventContext = {
      index,
      body,
      properties: propertyRecord,
      systemProperties: systemRecord,
      resolved: resolvePosition(metadata, systemRecord, partitionId, index, single),
    };
    const source = nonEmptyString(systemRecord['iothub-message-source']);
    const schema = nonEmptyString(propertyRecord['iothub-message-schema']);
    if (source !== undefined) context.source = source;
    if (schema !== undefined) context.schema = schema;
    events[index] = isRecord(systemProperties)
      ? decodeOne(context)
      : invalid(context, 'system properties missing from the trigger metadata: cannot tell telemetry from notifications');
  }
  return events;
}

/** Counts for the batch log line; every kind and category is present (zero when absent) so log shapes are stable. */
export interface BatchSummary {
  total: number;
  byKind: Record<string, number>;
  skipped: Record<SkippedCategory, number>;
  invalid: number;
}

/** Tallies decoded events by kind and skipped category. */
export function summarize(events: readonly DecodedEvent[]): BatchSummary {
  const byKind: Record<string, number> = {
    deviceCreated: 0,
    deviceDeleted: 0,
    moduleCreated: 0,
    moduleDeleted: 0,
    twinChanged: 0,
    skipped: 0,
    invalid: 0,
  };
  const skippedCounts: Record<SkippedCategory, number> = { telemetry: 0, connectionState: 0, digitalTwin: 0, jobLifecycle: 0, other: 0 };
  for (const event of events) {
    byKind[event.kind] = (byKind[event.kind] ?? 0) + 1;
    if (event.kind === 'skipped') skippedCounts[event.category] += 1;
  }
  return { total: events.length, byKind, skipped: skippedCounts, invalid: byKind['invalid'] ?? 0 };
}

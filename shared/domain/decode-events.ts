/**
 * Turns one Event Hub trigger invocation (cardinality 'many', dataType 'binary': one Buffer per event) into domain
 * events. Bodies are read as strict UTF-8 JSON here, and only for notifications; telemetry is never parsed. Bodies
 * the worker already decoded (dataType 'string': parsed JSON or text) are accepted too.
 *
 * The built-in endpoint mixes telemetry with lifecycle and twin notifications. Events are told apart
 * by the `iothub-message-source` annotation, which only IoT Hub can set; application properties
 * such as `opType` and `iothub-message-schema` can be set by any device on its telemetry, and a
 * digital twin change also uses `opType=updateTwin`, so neither is trusted on its own.
 *
 * Decoding never throws: a batch always yields one DecodedEvent per message, so one poison event
 * becomes an InvalidEvent (dead letter) instead of failing the invocation.
 */
import { readPartitionId, resolvePosition, type ResolvedPosition } from './event-position';
import { parseHostTime } from './parse-host-time';
import { isLegalIdentityId } from './identifiers';
import { decodeUtf8, mayExceed, payloadSize, rawPayload } from './raw-payload';
import { arrayEntry, isRecord, type UnknownRecord } from './trigger-metadata';
import type { DecodedEvent, HubEvent, InvalidEvent, JsonObject, SkippedCategory, SkippedEvent } from './types';

/** Larger than any legitimate notification (twin sections are capped at 32 KB each); beyond it we refuse. */
export const MAX_NOTIFICATION_BYTES = 256 * 1024;

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

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
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

type BodyResult = { ok: true; body: JsonObject } | { ok: false; reason: string };

/** Longest untrusted value quoted into a dead-letter reason (the Reason column must stay small). */
const MAX_QUOTED = 140;

/** `value` as JSON for a reason; a longer string is cut to its first MAX_QUOTED characters, then `…`. */
function quoted(value: unknown): string {
  if (typeof value === 'string')
    return value.length > MAX_QUOTED ? `${JSON.stringify(value.slice(0, MAX_QUOTED))}…` : JSON.stringify(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? typeof value;
  } catch {
    text = typeof value;
  }
  return text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text;
}

/**
 * Bytes (dataType 'binary') must be well-formed UTF-8 JSON: IoT Hub writes notifications as UTF-8 JSON. The worker
 * JSON-parses string bodies itself (dataType 'string'), so a string here is one that did not parse.
 */
function readJsonObjectBody(body: unknown): BodyResult {
  let value = body;
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    const text = decodeUtf8(body);
    if (text === undefined) return { ok: false, reason: 'body is not valid UTF-8' };
    value = text;
  }
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return { ok: false, reason: 'body is not valid JSON' };
    }
  }
  if (!isRecord(value))
    return { ok: false, reason: `body is not a JSON object (${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value})` };
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
  // Only a legal id is recorded as the dead letter's device: anything else is untrusted text of any length.
  if (deviceId !== undefined && isLegalIdentityId(deviceId)) event.deviceId = deviceId;
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
    return invalid(context, `unknown schema ${quoted(context.schema)} for source ${quoted(context.source)}`, headerDeviceId);
  }
  if (propertyDeviceId !== undefined && connectionDeviceId !== undefined && propertyDeviceId !== connectionDeviceId) {
    return invalid(
      context,
      `deviceId property ${quoted(propertyDeviceId)} differs from iothub-connection-device-id ${quoted(connectionDeviceId)}`,
      propertyDeviceId,
    );
  }

  const opType = nonEmptyString(properties['opType']);
  const isCreate = opType !== undefined && CREATE_OPS.has(opType);
  const isDelete = opType !== undefined && DELETE_OPS.has(opType);
  const isTwinOp = opType === 'updateTwin' || opType === 'replaceTwin';
  if (isLifecycle ? !isCreate && !isDelete : !isTwinOp) {
    return invalid(
      context,
      opType === undefined ? 'opType property missing' : `unknown opType ${quoted(opType)} for source ${quoted(context.source)}`,
      headerDeviceId,
    );
  }

  if (mayExceed(context.body, MAX_NOTIFICATION_BYTES)) {
    const rawSize = payloadSize(context.body);
    if (rawSize > MAX_NOTIFICATION_BYTES) {
      return invalid(context, `body is ${rawSize} bytes; the limit is ${MAX_NOTIFICATION_BYTES}`, headerDeviceId);
    }
  }
  const parsed = readJsonObjectBody(context.body);
  if (!parsed.ok) return invalid(context, parsed.reason, headerDeviceId);
  const body = parsed.body;

  const bodyDeviceId = body['deviceId'];
  if (bodyDeviceId !== undefined && headerDeviceId !== undefined && bodyDeviceId !== headerDeviceId) {
    return invalid(
      context,
      `body deviceId ${quoted(bodyDeviceId)} differs from the event's device ${quoted(headerDeviceId)}`,
      headerDeviceId,
    );
  }
  const deviceId = headerDeviceId ?? nonEmptyString(bodyDeviceId);
  if (deviceId === undefined) return invalid(context, 'device id missing (no deviceId property, connection device id or body deviceId)');
  // Only IoT Hub sets the source annotation, but a malformed or forged id must never become posture rows (or keys).
  if (!isLegalIdentityId(deviceId)) return invalid(context, `device id ${quoted(deviceId)} is not a legal IoT Hub device id`);

  const headerModuleId = nonEmptyString(properties['moduleId']) ?? nonEmptyString(systemProperties['iothub-connection-module-id']);
  const bodyModuleId = body['moduleId'];
  if (bodyModuleId !== undefined && headerModuleId !== undefined && bodyModuleId !== headerModuleId) {
    return invalid(context, `body moduleId ${quoted(bodyModuleId)} differs from the event's module ${quoted(headerModuleId)}`, deviceId);
  }
  // A lifecycle body is the identity's twin, so it names the module; a twin patch body does not.
  const moduleId = headerModuleId ?? (isLifecycle ? nonEmptyString(bodyModuleId) : undefined);
  if (moduleId !== undefined && !isLegalIdentityId(moduleId)) {
    return invalid(context, `module id ${quoted(moduleId)} is not a legal IoT Hub module id`, deviceId);
  }

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
  return isCreate
    ? { ...withHub, kind: 'moduleCreated', moduleId, twin: body }
    : { ...withHub, kind: 'moduleDeleted', moduleId, twin: body };
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

/**
 * Turns what happened in the emulated hub into the message IoT Hub itself would put on the built-in
 * `messages/events` endpoint. Pure: no AMQP types, no I/O, so the exact wire shape can be reasoned
 * about (and tested) apart from the transport. The Event Hub endpoint adds only the broker's own
 * annotations (`x-opt-*`) on top of what is built here.
 */
import { createHash } from 'node:crypto';
import type { HubChange, RouteSource } from './hub-events';

/** Application property values IoT Hub (or a device) may attach to a message. */
export type ApplicationPropertyValue = string | number | boolean;

/**
 * One message as IoT Hub routes it to the built-in endpoint, before the Event Hub broker assigns its
 * sequence number, offset and enqueued time.
 */
export interface HubMessage {
  /** Device the message is about; decides the partition (a device and its modules share one). */
  readonly deviceId: string;
  /** AMQP properties section. Absent fields are left off the wire, as IoT Hub does. */
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly correlationId?: string;
  readonly messageId?: string;
  /** IoT Hub sends the hub name here as raw bytes for notifications. */
  readonly userId?: Buffer;
  readonly applicationProperties: Readonly<Record<string, ApplicationPropertyValue>>;
  /** IoT Hub's message annotations; Date values go on the wire as AMQP timestamps. */
  readonly annotations: Readonly<Record<string, string | Date>>;
  /** Carried as one AMQP data section, never as an AMQP value, whatever the content. */
  readonly body: Buffer;
}

/** Telemetry options a device can set on a device-to-cloud message. */
export interface TelemetryOptions {
  moduleId?: string;
  properties?: Record<string, ApplicationPropertyValue>;
  contentType?: string;
  contentEncoding?: string;
  /** `$.mid` / `$.cid` / `$.uid` of a device's property bag: AMQP message-id, correlation-id and user-id. */
  messageId?: string;
  correlationId?: string;
  userId?: string;
  /** The sending identity's registry generation id (`iothub-connection-auth-generation-id`); derived when absent. */
  generationId?: string;
}

type ChangeKind = HubChange['kind'];

const ROUTE_SOURCE_BY_KIND: Readonly<Record<ChangeKind, RouteSource>> = {
  lifecycle: 'DeviceLifecycleEvents',
  twinChange: 'TwinChangeEvents',
  connectionState: 'DeviceConnectionStateEvents',
};

const MESSAGE_SOURCE_BY_KIND: Readonly<Record<ChangeKind, string>> = {
  lifecycle: 'deviceLifecycleEvents',
  twinChange: 'twinChangeEvents',
  connectionState: 'deviceConnectionStateEvents',
};

const MESSAGE_SCHEMA_BY_KIND: Readonly<Record<ChangeKind, string>> = {
  lifecycle: 'deviceLifecycleNotification',
  twinChange: 'twinChangeNotification',
  connectionState: 'deviceConnectionStateNotification',
};

/** The routing source a change belongs to; a change is only emitted if its source is routed. */
export function routeSourceOf(change: HubChange): RouteSource {
  return ROUTE_SOURCE_BY_KIND[change.kind];
}

/**
 * IoT Hub's `operationTimestamp` format: ISO 8601 UTC with exactly 7 fractional digits. JS dates only
 * hold milliseconds, so the extra digits are zero (`2022-05-27T18:49:38.4900000Z`).
 */
export function formatOperationTimestamp(time: Date): string {
  const ms = time.getTime();
  // Bursts of changes share a millisecond; formatting a Date is a noticeable part of each publish.
  if (ms !== lastFormatted.ms) lastFormatted = { ms, text: `${time.toISOString().slice(0, -1)}0000Z` };
  return lastFormatted.text;
}

let lastFormatted = { ms: Number.NaN, text: '' };

/** The hub name's bytes for `user-id`; every notification of a hub shares them (never mutated). */
let userIdCache: { hubName: string; bytes: Buffer } | undefined;

function userIdOf(hubName: string): Buffer {
  if (userIdCache?.hubName !== hubName) userIdCache = { hubName, bytes: Buffer.from(hubName, 'utf8') };
  return userIdCache.bytes;
}

/**
 * Builds the notification IoT Hub emits for a registry or twin change.
 * @param hubName - the hub's name, sent as `hubName` and as the `user-id` bytes.
 * @param correlationId - must be unique per notification (IoT Hub uses a short random hex id).
 * @param enqueuedTime - when IoT Hub accepted the notification (`iothub-enqueuedtime`).
 */
export function buildNotification(hubName: string, change: HubChange, correlationId: string, enqueuedTime: Date): HubMessage {
  // Built by assignment rather than conditional spreads (hot path); key order is the wire order.
  const applicationProperties: Record<string, ApplicationPropertyValue> = {
    hubName,
    deviceId: change.deviceId,
    operationTimestamp: formatOperationTimestamp(change.operationTime),
  };
  if (change.moduleId !== undefined) applicationProperties['moduleId'] = change.moduleId;
  applicationProperties['opType'] = change.opType;
  applicationProperties['iothub-message-schema'] = MESSAGE_SCHEMA_BY_KIND[change.kind];
  const annotations: Record<string, string | Date> = { 'iothub-connection-device-id': change.deviceId };
  if (change.moduleId !== undefined) annotations['iothub-connection-module-id'] = change.moduleId;
  annotations['iothub-enqueuedtime'] = enqueuedTime;
  annotations['iothub-message-source'] = MESSAGE_SOURCE_BY_KIND[change.kind];
  const payload = change.kind === 'connectionState' ? { sequenceNumber: change.sequenceNumber } : change.body;
  return {
    deviceId: change.deviceId,
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    correlationId,
    userId: userIdOf(hubName),
    applicationProperties,
    annotations,
    body: Buffer.from(JSON.stringify(payload), 'utf8'),
  };
}

/**
 * Builds a device-to-cloud telemetry message as IoT Hub routes it (`iothub-message-source: Telemetry`).
 * Strings are sent as UTF-8, Buffers untouched, anything else as JSON; content type and encoding are
 * only present when the device set them, because IoT Hub never invents them for telemetry.
 */
export function buildTelemetry(
  deviceId: string,
  body: string | Buffer | object,
  options: TelemetryOptions,
  enqueuedTime: Date,
): HubMessage {
  const { moduleId } = options;
  const authMethod = { scope: moduleId === undefined ? 'device' : 'module', type: 'sas', issuer: 'iothub', acceptingIpFilterRule: null };
  const annotations: Record<string, string | Date> = {
    'iothub-connection-device-id': deviceId,
    ...(moduleId === undefined ? {} : { 'iothub-connection-module-id': moduleId }),
    'iothub-connection-auth-method': JSON.stringify(authMethod),
    'iothub-connection-auth-generation-id': options.generationId ?? authGenerationIdFor(deviceId, moduleId),
    'iothub-enqueuedtime': enqueuedTime,
    'iothub-message-source': 'Telemetry',
  };
  return {
    deviceId,
    ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
    ...(options.contentEncoding === undefined ? {} : { contentEncoding: options.contentEncoding }),
    ...(options.messageId === undefined ? {} : { messageId: options.messageId }),
    ...(options.correlationId === undefined ? {} : { correlationId: options.correlationId }),
    ...(options.userId === undefined ? {} : { userId: Buffer.from(options.userId, 'utf8') }),
    applicationProperties: { ...options.properties },
    annotations,
    body: toBodyBytes(body),
  };
}

function toBodyBytes(body: string | Buffer | object): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/**
 * IoT Hub assigns each identity an 18-digit generation id at creation. The endpoint doesn't see the
 * registry, so derive a stable one from the identity instead: same identity, same id, every time.
 */
function authGenerationIdFor(deviceId: string, moduleId: string | undefined): string {
  const digest = createHash('sha256')
    .update(`${deviceId}/${moduleId ?? ''}`)
    .digest();
  return `63${(digest.readBigUInt64BE(0) % 10n ** 16n).toString().padStart(16, '0')}`;
}

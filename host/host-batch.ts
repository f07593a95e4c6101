/**
 * Builds what the Azure Functions host hands a Node v4 Event Hub handler (cardinality 'many') from
 * events received with @azure/event-hubs, so the standalone host runs the very same handler on the
 * very same input shape:
 * - `messages[i]`, dataType 'binary' (the app's binding, functions/iothub-events.ts): the body's
 *   bytes as a Buffer, untouched (the host sends `collectionBytes`, the worker makes each a Buffer);
 * - `messages[i]`, dataType 'string': the body as UTF-8 text (malformed sequences become U+FFFD, as
 *   .NET's decoder does), JSON-parsed when it parses (the worker does that), otherwise the string;
 * - `triggerMetadata`: the binding data of the Event Hubs extension, keys with their first letter
 *   lower-cased by the worker, .NET DateTime values without a zone suffix, AMQP property names in
 *   their wire spelling (`content-type`, `correlation-id`, …) as EventData.SystemProperties has them.
 */

/** The subset of @azure/event-hubs ReceivedEventData this adapter reads (kept structural for tests). */
export interface ReceivedEventLike {
  body: unknown;
  properties?: Record<string, unknown>;
  systemProperties?: Record<string, unknown>;
  sequenceNumber: number;
  offset: string | number;
  enqueuedTimeUtc: Date;
  partitionKey: string | null;
  contentType?: string;
  correlationId?: unknown;
  messageId?: unknown;
}

export interface PartitionContextLike {
  fullyQualifiedNamespace: string;
  eventHubName: string;
  consumerGroup: string;
  partitionId: string;
}

export interface HostShapedBatch {
  messages: unknown[];
  triggerMetadata: Record<string, unknown>;
}

/** SDK camel-case names of AMQP message properties → the names .NET's EventData.SystemProperties uses. */
const AMQP_PROPERTY_NAMES: Record<string, string> = {
  messageId: 'message-id',
  userId: 'user-id',
  to: 'to',
  subject: 'subject',
  replyTo: 'reply-to',
  correlationId: 'correlation-id',
  contentType: 'content-type',
  contentEncoding: 'content-encoding',
  absoluteExpiryTime: 'absolute-expiry-time',
  creationTime: 'creation-time',
  groupId: 'group-id',
  groupSequence: 'group-sequence',
  replyToGroupId: 'reply-to-group-id',
};

/** Annotations that the SDK delivers as epoch numbers but .NET surfaces as UTC DateTime values. */
const DATE_ANNOTATIONS = new Set(['iothub-enqueuedtime', 'x-opt-enqueued-time', 'absolute-expiry-time', 'creation-time']);

/**
 * .NET `DateTime` (Kind Unspecified) as Json.NET writes it: up to 7 fraction digits with trailing
 * zeros trimmed, and no zone suffix even though the value is UTC.
 */
export function dotNetUnspecifiedDateTime(at: Date): string {
  const iso = at.toISOString(); // 2022-05-27T18:49:38.640Z
  const [seconds, fraction = ''] = iso.slice(0, -1).split('.');
  const trimmed = fraction.replace(/0+$/, '');
  return trimmed ? `${seconds}.${trimmed}` : `${seconds}`;
}

/** .NET `DateTime` (Kind Utc) as Json.NET writes it: like the above, with `Z`. */
export function dotNetUtcDateTime(at: Date): string {
  return `${dotNetUnspecifiedDateTime(at)}Z`;
}

/** The trigger's `dataType`: how the host hands each event body to the handler. */
export type HostDataType = 'binary' | 'string';

/** The dataType functions/iothub-events.ts registers (test/unit/host-batch.test.ts keeps the two equal). */
export const DEFAULT_HOST_DATA_TYPE: HostDataType = 'binary';

/**
 * The event body's bytes. IoT Hub and the emulator send one AMQP data section, which @azure/event-hubs
 * (skipParsingBodyAsJson) hands over as a Buffer. An AMQP value or sequence body has no bytes of its own (the .NET
 * host refuses such bodies); it is carried as its UTF-8 text or JSON, the closest a producer could have meant.
 */
function bodyBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body) ?? '', 'utf8');
}

function bodyAsHostString(body: unknown): string {
  return bodyBytes(body).toString('utf8');
}

/** The Node worker's handling of a `string` typed datum: JSON if it parses, the text otherwise. */
function workerValueOf(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function lowerFirst(key: string): string {
  return key.length > 0 ? key.charAt(0).toLowerCase() + key.slice(1) : key;
}

/**
 * Bytes as the SDK hands them over: a Buffer, or — for AMQP properties such as `user_id`, which
 * @azure/event-hubs passes through its date-to-number conversion by shallow copy — a plain object
 * with keys '0', '1', … holding the byte values.
 */
function bytesOf(value: unknown): Buffer | undefined {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const entries = Object.entries(value);
  if (entries.length === 0) return undefined;
  const bytes: number[] = [];
  for (const [index, byte] of entries) {
    if (index !== String(bytes.length) || typeof byte !== 'number' || !Number.isInteger(byte) || byte < 0 || byte > 255) return undefined;
    bytes.push(byte);
  }
  return Buffer.from(bytes);
}

function toDotNetSystemValue(key: string, value: unknown): unknown {
  const bytes = bytesOf(value);
  if (bytes) {
    // `user-id` is ArraySegment<byte> in .NET, which Json.NET writes as an array of numbers; a byte[] is base64.
    return key === 'user-id' ? [...bytes] : bytes.toString('base64');
  }
  if (DATE_ANNOTATIONS.has(key)) {
    if (typeof value === 'number') return dotNetUtcDateTime(new Date(value));
    if (value instanceof Date) return dotNetUtcDateTime(value);
  }
  return value;
}

function systemPropertiesOf(event: ReceivedEventLike): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event.systemProperties ?? {})) {
    const name = AMQP_PROPERTY_NAMES[key] ?? key;
    out[lowerFirst(name)] = toDotNetSystemValue(name, value);
  }
  const offsetString = String(event.offset);
  const offsetNumber = offsetAsLong(offsetString);
  out['x-opt-sequence-number'] = event.sequenceNumber;
  out['x-opt-offset'] = offsetString;
  out['x-opt-enqueued-time'] = dotNetUtcDateTime(event.enqueuedTimeUtc);
  if (event.partitionKey !== null && event.partitionKey !== undefined) out['x-opt-partition-key'] = event.partitionKey;
  // Added by the extension (PascalCase in .NET, first letter lower-cased by the worker).
  out['sequenceNumber'] = event.sequenceNumber;
  out['offset'] = offsetNumber;
  out['offsetString'] = offsetString;
  out['partitionKey'] = event.partitionKey ?? null;
  out['enqueuedTimeUtc'] = dotNetUnspecifiedDateTime(event.enqueuedTimeUtc);
  return out;
}

/** .NET `long.TryParse` of the offset with the binding strategy's −1 fallback (offsets are opaque strings since v6). */
function offsetAsLong(offset: string): number {
  const value = /^-?\d+$/.test(offset) ? Number(offset) : Number.NaN;
  return Number.isSafeInteger(value) ? value : -1;
}

function applicationPropertiesOf(event: ReceivedEventLike): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event.properties ?? {})) out[lowerFirst(key)] = value;
  return out;
}

/** What the worker hands the handler for one body under `dataType`. */
function deliveredBody(body: unknown, dataType: HostDataType): unknown {
  return dataType === 'binary' ? bodyBytes(body) : workerValueOf(bodyAsHostString(body));
}

/** One invocation's input for the events of one partition, in stream order. */
export function toHostShapedBatch(
  events: readonly ReceivedEventLike[],
  partition: PartitionContextLike,
  dataType: HostDataType = DEFAULT_HOST_DATA_TYPE,
): HostShapedBatch {
  const partitionContext = { ...partition };
  const offsetStrings = events.map((e) => String(e.offset));
  return {
    messages: events.map((e) => deliveredBody(e.body, dataType)),
    triggerMetadata: {
      triggerPartitionContext: partitionContext,
      partitionContext,
      partitionKeyArray: events.map((e) => e.partitionKey ?? null),
      offsetArray: offsetStrings.map((o) => String(offsetAsLong(o))),
      offsetStringArray: offsetStrings,
      sequenceNumberArray: events.map((e) => e.sequenceNumber),
      enqueuedTimeUtcArray: events.map((e) => dotNetUnspecifiedDateTime(e.enqueuedTimeUtc)),
      propertiesArray: events.map(applicationPropertiesOf),
      systemPropertiesArray: events.map(systemPropertiesOf),
    },
  };
}

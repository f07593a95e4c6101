/**
 * The only place that touches rhea's loosely typed values (`Message` is `{[x: string]: any}`, link
 * internals are untyped). Everything leaving this module is narrowed to concrete types.
 */
import { message as rheaMessage, types as rheaTypes } from 'rhea';
import type { Connection, link as Link, Message, Sender } from 'rhea';
import type { HubMessage } from '../notifications';
import { encodeMessage } from './message-encoder';
import type { AnnotationValue } from './message-encoder';

/** AMQP message format of `@azure/event-hubs` batches: a message whose data sections are messages. */
export const BATCH_MESSAGE_FORMAT = 0x80013700;

/** Annotations the Event Hub broker stamps on every stored event. */
export interface BrokerAnnotations {
  sequenceNumber: number;
  offset: string;
  enqueuedTime: Date;
  partitionKey?: string;
}

/** An event a producer sent, decoded once; opaque outside this module. */
export interface ProducedEvent {
  readonly partitionKey: string | undefined;
  readonly fields: Readonly<Record<string, unknown>>;
}

function brokerAnnotationValues(broker: BrokerAnnotations): Record<string, unknown> {
  return {
    'x-opt-sequence-number': rheaTypes.wrap_long(broker.sequenceNumber),
    'x-opt-offset': broker.offset,
    'x-opt-enqueued-time': rheaTypes.wrap_timestamp(broker.enqueuedTime.getTime()),
    ...(broker.partitionKey === undefined ? {} : { 'x-opt-partition-key': broker.partitionKey }),
  };
}

/** Encodes a hub message with its broker annotations into the exact bytes delivered to consumers. */
export function encodeHubMessage(hubMessage: HubMessage, broker: BrokerAnnotations): Buffer {
  return encodeHubMessageDirect(hubMessage, broker) ?? encodeHubMessageWithRhea(hubMessage, broker);
}

const BROKER_ANNOTATION_NAMES: ReadonlySet<string> = new Set([
  'x-opt-sequence-number',
  'x-opt-offset',
  'x-opt-enqueued-time',
  'x-opt-partition-key',
]);

/**
 * The fast path: same bytes as {@link encodeHubMessageWithRhea} without rhea's typed-value tree.
 * Undefined when the message has something only rhea's generic path reproduces exactly.
 */
function encodeHubMessageDirect(hubMessage: HubMessage, broker: BrokerAnnotations): Buffer | undefined {
  const annotations: [string, AnnotationValue][] = [];
  for (const name in hubMessage.annotations) {
    // A hub annotation named like a broker one would be overwritten in place by rhea's merged map.
    if (BROKER_ANNOTATION_NAMES.has(name)) return undefined;
    const value = hubMessage.annotations[name];
    if (value === undefined) return undefined;
    annotations.push([name, value instanceof Date ? { timestamp: value.getTime() } : value]);
  }
  annotations.push(
    ['x-opt-sequence-number', { long: broker.sequenceNumber }],
    ['x-opt-offset', broker.offset],
    ['x-opt-enqueued-time', { timestamp: broker.enqueuedTime.getTime() }],
  );
  if (broker.partitionKey !== undefined) annotations.push(['x-opt-partition-key', broker.partitionKey]);
  return encodeMessage({
    messageId: hubMessage.messageId,
    userId: hubMessage.userId,
    correlationId: hubMessage.correlationId,
    contentType: hubMessage.contentType,
    contentEncoding: hubMessage.contentEncoding,
    annotations,
    applicationProperties: hubMessage.applicationProperties,
    body: hubMessage.body,
  });
}

/** rhea's generic encoding of a hub message: the reference the direct encoder must match byte for byte. */
export function encodeHubMessageWithRhea(hubMessage: HubMessage, broker: BrokerAnnotations): Buffer {
  const annotations: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(hubMessage.annotations)) {
    annotations[name] = value instanceof Date ? rheaTypes.wrap_timestamp(value.getTime()) : value;
  }
  const fields: Record<string, unknown> = {
    message_annotations: { ...annotations, ...brokerAnnotationValues(broker) },
    application_properties: hubMessage.applicationProperties,
    body: rheaMessage.data_section(hubMessage.body),
  };
  if (hubMessage.messageId !== undefined) fields['message_id'] = hubMessage.messageId;
  if (hubMessage.userId !== undefined) fields['user_id'] = hubMessage.userId;
  if (hubMessage.correlationId !== undefined) fields['correlation_id'] = hubMessage.correlationId;
  if (hubMessage.contentType !== undefined) fields['content_type'] = hubMessage.contentType;
  if (hubMessage.contentEncoding !== undefined) fields['content_encoding'] = hubMessage.contentEncoding;
  return rheaMessage.encode(fields);
}

/** Re-encodes a produced event with the broker's annotations added; everything the producer set stays. */
export function encodeProducedEvent(event: ProducedEvent, broker: BrokerAnnotations): Buffer {
  const existing = asRecord(event.fields['message_annotations']) ?? {};
  return rheaMessage.encode({ ...event.fields, message_annotations: { ...existing, ...brokerAnnotationValues(broker) } });
}

/**
 * Splits what a sender link delivered into the events it carries. A batch (`BATCH_MESSAGE_FORMAT`)
 * arrives as raw bytes: an envelope whose data sections each hold one encoded event; the partition key
 * may be on the envelope or on each event.
 */
export function decodeProducedTransfer(delivered: unknown, format: number | undefined): ProducedEvent[] {
  if (format === BATCH_MESSAGE_FORMAT && Buffer.isBuffer(delivered)) {
    const envelope = toFields(rheaMessage.decode(delivered));
    const envelopeKey = partitionKeyOf(envelope);
    const body = asRecord(envelope['body']);
    const sections: readonly unknown[] =
      body?.['multiple'] === true && Array.isArray(body['content']) ? body['content'] : [body?.['content']];
    const events: ProducedEvent[] = [];
    for (const section of sections) {
      const sectionBytes = asRecord(section)?.['content'] ?? section;
      if (!Buffer.isBuffer(sectionBytes)) continue;
      const fields = toFields(rheaMessage.decode(sectionBytes));
      events.push({ partitionKey: partitionKeyOf(fields) ?? envelopeKey, fields });
    }
    return events;
  }
  const fields = asRecord(delivered);
  return fields === undefined ? [] : [{ partitionKey: partitionKeyOf(fields), fields: toFields(fields) }];
}

function partitionKeyOf(fields: Readonly<Record<string, unknown>>): string | undefined {
  const key = asRecord(fields['message_annotations'])?.['x-opt-partition-key'];
  return typeof key === 'string' ? key : undefined;
}

/** rhea messages are class instances with prototype helpers; keep only their own data fields. */
function toFields(decoded: Message | Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(decoded)) {
    if (typeof value !== 'function') fields[name] = value;
  }
  return fields;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

/** A request on `$cbs` or `$management`, narrowed to what the endpoint reads. */
export interface ServiceRequest {
  messageId: unknown;
  replyTo: string | undefined;
  applicationProperties: Record<string, unknown>;
  body: unknown;
}

export function readServiceRequest(delivered: unknown): ServiceRequest {
  const fields = asRecord(delivered) ?? {};
  const replyTo = fields['reply_to'];
  return {
    messageId: fields['message_id'],
    replyTo: typeof replyTo === 'string' ? replyTo : undefined,
    applicationProperties: asRecord(fields['application_properties']) ?? {},
    body: fields['body'],
  };
}

/** Builds a `$cbs`/`$management` response; `body` is an AMQP map for management reads. */
export function serviceResponse(
  request: ServiceRequest,
  status: number,
  description: string,
  extra: { errorCondition?: string; body?: Record<string, unknown> } = {},
): Message {
  const applicationProperties: Record<string, unknown> = { 'status-code': status, 'status-description': description };
  if (extra.errorCondition !== undefined) applicationProperties['error-condition'] = extra.errorCondition;
  const response: Record<string, unknown> = { correlation_id: request.messageId, application_properties: applicationProperties };
  if (extra.body !== undefined) response['body'] = extra.body;
  // rhea encodes plain objects; its Message type merely also declares prototype helpers.
  return response as unknown as Message;
}

/** Wraps a number as AMQP long (management properties of Event Hubs are longs). */
export function amqpLong(value: number): unknown {
  return rheaTypes.wrap_long(value);
}

/** Addresses and filter of a link as the remote peer attached it. */
export interface RemoteTerminus {
  sourceAddress: string | undefined;
  targetAddress: string | undefined;
  /** `apache.org:selector-filter:string` value, e.g. `amqp.annotation.x-opt-offset > '-1'`. */
  selector: string | undefined;
}

export function remoteTerminusOf(link: Link): RemoteTerminus {
  const source = asRecord(link.source);
  const target = asRecord(link.target);
  const filter = asRecord(source?.['filter']);
  const rawSelector = filter?.['apache.org:selector-filter:string'];
  const selector = typeof rawSelector === 'string' ? rawSelector : asRecord(rawSelector)?.['value'];
  const sourceAddress = source?.['address'];
  const targetAddress = target?.['address'];
  return {
    sourceAddress: typeof sourceAddress === 'string' ? sourceAddress : undefined,
    targetAddress: typeof targetAddress === 'string' ? targetAddress : undefined,
    selector: typeof selector === 'string' ? selector : undefined,
  };
}

/**
 * Fills in this side's attach so it mirrors the peer's terminus (a null source/target in the reply
 * would mean "refused") and, for links that accept events, advertises the maximum message size the
 * SDK sizes its batches from.
 */
export function completeLocalAttach(link: Link, maxMessageSize?: number): void {
  const remote = asRecord(link.source);
  const remoteTarget = asRecord(link.target);
  const sourceAddress = remote?.['address'];
  const targetAddress = remoteTarget?.['address'];
  if (sourceAddress !== undefined) link.set_source({ address: addressText(sourceAddress) });
  if (targetAddress !== undefined) link.set_target({ address: addressText(targetAddress) });
  const local = asRecord(asRecord(link)?.['local']);
  const attach = asRecord(local?.['attach']);
  if (attach !== undefined) {
    if (maxMessageSize !== undefined) attach['max_message_size'] = maxMessageSize;
    // Deliveries go out pre-settled: the consumer owns its position, the broker keeps no per-delivery state.
    if (!link.is_receiver()) attach['snd_settle_mode'] = 1;
  }
}

/**
 * A terminus address as rhea decodes it: a string, or null when the peer encoded an explicit null
 * (kept as the text "null", as String() gave).
 */
function addressText(address: unknown): string {
  return typeof address === 'string' ? address : JSON.stringify(address);
}

/**
 * How many more deliveries may go out on a sending link. rhea only decrements `credit` when it
 * flushes, so during a synchronous burst the limit is computed from the invariant
 * `delivery_count + credit` (the peer's absolute allowance) minus what was already handed to rhea,
 * capped by free slots in the session's outgoing buffer.
 */
export function deliveryBudget(sender: Sender, handedToRhea: number): { credit: number; bufferSpace: number } {
  const internals = asRecord(sender);
  const deliveryCount = Number(internals?.['delivery_count'] ?? 0);
  const credit = Number(internals?.['credit'] ?? 0);
  const outgoing = asRecord(asRecord(internals?.['session'])?.['outgoing']);
  const available =
    outgoing !== undefined && typeof outgoing['available'] === 'function'
      ? Number((outgoing['available'] as () => unknown).call(outgoing))
      : 0;
  return { credit: Math.max(0, deliveryCount + credit - handedToRhea), bufferSpace: Math.max(0, available) };
}

/**
 * Holds back a connection's socket writes until the current tick's work is done, then lets them go as
 * one write. rhea writes every frame with its own `socket.write` (one syscall, one TCP segment, one
 * 'data' event at the peer per delivery); corked, a burst of deliveries costs a handful of each.
 * rhea flushes deliveries from a `process.nextTick` it queues on the first send, so an uncork queued
 * after that send runs after the flush.
 */
export function corkUntilNextTick(connection: Connection): void {
  const socket = asRecord(asRecord(connection)?.['socket']);
  const cork = socket?.['cork'];
  const uncork = socket?.['uncork'];
  if (socket === undefined || typeof cork !== 'function' || typeof uncork !== 'function') return;
  if (corked.has(socket)) return;
  corked.add(socket);
  cork.call(socket);
  process.nextTick(() => {
    corked.delete(socket);
    uncork.call(socket);
  });
}

const corked = new WeakSet<object>();

/**
 * Clears rhea's per-connection heartbeat and idle timers. rhea clears them when a socket closes, but
 * a write flushed while a destroyed socket is still closing can arm them again, which would keep a
 * stopped emulator's process alive for up to twice the idle timeout.
 */
export function stopHeartbeats(connection: Connection): void {
  const timers = connection as unknown as Record<'heartbeat_out' | 'heartbeat_in' | 'abort_idle', NodeJS.Timeout | undefined>;
  for (const name of ['heartbeat_out', 'heartbeat_in', 'abort_idle'] as const) {
    const timer = timers[name];
    if (timer !== undefined && typeof timer === 'object') clearTimeout(timer);
    timers[name] = undefined;
  }
}

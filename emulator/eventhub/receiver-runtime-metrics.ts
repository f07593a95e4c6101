/**
 * Last-enqueued event properties for receivers that ask for them (`trackLastEnqueuedEventProperties`).
 *
 * `@azure/event-hubs` 6 puts `com.microsoft:enable-receiver-runtime-metric` in the receiver link's
 * `desired_capabilities` (partitionReceiver.js, core-amqp `Constants.enableReceiverRuntimeMetricName`) and reads
 * `last_enqueued_sequence_number`, `last_enqueued_offset`, `last_enqueued_time_utc` and
 * `runtime_info_retrieval_time_utc` from each delivered message's delivery annotations (eventData.js
 * `fromRheaMessage`). Stored events are encoded once at append time, so the section is spliced into the bytes
 * per delivery: AMQP 1.0 §3.2 orders it after the header and before the message annotations.
 */
import { types as rheaTypes } from 'rhea';

export const RUNTIME_METRIC_CAPABILITY = 'com.microsoft:enable-receiver-runtime-metric';

/** rhea's AMQP type writer, which its type definitions leave out. */
const { Writer } = rheaTypes as unknown as { Writer: new () => { write(value: unknown): void; toBuffer(): Buffer } };

/** Delivery-annotations section descriptor (AMQP 1.0 §3.2.2, `amqp:delivery-annotations:map`). */
const DELIVERY_ANNOTATIONS = 0x71;
/** `00 53 70`: described, smallulong 0x70 — the header section that rhea always writes first. */
const HEADER_PREFIX = Buffer.from([0x00, 0x53, 0x70]);

export interface LastEnqueuedEvent {
  sequenceNumber: number;
  offset: number;
  enqueuedTimeMs: number;
}

/** True when the peer's attach names the runtime-metric capability (a symbol or an array of symbols). */
export function wantsRuntimeMetrics(desiredCapabilities: unknown): boolean {
  const values = Array.isArray(desiredCapabilities) ? desiredCapabilities : [desiredCapabilities];
  return values.some((value) => String(value) === RUNTIME_METRIC_CAPABILITY);
}

/** The encoded message with a delivery-annotations section describing the partition's last event. */
export function withRuntimeMetrics(encoded: Buffer, last: LastEnqueuedEvent, retrievedAtMs: number): Buffer {
  const writer = new Writer();
  writer.write(
    rheaTypes.described(
      rheaTypes.wrap_ulong(DELIVERY_ANNOTATIONS),
      rheaTypes.wrap_symbolic_map({
        last_enqueued_sequence_number: rheaTypes.wrap_long(last.sequenceNumber),
        last_enqueued_offset: String(last.offset),
        last_enqueued_time_utc: rheaTypes.wrap_timestamp(last.enqueuedTimeMs),
        runtime_info_retrieval_time_utc: rheaTypes.wrap_timestamp(retrievedAtMs),
      }),
    ),
  );
  const section = writer.toBuffer();
  const headerEnd = headerSectionEnd(encoded);
  return Buffer.concat([encoded.subarray(0, headerEnd), section, encoded.subarray(headerEnd)]);
}

/** Byte length of a leading header section (list0, list8 or list32 body), 0 when the message has none. */
function headerSectionEnd(encoded: Buffer): number {
  if (encoded.length < 4 || !encoded.subarray(0, 3).equals(HEADER_PREFIX)) return 0;
  const constructor = encoded[3];
  if (constructor === 0x45) return 4;
  if (constructor === 0xc0) return 5 + (encoded[4] ?? 0);
  if (constructor === 0xd0) return 8 + encoded.readUInt32BE(4);
  return 0;
}

/** Where an event sits in its Event Hub: partition, sequence number, offset and enqueued time, as the host reports them. */
import { parseHostTime } from './parse-host-time';
import { arrayEntry, isRecord, type UnknownRecord } from './trigger-metadata';
import type { EventPosition } from './types';

/** Partition id of a synthetic position, used when the host did not say where an event came from. */
export const UNKNOWN_PARTITION = 'unknown';

function parseSequenceNumber(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) && number >= 0 ? number : undefined;
}

function parseOffset(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

export function readPartitionId(metadata: UnknownRecord): string | undefined {
  for (const key of ['partitionContext', 'triggerPartitionContext']) {
    const context = metadata[key];
    if (!isRecord(context)) continue;
    const id = context['partitionId'];
    if (typeof id === 'string' && id.length > 0) return id;
    if (typeof id === 'number' && Number.isInteger(id)) return String(id);
  }
  return undefined;
}

export interface ResolvedPosition {
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
export function resolvePosition(
  metadata: UnknownRecord,
  systemProperties: UnknownRecord,
  partitionId: string | undefined,
  index: number,
  single: boolean,
): ResolvedPosition {
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

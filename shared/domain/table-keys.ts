/**
 * PartitionKey / RowKey construction for the posture tables.
 *
 * Device IDs may legally contain `#`, `?` and `%` (IoT Hub identifier rules), but Table storage
 * rejects `/ \ # ?` and control characters in key fields. Every key derived from an identifier
 * therefore goes through {@link encodeKeySegment}, and every key is checked by
 * {@link assertValidKey} before it reaches the service, so a bad key fails here with a precise
 * message instead of as an opaque 400 from the Tables endpoint.
 */
import type { EventPosition } from './types';

/** Table storage limit for PartitionKey and RowKey, in characters. */
export const MAX_KEY_LENGTH = 1024;

/** RowKey of the single "latest posture" entity in a device's partition of the latest table. */
export const LATEST_ROW_KEY = 'latest';

/** `DateTime.MaxValue.Ticks` in .NET: the log-tail pattern subtracts from it so newer sorts first. */
const DOTNET_MAX_TICKS = 3155378975999999999n;
/** .NET ticks (100 ns since 0001-01-01) at the Unix epoch. */
const DOTNET_TICKS_AT_UNIX_EPOCH = 621355968000000000n;
const TICKS_PER_MILLISECOND = 10000n;
const EARLIEST_DOTNET_TIME_MS = -62135596800000;
const LATEST_DOTNET_TIME_MS = 253402300799999;

const INVERTED_TICKS_DIGITS = 19;
const PARTITION_DIGITS = 3;
const SEQUENCE_DIGITS = 20;
const HISTORY_ROW_KEY = /^(\d{19})_(\d{3,}|sweep|import)_(\d{20})$/;

/** Synthetic partition id of history rows written by a compliance sweep rather than by an event. */
export const SWEEP_HISTORY_PARTITION = 'sweep';

/** Synthetic partition id of history rows recording a registration-storm import job's outcome for a device. */
export const IMPORT_HISTORY_PARTITION = 'import';

const SYNTHETIC_PARTITIONS: ReadonlySet<string> = new Set([SWEEP_HISTORY_PARTITION, IMPORT_HISTORY_PARTITION]);

/** Thrown when a key would be rejected by Table storage. */
export class InvalidTableKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTableKeyError';
  }
}

const PERCENT = 0x25;
const HEX_ESCAPE = /^[0-9A-F]{2}$/;

/** Table storage forbids `/ \ # ?`, U+0000–U+001F and U+007F–U+009F in key fields. */
function isForbiddenInKey(code: number): boolean {
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f) || code === 0x23 || code === 0x3f || code === 0x2f || code === 0x5c;
}

function mustEscape(code: number): boolean {
  return code === PERCENT || isForbiddenInKey(code);
}

function codePointLabel(code: number): string {
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Makes an identifier safe for a key field, reversibly: `%`, `#`, `?`, `/`, `\` and control
 * characters become `%XX` (upper-case hex); everything else is kept so keys stay readable in
 * Storage Explorer. The output is at most 3× the input length (a 128-char device ID stays ≤ 384).
 */
export function encodeKeySegment(id: string): string {
  let encoded = '';
  let copiedUpTo = 0;
  for (let index = 0; index < id.length; index++) {
    const code = id.charCodeAt(index);
    if (mustEscape(code)) {
      encoded += `${id.slice(copiedUpTo, index)}%${code.toString(16).toUpperCase().padStart(2, '0')}`;
      copiedUpTo = index + 1;
    }
  }
  return copiedUpTo === 0 ? id : encoded + id.slice(copiedUpTo);
}

/**
 * Inverse of {@link encodeKeySegment}. Only accepts what the encoder can produce (every `%` starts an
 * upper-case escape of a character the encoder escapes), so each identifier has exactly one encoded
 * form and two different keys can never decode to the same device.
 */
export function decodeKeySegment(segment: string): string {
  let decoded = '';
  let copiedUpTo = 0;
  let percentAt = segment.indexOf('%');
  while (percentAt !== -1) {
    const hex = segment.slice(percentAt + 1, percentAt + 3);
    if (!HEX_ESCAPE.test(hex)) {
      throw new InvalidTableKeyError(
        `Key segment ${JSON.stringify(segment)} has a '%' at index ${percentAt} that does not start a %XX escape`,
      );
    }
    const code = parseInt(hex, 16);
    if (!mustEscape(code)) {
      throw new InvalidTableKeyError(
        `Key segment ${JSON.stringify(segment)} escapes ${codePointLabel(code)}, which encodeKeySegment never escapes`,
      );
    }
    decoded += segment.slice(copiedUpTo, percentAt) + String.fromCharCode(code);
    copiedUpTo = percentAt + 3;
    percentAt = segment.indexOf('%', copiedUpTo);
  }
  const rest = segment.slice(copiedUpTo);
  for (let index = 0; index < rest.length; index++) {
    if (isForbiddenInKey(rest.charCodeAt(index))) {
      throw new InvalidTableKeyError(`Key segment ${JSON.stringify(segment)} contains unescaped ${codePointLabel(rest.charCodeAt(index))}`);
    }
  }
  return decoded + rest;
}

/**
 * Throws {@link InvalidTableKeyError} if Table storage would reject `key` as a PartitionKey or
 * RowKey: longer than 1024 characters, or containing `/ \ # ?`, U+0000–U+001F or U+007F–U+009F.
 */
export function assertValidKey(key: string): void {
  if (key.length > MAX_KEY_LENGTH) {
    throw new InvalidTableKeyError(`Table key is ${key.length} characters long; the limit is ${MAX_KEY_LENGTH}`);
  }
  for (let index = 0; index < key.length; index++) {
    const code = key.charCodeAt(index);
    if (isForbiddenInKey(code)) {
      throw new InvalidTableKeyError(
        `Table key ${JSON.stringify(key)} contains forbidden character ${codePointLabel(code)} at index ${index}`,
      );
    }
  }
}

/**
 * `DateTime.MaxValue.Ticks − ticks(at)`, zero-padded to 19 digits, so that string order of row keys
 * is newest-first (the log-tail pattern). Millisecond precision: that is all a JS Date holds.
 * Throws RangeError for an invalid Date or one outside .NET's DateTime range (years 1–9999).
 */
export function invertedTicks(at: Date): string {
  const ms = at.getTime();
  if (!Number.isFinite(ms) || ms < EARLIEST_DOTNET_TIME_MS || ms > LATEST_DOTNET_TIME_MS) {
    throw new RangeError(
      `Cannot compute inverted ticks for ${Number.isFinite(ms) ? at.toISOString() : 'an invalid Date'}: outside 0001-01-01..9999-12-31`,
    );
  }
  const ticks = BigInt(ms) * TICKS_PER_MILLISECOND + DOTNET_TICKS_AT_UNIX_EPOCH;
  return (DOTNET_MAX_TICKS - ticks).toString().padStart(INVERTED_TICKS_DIGITS, '0');
}

function timeFromInvertedTicks(digits: string): Date {
  const ticks = DOTNET_MAX_TICKS - BigInt(digits);
  return new Date(Number((ticks - DOTNET_TICKS_AT_UNIX_EPOCH) / TICKS_PER_MILLISECOND));
}

function formatPartition(partitionId: string): string {
  if (SYNTHETIC_PARTITIONS.has(partitionId)) return partitionId;
  if (!/^\d+$/.test(partitionId)) {
    throw new InvalidTableKeyError(`Partition id "${partitionId}" is not numeric; history row keys need an Event Hubs partition number`);
  }
  return partitionId.padStart(PARTITION_DIGITS, '0');
}

function formatSequenceNumber(sequenceNumber: number): string {
  if (!Number.isSafeInteger(sequenceNumber) || sequenceNumber < 0) {
    throw new InvalidTableKeyError(`Sequence number ${sequenceNumber} is not a non-negative integer`);
  }
  return String(sequenceNumber).padStart(SEQUENCE_DIGITS, '0');
}

/**
 * History RowKey: `<invertedTicks(at)>_<partition, 3+ digits, 'sweep' or 'import'>_<sequenceNumber, 20 digits>`.
 * Sweep rows use partition 'sweep', import-job outcomes 'import' (digits sort before letters, so event rows at the same instant come first).
 * Newest first within a device partition; deterministic, so a replayed event overwrites its own row;
 * unique per event because (partition, sequence number) is unique in the stream.
 */
export function historyRowKey(at: Date, partitionId: string, sequenceNumber: number): string {
  return `${invertedTicks(at)}_${formatPartition(partitionId)}_${formatSequenceNumber(sequenceNumber)}`;
}

/** The parts of a history RowKey. The partition id comes back without its zero padding. */
export interface HistoryRowKeyParts {
  at: Date;
  partitionId: string;
  sequenceNumber: number;
}

/** Inverse of {@link historyRowKey}; throws InvalidTableKeyError for anything it did not produce. */
export function parseHistoryRowKey(rowKey: string): HistoryRowKeyParts {
  const match = HISTORY_ROW_KEY.exec(rowKey);
  const [, tickDigits, partitionDigits, sequenceDigits] = match ?? [];
  if (tickDigits === undefined || partitionDigits === undefined || sequenceDigits === undefined) {
    throw new InvalidTableKeyError(`"${rowKey}" is not a history row key (<19 digits>_<partition>_<20 digits>)`);
  }
  const sequenceNumber = Number(sequenceDigits);
  if (!Number.isSafeInteger(sequenceNumber) || BigInt(tickDigits) > DOTNET_MAX_TICKS) {
    throw new InvalidTableKeyError(`"${rowKey}" is not a history row key: value out of range`);
  }
  return {
    at: timeFromInvertedTicks(tickDigits),
    partitionId: SYNTHETIC_PARTITIONS.has(partitionDigits) ? partitionDigits : String(Number(partitionDigits)),
    sequenceNumber,
  };
}

/**
 * Dead-letter keys. PartitionKey is the UTC day (`yyyymmdd`) of the enqueued time so operators can
 * scan one day; RowKey is `<partition>_<sequence number>`, deterministic so a replay overwrites.
 * Synthetic positions (see decode-events: partition `unknown`, negative sequence numbers) are
 * accepted: the partition is key-encoded and a negative sequence number keeps its sign.
 */
export function deadLetterKeys(position: EventPosition): { partitionKey: string; rowKey: string } {
  const time = position.enqueuedTime.getTime();
  if (!Number.isFinite(time) || time < 0 || time > LATEST_DOTNET_TIME_MS) {
    throw new RangeError('Cannot build dead-letter keys: enqueued time is not a valid date between 1970 and 9999');
  }
  if (!Number.isSafeInteger(position.sequenceNumber)) {
    throw new InvalidTableKeyError(`Sequence number ${position.sequenceNumber} is not an integer`);
  }
  const partitionKey = position.enqueuedTime.toISOString().slice(0, 10).replace(/-/g, '');
  const partition = /^\d+$/.test(position.partitionId)
    ? position.partitionId.padStart(PARTITION_DIGITS, '0')
    : encodeKeySegment(position.partitionId);
  const sequence =
    position.sequenceNumber < 0
      ? `-${String(-position.sequenceNumber).padStart(SEQUENCE_DIGITS - 1, '0')}`
      : String(position.sequenceNumber).padStart(SEQUENCE_DIGITS, '0');
  const rowKey = `${partition}_${sequence}`;
  assertValidKey(rowKey);
  return { partitionKey, rowKey };
}

/**
 * Posture rows are spread over a fixed number of shard partitions rather than one partition per
 * device, so one batch's rows for many devices fit in a few entity-group transactions (≤100 rows,
 * one partition each) instead of one request per device. 16 shards keep each partition far below
 * the ~2,000 entities/s partition target at Event Hub ingest rates. Changing the count re-homes
 * every row: it is part of the storage format (SchemaVersion).
 */
export const POSTURE_SHARD_COUNT = 16;

/** `00`–`15`: FNV-1a (32-bit) of the device ID's UTF-16 code units, modulo the shard count. */
export function postureShard(deviceId: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < deviceId.length; i++) {
    hash ^= deviceId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return String(hash % POSTURE_SHARD_COUNT).padStart(2, '0');
}

/** Latest posture row: PartitionKey = shard, RowKey = encoded device ID. */
export function latestKeys(deviceId: string): { partitionKey: string; rowKey: string } {
  return { partitionKey: postureShard(deviceId), rowKey: encodeKeySegment(deviceId) };
}

/** `|` cannot occur in a device ID, so it ends the device segment of a history RowKey unambiguously. */
const DEVICE_SEPARATOR = '|';
/** The character after `|`: the exclusive upper bound of one device's history rows. */
const AFTER_DEVICE_SEPARATOR = '}';

/**
 * History row: PartitionKey = shard, RowKey = `<encoded device ID>|<historyRowKey(at, partition, sequence)>`:
 * one device's rows are contiguous and newest first, and a replayed event overwrites its own row.
 */
export function historyKeys(
  deviceId: string,
  at: Date,
  partitionId: string,
  sequenceNumber: number,
): { partitionKey: string; rowKey: string } {
  return {
    partitionKey: postureShard(deviceId),
    rowKey: `${encodeKeySegment(deviceId)}${DEVICE_SEPARATOR}${historyRowKey(at, partitionId, sequenceNumber)}`,
  };
}

/** The device ID and event position a history RowKey was built from. */
export function parseHistoryKeys(rowKey: string): HistoryRowKeyParts & { deviceId: string } {
  const separator = rowKey.lastIndexOf(DEVICE_SEPARATOR);
  if (separator <= 0) throw new InvalidTableKeyError(`"${rowKey}" is not a history row key (<device>|<time>_<partition>_<sequence>)`);
  return { deviceId: decodeKeySegment(rowKey.slice(0, separator)), ...parseHistoryRowKey(rowKey.slice(separator + 1)) };
}

/** The earliest and latest instants a history key can hold: .NET DateTime's range, 0001-01-01 to 9999-12-31, in ms. */
export const EARLIEST_KEY_TIME = new Date(EARLIEST_DOTNET_TIME_MS);
export const LATEST_KEY_TIME = new Date(LATEST_DOTNET_TIME_MS);

/** A history time window within the range history keys can represent; `empty` when no stored entry can fall in it. */
export interface HistoryWindow {
  from?: Date;
  to?: Date;
  empty: boolean;
}

/**
 * A history time window [from, to] brought into the range history keys can represent, by clamping rather than
 * rejecting: every stored entry was keyed with {@link invertedTicks}, so it lies inside 0001-01-01..9999-12-31, and
 * the clamped window selects exactly the entries the caller's window selects. `from=0001-01-01T00:00:00Z` (a common
 * "since the beginning") and `to=9999-12-31T23:59:59-05:00` (past the end once in UTC) are meaningful questions with
 * a well-defined answer, not client errors. A bound at or beyond its own end of the range is dropped (`from` ≤ the
 * earliest instant: no lower bound; `to` ≥ the latest: no upper bound); a bound beyond the opposite end (`from` after
 * 9999-12-31T23:59:59.999Z, `to` before 0001-01-01) leaves nothing to find: `empty`.
 */
export function clampHistoryWindow(from: Date | undefined, to: Date | undefined): HistoryWindow {
  const window: HistoryWindow = { empty: false };
  if (from !== undefined && from.getTime() > EARLIEST_DOTNET_TIME_MS) {
    if (from.getTime() > LATEST_DOTNET_TIME_MS) window.empty = true;
    else window.from = from;
  }
  if (to !== undefined && to.getTime() < LATEST_DOTNET_TIME_MS) {
    if (to.getTime() < EARLIEST_DOTNET_TIME_MS) window.empty = true;
    else window.to = to;
  }
  return window;
}

/**
 * RowKey range of one device's history within its shard, optionally limited to [from, to]:
 * `to` (newest) gives the inclusive lower bound because ticks are inverted; `from` gives an
 * exclusive upper bound one millisecond earlier. Bounds outside the keys' range are clamped
 * ({@link clampHistoryWindow}), so any valid Date yields a range.
 */
export function historyRange(deviceId: string, from?: Date, to?: Date): { partitionKey: string; lower: string; upperExclusive: string } {
  const device = encodeKeySegment(deviceId);
  const window = clampHistoryWindow(from, to);
  // Nothing can match: an empty range (lower = upper) rather than a bound no key can express.
  if (window.empty)
    return { partitionKey: postureShard(deviceId), lower: `${device}${DEVICE_SEPARATOR}`, upperExclusive: `${device}${DEVICE_SEPARATOR}` };
  return {
    partitionKey: postureShard(deviceId),
    lower: `${device}${DEVICE_SEPARATOR}${window.to ? invertedTicks(window.to) : ''}`,
    upperExclusive: window.from
      ? `${device}${DEVICE_SEPARATOR}${invertedTicks(new Date(window.from.getTime() - 1))}`
      : `${device}${AFTER_DEVICE_SEPARATOR}`,
  };
}

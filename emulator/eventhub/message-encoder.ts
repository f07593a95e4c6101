/**
 * Direct AMQP encoder for the messages the endpoint stores (hub notifications and telemetry). It emits
 * exactly the bytes `rhea.message.encode` would for the same fields — same sections in the same order,
 * same width choices (rhea always writes maps and lists as map32/list32, strings as str8 when their
 * UTF-8 form fits 255 bytes, symbols as latin-1 bytes) — but writes straight into one reusable scratch
 * buffer instead of building rhea's typed-value tree, which was the largest cost of a publish.
 * Anything it does not reproduce exactly (64-bit application property integers, annotation keys that
 * would collide with broker annotations) is reported as unsupported so the caller can use rhea.
 */

/** One annotation value: IoT Hub's strings and timestamps, or the broker's long sequence number. */
export type AnnotationValue = string | { readonly timestamp: number } | { readonly long: number };

/** Fields of one stored message, in the shape the encoder needs. */
export interface EncodableMessage {
  readonly messageId?: string;
  readonly userId?: Buffer;
  readonly correlationId?: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  /** Written in iteration order, like rhea's `for…in`; symbol keys. */
  readonly annotations: readonly (readonly [string, AnnotationValue])[];
  readonly applicationProperties: Readonly<Record<string, string | number | boolean>>;
  readonly body: Buffer;
}

// AMQP 1.0 type codes (as rhea picks them).
const DESCRIBED = 0x00;
const SMALL_ULONG = 0x53;
const NULL = 0x40;
const TRUE = 0x41;
const FALSE = 0x42;
const LIST0 = 0x45;
const SMALL_UINT = 0x52;
const UINT = 0x70;
const SMALL_INT = 0x54;
const INT = 0x71;
const SMALL_LONG = 0x55;
const LONG = 0x81;
const DOUBLE = 0x82;
const TIMESTAMP = 0x83;
const VBIN8 = 0xa0;
const VBIN32 = 0xb0;
const STR8 = 0xa1;
const STR32 = 0xb1;
const SYM8 = 0xa3;
const SYM32 = 0xb3;
const LIST32 = 0xd0;
const MAP32 = 0xd1;

// Section descriptors.
const HEADER = 0x70;
const MESSAGE_ANNOTATIONS = 0x72;
const PROPERTIES = 0x73;
const APPLICATION_PROPERTIES = 0x74;
const DATA = 0x75;

const TWO_POW_32 = 4294967296;
/** rhea's lower bound for encoding a non-positive integer as `int` rather than `long`. */
const RHEA_MIN_INT = -2147483647;

/** Thrown internally when a value needs an encoding this writer does not reproduce byte for byte. */
class Unsupported extends Error {}

class ScratchWriter {
  buffer = Buffer.allocUnsafe(64 * 1024);
  position = 0;

  reserve(bytes: number): void {
    if (this.buffer.length >= bytes) return;
    this.buffer = Buffer.allocUnsafe(Math.max(bytes, this.buffer.length * 2));
  }

  byte(value: number): void {
    this.buffer[this.position++] = value;
  }

  uint32(value: number): void {
    this.buffer.writeUInt32BE(value, this.position);
    this.position += 4;
  }

  /** Two's-complement 64-bit integer from a safe JS integer, as rhea's `write_long` produces it. */
  int64(value: number): void {
    const high = Math.floor(value / TWO_POW_32);
    this.buffer.writeInt32BE(high, this.position);
    this.buffer.writeUInt32BE(value - high * TWO_POW_32, this.position + 4);
    this.position += 8;
  }

  described(descriptor: number): void {
    this.byte(DESCRIBED);
    this.byte(SMALL_ULONG);
    this.byte(descriptor);
  }

  /** rhea chooses str8/str32 by the UTF-8 length but a one-byte prefix needs knowing it up front. */
  string(value: string): void {
    const short = value.length <= 85 || (value.length <= 255 && Buffer.byteLength(value, 'utf8') <= 255);
    if (short) {
      const written = this.buffer.write(value, this.position + 2, 'utf8');
      this.buffer[this.position] = STR8;
      this.buffer[this.position + 1] = written;
      this.position += 2 + written;
    } else {
      const written = this.buffer.write(value, this.position + 5, 'utf8');
      this.buffer[this.position] = STR32;
      this.buffer.writeUInt32BE(written, this.position + 1);
      this.position += 5 + written;
    }
  }

  /** rhea sizes symbols by their UTF-8 length but writes them with Node's `ascii` (= latin-1) codec. */
  symbol(value: string): void {
    const short = value.length <= 85 || Buffer.byteLength(value, 'utf8') <= 255;
    this.byte(short ? SYM8 : SYM32);
    if (short) this.byte(value.length);
    else this.uint32(value.length);
    this.position += this.buffer.write(value, this.position, 'latin1');
  }

  binary(value: Buffer): void {
    if (value.length > 255) {
      this.byte(VBIN32);
      this.uint32(value.length);
    } else {
      this.byte(VBIN8);
      this.byte(value.length);
    }
    this.position += value.copy(this.buffer, this.position);
  }

  /** A value as `rhea.types.wrap` encodes a JS string, boolean or number (or a stray null/undefined). */
  value(value: unknown): void {
    if (typeof value === 'string') return this.string(value);
    if (typeof value === 'boolean') return this.byte(value ? TRUE : FALSE);
    if (value === undefined || value === null) return this.byte(NULL);
    if (typeof value !== 'number') throw new Unsupported(typeof value);
    if (Number.isNaN(value)) return this.byte(NULL);
    if (Math.floor(value) - value !== 0) {
      this.byte(DOUBLE);
      this.buffer.writeDoubleBE(value, this.position);
      this.position += 8;
      return;
    }
    if (value > 0) {
      if (value >= TWO_POW_32) throw new Unsupported('ulong');
      if (value > 255) {
        this.byte(UINT);
        this.uint32(value);
      } else {
        this.byte(SMALL_UINT);
        this.byte(value);
      }
      return;
    }
    if (value <= RHEA_MIN_INT) throw new Unsupported('long');
    if (value < -128) {
      this.byte(INT);
      this.buffer.writeInt32BE(value, this.position);
      this.position += 4;
    } else {
      this.byte(SMALL_INT);
      this.buffer.writeInt8(value, this.position);
      this.position += 1;
    }
  }

  annotationValue(value: AnnotationValue): void {
    if (typeof value === 'string') return this.string(value);
    if ('timestamp' in value) {
      this.byte(TIMESTAMP);
      return this.int64(value.timestamp);
    }
    if (value.long > 127 || value.long < -128) {
      this.byte(LONG);
      return this.int64(value.long);
    }
    this.byte(SMALL_LONG);
    this.buffer.writeInt8(value.long, this.position);
    this.position += 1;
  }

  /** Starts a map32/list32; returns where its size goes, filled in by {@link endCompound}. */
  beginCompound(typecode: number, count: number): number {
    this.byte(typecode);
    const sizeAt = this.position;
    this.position += 4;
    this.uint32(count);
    return sizeAt;
  }

  endCompound(sizeAt: number): void {
    this.buffer.writeUInt32BE(this.position - sizeAt - 4, sizeAt);
  }
}

const scratch = new ScratchWriter();

/** Generous upper bound of the encoded size: every UTF-16 unit may take 3 UTF-8 bytes. */
function sizeBound(message: EncodableMessage): number {
  let bound = 128 + message.body.length + (message.userId?.length ?? 0);
  bound +=
    3 *
    ((message.messageId?.length ?? 0) +
      (message.correlationId?.length ?? 0) +
      (message.contentType?.length ?? 0) +
      (message.contentEncoding?.length ?? 0));
  for (const [name, value] of message.annotations) bound += 16 + 3 * name.length + (typeof value === 'string' ? 3 * value.length : 8);
  for (const name in message.applicationProperties) {
    const value = message.applicationProperties[name];
    bound += 16 + 3 * name.length + (typeof value === 'string' ? 3 * value.length : 8);
  }
  return bound;
}

/**
 * Encodes the message into a new exactly-sized Buffer, or returns undefined if some value needs an
 * encoding this writer does not reproduce (the caller then falls back to rhea).
 */
export function encodeMessage(message: EncodableMessage): Buffer | undefined {
  scratch.reserve(sizeBound(message));
  scratch.position = 0;
  try {
    writeMessage(scratch, message);
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
  const encoded = Buffer.allocUnsafe(scratch.position);
  scratch.buffer.copy(encoded, 0, 0, scratch.position);
  return encoded;
}

function writeMessage(writer: ScratchWriter, message: EncodableMessage): void {
  // rhea always emits an (empty) header section first.
  writer.described(HEADER);
  writer.byte(LIST0);

  writer.described(MESSAGE_ANNOTATIONS);
  const annotationsAt = writer.beginCompound(MAP32, message.annotations.length * 2);
  for (const [name, value] of message.annotations) {
    writer.symbol(name);
    writer.annotationValue(value);
  }
  writer.endCompound(annotationsAt);

  // The properties list runs up to the last field that is set; unset fields before it are nulls.
  const fields = [
    message.messageId,
    message.userId,
    undefined,
    undefined,
    undefined,
    message.correlationId,
    message.contentType,
    message.contentEncoding,
  ];
  let count = fields.length;
  while (count > 0 && fields[count - 1] === undefined) count -= 1;
  writer.described(PROPERTIES);
  if (count === 0) {
    writer.byte(LIST0);
  } else {
    const listAt = writer.beginCompound(LIST32, count);
    for (let index = 0; index < count; index += 1) {
      const field = fields[index];
      if (field === undefined) writer.byte(NULL);
      else if (Buffer.isBuffer(field)) writer.binary(field);
      else if (index >= 6) writer.symbol(field);
      else writer.string(field);
    }
    writer.endCompound(listAt);
  }

  writer.described(APPLICATION_PROPERTIES);
  const applicationProperties = message.applicationProperties;
  const mapAt = writer.beginCompound(MAP32, 0);
  let entries = 0;
  // for…in, like rhea's wrap_map, so key order (integer-like keys first) is the same.
  for (const name in applicationProperties) {
    writer.string(name);
    writer.value(applicationProperties[name]);
    entries += 2;
  }
  writer.buffer.writeUInt32BE(entries, mapAt + 4);
  writer.endCompound(mapAt);

  writer.described(DATA);
  writer.binary(message.body);
}

/**
 * Partition-key → partition mapping of Azure Event Hubs (Bob Jenkins' lookup3 `hashlittle2`, folded to
 * a signed 16-bit value). It is the same function the service and `@azure/event-hubs`' buffered
 * producer use, so a producer's `partitionKey: deviceId` lands where this emulator puts that device's
 * notifications. The arithmetic mirrors the reference implementation step by step (including its mix
 * of float additions and int32 bit operations) because any reordering changes the result.
 */

/**
 * Index of the partition a key maps to.
 * @param partitionCount - must be a positive integer.
 */
export function partitionIndexForKey(partitionKey: string, partitionCount: number): number {
  const { b, c } = lookup3(Buffer.from(partitionKey, 'utf8'));
  const folded = new Int16Array([c ^ b])[0] ?? 0;
  return Math.abs(folded % partitionCount);
}

function lookup3(data: Buffer): { b: number; c: number } {
  let a: number;
  let b: number;
  let c: number;
  a = b = c = 0xdeadbeef + data.length;
  let index = 0;
  let size = data.length;
  while (size > 12) {
    a += data.readUInt32LE(index);
    b += data.readUInt32LE(index + 4);
    c += data.readUInt32LE(index + 8);
    a -= c;
    a ^= (c << 4) | (c >>> 28);
    c += b;
    b -= a;
    b ^= (a << 6) | (a >>> 26);
    a += c;
    c -= b;
    c ^= (b << 8) | (b >>> 24);
    b += a;
    a -= c;
    a ^= (c << 16) | (c >>> 16);
    c += b;
    b -= a;
    b ^= (a << 19) | (a >>> 13);
    a += c;
    c -= b;
    c ^= (b << 4) | (b >>> 28);
    b += a;
    index += 12;
    size -= 12;
  }
  if (size === 0) return { b: b >>> 0, c: c >>> 0 };
  const byteAt = (i: number): number => data[index + i] ?? 0;
  if (size === 12) {
    a += data.readUInt32LE(index);
    b += data.readUInt32LE(index + 4);
    c += data.readUInt32LE(index + 8);
  } else if (size >= 8) {
    if (size >= 11) c += byteAt(10) << 16;
    if (size >= 10) c += byteAt(9) << 8;
    if (size >= 9) c += byteAt(8);
    b += data.readUInt32LE(index + 4);
    a += data.readUInt32LE(index);
  } else if (size >= 4) {
    if (size >= 7) b += byteAt(6) << 16;
    if (size >= 6) b += byteAt(5) << 8;
    if (size >= 5) b += byteAt(4);
    a += data.readUInt32LE(index);
  } else {
    if (size >= 3) a += byteAt(2) << 16;
    if (size >= 2) a += byteAt(1) << 8;
    a += byteAt(0);
  }
  c ^= b;
  c -= (b << 14) | (b >>> 18);
  a ^= c;
  a -= (c << 11) | (c >>> 21);
  b ^= a;
  b -= (a << 25) | (a >>> 7);
  c ^= b;
  c -= (b << 16) | (b >>> 16);
  a ^= c;
  a -= (c << 4) | (c >>> 28);
  b ^= a;
  b -= (a << 14) | (a >>> 18);
  c ^= b;
  c -= (b << 24) | (b >>> 8);
  return { b: b >>> 0, c: c >>> 0 };
}

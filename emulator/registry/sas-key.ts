import { randomBytes } from 'node:crypto';

/** 32 random bytes, base64: what IoT Hub generates for an empty SAS key. */
export function generateSasKey(): string {
  return randomBytes(32).toString('base64');
}

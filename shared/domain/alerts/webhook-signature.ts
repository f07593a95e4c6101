/**
 * The webhook's body signature: HMAC-SHA256 over the exact bytes sent, keyed with ALERT_WEBHOOK_SECRET, as
 * `sha256=<lower-case hex>` in the X-TwinGuard-Signature header (the scheme GitHub webhooks use). Receivers recompute it
 * over the raw body and compare in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-twinguard-signature';

export function signBody(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function verifySignature(body: string | Buffer, secret: string, signature: string | undefined): boolean {
  if (signature === undefined) return false;
  const expected = Buffer.from(signBody(body, secret));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

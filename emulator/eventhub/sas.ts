/**
 * Verification of the Shared Access Signature tokens clients put on `$cbs`
 * (`SharedAccessSignature sr=<url-encoded audience>&sig=<base64 HMAC>&se=<epoch s>&skn=<key name>`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SasVerdict = { ok: true; audience: string; expiresAtMs: number } | { ok: false; reason: string };

/**
 * Checks a token against one named key: the key name must match, the expiry must lie in the future,
 * and the signature must be HMAC-SHA256(key, encodeURIComponent(audience) + "\n" + expiry).
 * @param nowMs - injectable clock for tests.
 */
export function verifySasToken(token: string, keyName: string, key: string, nowMs: number = Date.now()): SasVerdict {
  const prefix = 'SharedAccessSignature ';
  if (!token.startsWith(prefix)) return { ok: false, reason: 'not a SharedAccessSignature token' };
  const fields = new URLSearchParams(token.slice(prefix.length));
  const audience = fields.get('sr');
  const signature = fields.get('sig');
  const expiry = fields.get('se');
  if (audience === null || signature === null || expiry === null) return { ok: false, reason: 'token lacks sr, sig or se' };
  if (fields.get('skn') !== keyName) return { ok: false, reason: `unknown key name '${fields.get('skn') ?? ''}'` };
  const expiresAtMs = Number(expiry) * 1000;
  if (!Number.isFinite(expiresAtMs) || expiresAtMs <= nowMs) return { ok: false, reason: 'token expired' };
  const expected = createHmac('sha256', key)
    .update(`${encodeURIComponent(audience)}\n${expiry}`)
    .digest();
  const presented = Buffer.from(signature, 'base64');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return { ok: false, reason: 'signature mismatch' };
  return { ok: true, audience, expiresAtMs };
}

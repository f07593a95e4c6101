/** Service-side authorization of registry REST calls: a shared access signature of one of the hub's policies. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { HubError } from '../registry/hub-error';
import { decodeSegment } from './route';
import type { Permission, SharedAccessPolicy } from './shared-access-policy';

export interface ServiceAuthorizationOptions {
  /** `<hub>.azure-devices.net`: SAS tokens must be scoped to it. */
  hostName: string;
  policies: readonly SharedAccessPolicy[];
  /** Accept `Authorization: Bearer …` without validation (the emulator cannot validate Entra ID tokens). */
  acceptBearerTokens: boolean;
}

/**
 * Verifies `SharedAccessSignature sr=&sig=&se=&skn=` against the hub's policies and the route's rights.
 * @returns the policy's name ('bearer' for an accepted bearer token).
 * @throws HubError 401 IotHubUnauthorizedAccess naming why.
 */
export function authorizeServiceRequest(
  authorization: string | undefined,
  needed: readonly Permission[],
  options: ServiceAuthorizationOptions,
): string {
  const deny = (why: string): never => {
    throw new HubError(401, 'IotHubUnauthorizedAccess', `Unauthorized: ${why}`);
  };
  if (!authorization) return deny('the Authorization header is missing');
  if (/^Bearer\s+\S+/i.test(authorization)) {
    if (!options.acceptBearerTokens) deny('bearer tokens are not accepted by this emulator');
    return 'bearer';
  }
  const match = /^SharedAccessSignature\s+(.+)$/i.exec(authorization);
  if (!match) return deny('the Authorization header is not a SharedAccessSignature');
  const fields = new Map<string, string>();
  for (const part of match[1]?.split('&') ?? []) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (!sr || !sig || !se || !skn) return deny('the token needs sr, sig, se and skn');
  const resource = decodeSegment(sr).toLowerCase();
  const host = options.hostName.toLowerCase();
  if (resource !== host && !resource.startsWith(`${host}/`)) deny(`the token is scoped to '${resource}', not to this hub`);
  const expiry = Number(se);
  if (!Number.isFinite(expiry) || expiry * 1000 < Date.now()) deny('the token has expired');
  const keyName = decodeSegment(skn);
  const policy = options.policies.find((p) => p.keyName === keyName);
  if (!policy) return deny(`no shared access policy named '${keyName}'`);
  const presented = Buffer.from(decodeSegment(sig), 'base64');
  // Different SDKs sign the resource as it appears in the token or URL-encoded; accept either form.
  const candidates = new Set([sr, encodeURIComponent(decodeSegment(sr))]);
  let valid = false;
  for (const key of [policy.primaryKey, policy.secondaryKey]) {
    for (const resourceForm of candidates) {
      const expected = createHmac('sha256', Buffer.from(key, 'base64')).update(`${resourceForm}\n${se}`).digest();
      if (expected.length === presented.length && timingSafeEqual(expected, presented)) valid = true;
    }
  }
  if (!valid) deny('the signature does not match');
  const rights = new Set(policy.rights);
  if (!needed.some((permission) => rights.has(permission))) deny(`policy '${policy.keyName}' lacks ${needed.join(' or ')}`);
  return policy.keyName;
}

/**
 * Who called an HTTP function, for the mitigation audit. Azure Functions authenticates a key as a claim
 * `http://schemas.microsoft.com/2017/07/functions/claims/keyid` (Azure/azure-functions-host SecurityConstants,
 * AuthLevelKeyNameClaimType), but the Node.js v4 library passes a worker no claims identities (only App Service
 * authentication's x-ms-client-principal headers, as `request.user`). So: the signed-in user when App Service
 * authentication is on; in the standalone host the key's name, which the host itself sets in KEY_NAME_HEADER after
 * checking the key (a client's copy of that header is dropped there, and never trusted under Azure Functions);
 * otherwise a fingerprint of the key used, which tells keys apart without revealing any.
 */
import { createHash } from 'node:crypto';
import type { HttpRequest } from '@azure/functions';

export const KEY_NAME_HEADER = 'x-twinguard-key-name';

/** The name the standalone host gives STANDALONE_FUNCTION_KEY, as Azure names a function's first key. */
export const STANDALONE_KEY_NAME = 'default';

export function callerOf(request: HttpRequest, trustKeyNameHeader: boolean): string {
  const user = request.user;
  if (user) return `user:${user.identityProvider}:${user.username}`;
  const keyName = trustKeyNameHeader ? request.headers.get(KEY_NAME_HEADER) : null;
  if (keyName) return `key:${keyName}`;
  const key = request.headers.get('x-functions-key') ?? request.query.get('code');
  if (key) return `key-sha256:${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
  return 'anonymous';
}

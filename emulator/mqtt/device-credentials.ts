/**
 * Who an MQTT CONNECT claims to be, and whether its password proves it: the checks IoT Hub makes before CONNACK.
 *
 * What a device sends (iot-mqtt-connect-to-iot-hub.md, "Using the MQTT protocol directly"; azure-iot-device-mqtt 1.16.4
 * dist/mqtt.js `_getBaseTransportConfig`):
 * - client id `{deviceId}` or `{deviceId}/{moduleId}`;
 * - username `{hub host}/{deviceId}[/{moduleId}]/?api-version=…[&DeviceClientType=…]`;
 * - password `SharedAccessSignature sr={URL-encoded host/devices/{id}[/modules/{m}]}&sig=…&se=…[&skn=…]`, signed as
 *   HMAC-SHA256(key, sr-as-written + "\n" + se) (azure-iot-common dist/shared_access_signature.js `create`,
 *   azure-iot-device dist/shared_access_signature.js). A token with `skn` is signed with a hub policy that grants
 *   DeviceConnect (the "device" policy), scoped to the hub or to the device.
 *
 * Refusals: IoT Hub answers CONNACK 5 "not authorized" for a bad or expired token, an unknown identity and a disabled
 * device (reports from the real hub: Azure/azure-iot-sdk-c#373 "Connection Not Accepted: 0x5: Not Authorized" for a
 * disabled device, Azure/azure-iot-sdk-node#29, MicrosoftDocs/azure-docs#38897 for bad tokens). The emulator uses 5 for
 * every identity problem and 2 (identifier rejected) only for a client id that cannot name an identity at all.
 * X.509 (no password, client certificate) is not emulated: such a CONNECT is refused with 5.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SharedAccessPolicy } from '../http/shared-access-policy';
import type { HubRegistry } from '../registry/hub-registry';

/** MQTT 3.1.1 CONNACK return codes (OASIS MQTT 3.1.1, 3.2.2.3). */
export const CONNACK = {
  accepted: 0,
  unacceptableProtocolVersion: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const;

export interface DeviceIdentity {
  readonly deviceId: string;
  readonly moduleId?: string;
}

export interface ConnectCredentials {
  clientId: string;
  username?: string;
  password?: Buffer;
}

export type CredentialVerdict =
  | { ok: true; identity: DeviceIdentity; generationId: string; expiresAtMs: number; authType: 'sas' }
  | { ok: false; returnCode: number; reason: string };

export interface CredentialCheckOptions {
  /** `<hub>.azure-devices.net`. */
  hostName: string;
  registry: HubRegistry;
  /** Hub policies: a token with `skn` must name one that grants DeviceConnect. */
  policies: readonly SharedAccessPolicy[];
  nowMs: number;
}

/** The identity a client id names: `{deviceId}` or `{deviceId}/{moduleId}` (device ids cannot contain `/`). */
export function identityOfClientId(clientId: string): DeviceIdentity | undefined {
  const slash = clientId.indexOf('/');
  if (slash < 0) return clientId === '' ? undefined : { deviceId: clientId };
  const deviceId = clientId.slice(0, slash);
  const moduleId = clientId.slice(slash + 1);
  if (deviceId === '' || moduleId === '' || moduleId.includes('/')) return undefined;
  return { deviceId, moduleId };
}

/** Decides the CONNACK for a CONNECT. Never throws. */
export function checkCredentials(connect: ConnectCredentials, options: CredentialCheckOptions): CredentialVerdict {
  const refuse = (returnCode: number, reason: string): CredentialVerdict => ({ ok: false, returnCode, reason });
  const identity = identityOfClientId(connect.clientId);
  if (!identity) return refuse(CONNACK.identifierRejected, `client id '${connect.clientId}' is not {deviceId} or {deviceId}/{moduleId}`);
  const path = identity.moduleId === undefined ? identity.deviceId : `${identity.deviceId}/${identity.moduleId}`;
  const username = connect.username ?? '';
  const expectedPrefix = `${options.hostName}/${path}/`.toLowerCase();
  if (!username.toLowerCase().startsWith(expectedPrefix))
    return refuse(CONNACK.notAuthorized, `username must start with '${options.hostName}/${path}/'`);
  if (!connect.password || connect.password.length === 0)
    return refuse(CONNACK.notAuthorized, 'no password: X.509 client certificates are not emulated, use a SAS token');

  let generationId: string;
  let keys: { primaryKey: string; secondaryKey: string } | undefined;
  try {
    const device = options.registry.getDevice(identity.deviceId);
    if (device.status !== 'enabled') return refuse(CONNACK.notAuthorized, `device '${identity.deviceId}' is disabled`);
    generationId =
      identity.moduleId === undefined ? device.generationId : options.registry.getModule(identity.deviceId, identity.moduleId).generationId;
    keys = options.registry.keysOf(identity.deviceId, identity.moduleId);
  } catch {
    return refuse(CONNACK.notAuthorized, `identity '${path}' is not registered`);
  }

  const fields = readToken(connect.password.toString('utf8'));
  if (!fields) return refuse(CONNACK.notAuthorized, 'the password is not a SharedAccessSignature token');
  const expiry = Number(fields.se);
  if (!Number.isFinite(expiry) || expiry * 1000 <= options.nowMs) return refuse(CONNACK.notAuthorized, 'the SAS token has expired');
  const resource = safeDecode(fields.sr).toLowerCase();
  const identityResource = `${options.hostName}/devices/${identity.deviceId}${
    identity.moduleId === undefined ? '' : `/modules/${identity.moduleId}`
  }`.toLowerCase();

  let signingKeys: string[];
  if (fields.skn !== undefined) {
    const keyName = safeDecode(fields.skn);
    const policy = options.policies.find((p) => p.keyName === keyName && p.rights.includes('DeviceConnect'));
    if (!policy) return refuse(CONNACK.notAuthorized, `no shared access policy '${keyName}' with DeviceConnect`);
    if (resource !== options.hostName.toLowerCase() && resource !== identityResource)
      return refuse(CONNACK.notAuthorized, `the token is scoped to '${resource}', not to this hub or identity`);
    signingKeys = [policy.primaryKey, policy.secondaryKey];
  } else {
    if (resource !== identityResource)
      return refuse(CONNACK.notAuthorized, `the token is scoped to '${resource}', not to '${identityResource}'`);
    if (!keys) return refuse(CONNACK.notAuthorized, `identity '${path}' does not use symmetric keys (X.509 is not emulated)`);
    signingKeys = [keys.primaryKey, keys.secondaryKey];
  }
  if (!signatureMatches(fields, signingKeys)) return refuse(CONNACK.notAuthorized, 'the SAS token signature does not match the key');
  return { ok: true, identity, generationId, expiresAtMs: expiry * 1000, authType: 'sas' };
}

interface TokenFields {
  sr: string;
  sig: string;
  se: string;
  skn?: string;
}

function readToken(token: string): TokenFields | undefined {
  const match = /^SharedAccessSignature\s+(.+)$/.exec(token.trim());
  if (!match) return undefined;
  const fields = new Map<string, string>();
  for (const part of (match[1] ?? '').split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  if (!sr || !sig || !se) return undefined;
  return { sr, sig, se, skn: fields.get('skn') };
}

function signatureMatches(fields: TokenFields, keys: readonly string[]): boolean {
  const presented = Buffer.from(safeDecode(fields.sig), 'base64');
  // SDKs sign the resource as written in the token; some write it lower-cased or strictly encoded. Accept those forms.
  const decoded = safeDecode(fields.sr);
  const forms = new Set([fields.sr, encodeURIComponent(decoded), encodeStrict(decoded)]);
  for (const key of keys) {
    for (const form of forms) {
      const expected = createHmac('sha256', Buffer.from(key, 'base64')).update(`${form}\n${fields.se}`).digest();
      if (expected.length === presented.length && timingSafeEqual(expected, presented)) return true;
    }
  }
  return false;
}

function encodeStrict(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

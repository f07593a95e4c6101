/**
 * How a simulated agent becomes an `azure-iot-device` `ModuleClient` with its module's own identity, over the
 * emulator's MQTT port (local-device-transport.ts).
 *
 * - A module with symmetric keys (`sas`, what TwinGuard creates for SAS and keyless devices) connects with its
 *   connection string `HostName=…;DeviceId=…;ModuleId=…;SharedAccessKey=…`, the way the micro agent's
 *   `connection_string.txt` configures it; the SDK's SharedAccessKeyAuthenticationProvider signs and renews the token.
 * - A module authenticated by X.509 (`certificateAuthority` for a CA device's module, `selfSigned`) has no key, and the
 *   emulator does not emulate client certificates. Its agent connects with a SAS token signed by the hub's `device`
 *   policy (`skn=device`, DeviceConnect) and scoped to the module: the hub-level policy grants "access to
 *   device-facing endpoints", and a token service signs device-scoped tokens with such a policy and its key name
 *   ("Control access to IoT Hub by using shared access signatures", learn.microsoft.com/azure/iot-hub/iot-hub-dev-guide-sas:
 *   "IoT hub-level shared access policies", "Create a token service"). The emulator's device-credentials.ts accepts it.
 *   That token is not renewed: it is valid for POLICY_TOKEN_SECONDS, after which the hub closes the connection and the
 *   agent connects again on the next desired change (security-agent-simulator.ts).
 *
 * The user agent: azure-iot-device-mqtt builds it once per transport (dist/mqtt.js `_ensureAgentString` →
 * azure-iot-device `getUserAgentString` → azure-iot-common `getAgentPlatformString` → `getos`, which on Debian runs
 * `lsb_release -a` in a shell, getos logic/debian.js). A fleet of agents would start one shell per connection, so the
 * SDK's own string is computed once per process and given to each agent's transport: what goes on the wire is the
 * same `DeviceClientType` the SDK would send.
 */
import { createHmac } from 'node:crypto';
import { getUserAgentString, ModuleClient } from 'azure-iot-device';
import type { DeviceTransportConstructor } from '../mqtt/local-device-transport';

/** The hub policy an X.509 module's agent signs with (only its name and a key are needed). */
export interface DevicePolicy {
  keyName: string;
  primaryKey: string;
}

export interface AgentConnection {
  /** `<hub>.azure-devices.net`. */
  hostName: string;
  /** The transport class bound to the emulator's MQTT port (read when an agent connects: the port is known after start). */
  transport(): DeviceTransportConstructor;
  /** The module's symmetric keys, or undefined for an X.509 module. */
  keysOf(deviceId: string, moduleId: string): { primaryKey: string } | undefined;
  /** A policy granting DeviceConnect, for modules without keys; without one such agents cannot connect. */
  devicePolicy?: DevicePolicy;
  /** Whether some client holds the identity's connection now (the endpoint's view). */
  isConnected?(deviceId: string, moduleId: string): boolean;
}

export const POLICY_TOKEN_SECONDS = 7 * 24 * 3600;

/** A new (not yet opened) ModuleClient for the module, or undefined when it has no credential the emulator accepts. */
export async function createAgentClient(
  connection: AgentConnection,
  deviceId: string,
  moduleId: string,
  nowMs: number,
): Promise<ModuleClient | undefined> {
  const transport = withUserAgent(connection.transport(), await sdkUserAgent());
  const keys = connection.keysOf(deviceId, moduleId);
  if (keys) {
    const connectionString = `HostName=${connection.hostName};DeviceId=${deviceId};ModuleId=${moduleId};SharedAccessKey=${keys.primaryKey}`;
    return ModuleClient.fromConnectionString(connectionString, transport);
  }
  if (!connection.devicePolicy) return undefined;
  const expiry = Math.floor(nowMs / 1000) + POLICY_TOKEN_SECONDS;
  return ModuleClient.fromSharedAccessSignature(policyToken(connection, deviceId, moduleId, connection.devicePolicy, expiry), transport);
}

let userAgent: Promise<string> | undefined;

function sdkUserAgent(): Promise<string> {
  userAgent ??= getUserAgentString();
  return userAgent;
}

const withAgent = new WeakMap<DeviceTransportConstructor, { agent: string; transport: DeviceTransportConstructor }>();

/** The transport class with the user agent preset (the field `_ensureAgentString` fills when it is empty). */
function withUserAgent(base: DeviceTransportConstructor, agent: string): DeviceTransportConstructor {
  const known = withAgent.get(base);
  if (known?.agent === agent) return known.transport;
  const transport = class AgentTransport extends base {
    constructor(...args: ConstructorParameters<DeviceTransportConstructor>) {
      super(...args);
      (this as unknown as { _userAgentString?: string })._userAgentString = agent;
    }
  };
  withAgent.set(base, { agent, transport });
  return transport;
}

/**
 * `SharedAccessSignature sr=…&sig=…&se=…&skn=…` for `{host}/devices/{d}/modules/{m}`: HMAC-SHA256 over the encoded
 * resource and the expiry, with the base64-decoded key (azure-iot-common dist/shared_access_signature.js `create`).
 */
function policyToken(connection: AgentConnection, deviceId: string, moduleId: string, policy: DevicePolicy, expiry: number): string {
  const resource = encodeURIComponent(`${connection.hostName}/devices/${deviceId}/modules/${moduleId}`);
  const signature = createHmac('sha256', Buffer.from(policy.primaryKey, 'base64')).update(`${resource}\n${expiry}`).digest('base64');
  return `SharedAccessSignature sr=${resource}&sig=${encodeURIComponent(signature)}&se=${expiry}&skn=${encodeURIComponent(policy.keyName)}`;
}

/**
 * The one environment variable that configures the preload (emulator/connect.ts): where the emulator listens, which
 * host names it stands in for, and the certificate its TLS listeners present. The emulator CLI prints it ready to
 * copy; `IotHubEmulator.connectSetting` gives it in-process. Written like an Azure connection string so it can be
 * pasted into a shell or an env file as one line:
 *
 *   IOTHUB_EMULATOR_CONNECT=IotHub=twinguard-emulator.azure-devices.net;EventHub=iothub-ns-….servicebus.windows.net;
 *     Address=127.0.0.1;Https=41023;Mqtts=41024;Amqps=41025;HubAmqps=41026;Ca=<base64 DER certificate>
 *
 * The certificate is public (the key stays in the emulator process), so the value holds no secret.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

export const CONNECT_SETTING_NAME = 'IOTHUB_EMULATOR_CONNECT';

export interface ConnectSetting {
  /** `{hub}.azure-devices.net`: HTTPS (443) and MQTTS (8883) go to the emulator. */
  readonly iotHubHostName: string;
  /** The Event Hub-compatible endpoint's host (`….servicebus.windows.net`): AMQPS (5671) goes to the emulator. */
  readonly eventHubHostName: string;
  /** IP address or name the emulator's listeners are reached at. */
  readonly address: string;
  readonly httpsPort: number;
  readonly mqttsPort: number;
  readonly amqpsPort: number;
  /** AMQP over TLS for the IoT Hub host: a listener that refuses every connection as not emulated, naming why. */
  readonly hubAmqpsPort: number;
  /** PEM certificate the emulator presents; the routed connections trust it (and only them). */
  readonly ca: string;
}

/** IOTHUB_EMULATOR_CONNECT is missing or malformed; the message lists every problem and says where the value comes from. */
export class ConnectSettingError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `${CONNECT_SETTING_NAME} ${problems.join('; ')}. Start the emulator (npm run emulator) and copy the ${CONNECT_SETTING_NAME}=… line it prints.`,
    );
    this.name = 'ConnectSettingError';
  }
}

const KEYS = ['IotHub', 'EventHub', 'Address', 'Https', 'Mqtts', 'Amqps', 'HubAmqps', 'Ca'] as const;
type Key = (typeof KEYS)[number];

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** The variable's value for `setting`. */
export function formatConnectSetting(setting: ConnectSetting): string {
  const der = new X509Certificate(setting.ca).raw.toString('base64');
  const values: Record<Key, string> = {
    IotHub: setting.iotHubHostName,
    EventHub: setting.eventHubHostName,
    Address: setting.address,
    Https: String(setting.httpsPort),
    Mqtts: String(setting.mqttsPort),
    Amqps: String(setting.amqpsPort),
    HubAmqps: String(setting.hubAmqpsPort),
    Ca: der,
  };
  return KEYS.map((key) => `${key}=${values[key]}`).join(';');
}

/**
 * Reads the variable's value. @throws ConnectSettingError listing every missing, unknown or invalid part (all of
 * them at once, so one round of fixing is enough).
 */
export function parseConnectSetting(value: string | undefined): ConnectSetting {
  if (value === undefined || value.trim() === '') throw new ConnectSettingError(['is not set']);
  const problems: string[] = [];
  const parts = new Map<string, string>();
  for (const part of value.trim().split(';')) {
    if (part.trim() === '') continue;
    const separator = part.indexOf('=');
    const key = separator < 0 ? part.trim() : part.slice(0, separator).trim();
    if (!(KEYS as readonly string[]).includes(key)) {
      problems.push(`has an unknown part '${key}' (expected ${KEYS.join(', ')})`);
      continue;
    }
    if (parts.has(key)) problems.push(`names ${key} twice`);
    parts.set(key, separator < 0 ? '' : part.slice(separator + 1).trim());
  }
  const text = (key: Key): string => {
    const found = parts.get(key);
    if (found === undefined || found === '') problems.push(`lacks ${key}=`);
    return found ?? '';
  };
  const hostName = (key: Key): string => {
    const name = text(key).toLowerCase();
    if (name !== '' && !HOST_NAME.test(name)) problems.push(`${key} '${name}' is not a host name`);
    return name;
  };
  const port = (key: Key): number => {
    const raw = text(key);
    const parsed = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
    if (raw !== '' && !(parsed >= 1 && parsed <= 65535)) problems.push(`${key} '${raw}' is not a port (1–65535)`);
    return parsed;
  };
  const iotHubHostName = hostName('IotHub');
  const eventHubHostName = hostName('EventHub');
  const address = text('Address');
  if (address !== '' && isIP(address) === 0 && !HOST_NAME.test(address))
    problems.push(`Address '${address}' is neither an IP address nor a host name`);
  const httpsPort = port('Https');
  const mqttsPort = port('Mqtts');
  const amqpsPort = port('Amqps');
  const hubAmqpsPort = port('HubAmqps');
  const ca = certificate(text('Ca'), [iotHubHostName, eventHubHostName], problems);
  if (problems.length > 0) throw new ConnectSettingError(problems);
  return { iotHubHostName, eventHubHostName, address, httpsPort, mqttsPort, amqpsPort, hubAmqpsPort, ca };
}

/** The PEM form of a base64 DER certificate that covers `hostNames`, or '' with a problem recorded. */
function certificate(base64: string, hostNames: readonly string[], problems: string[]): string {
  if (base64 === '') return '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) {
    problems.push('Ca is not base64');
    return '';
  }
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(Buffer.from(base64, 'base64'));
  } catch {
    problems.push('Ca is not an X.509 certificate');
    return '';
  }
  for (const name of hostNames) {
    if (name !== '' && parsed.checkHost(name) === undefined) problems.push(`Ca does not cover ${name}`);
  }
  if (Date.parse(parsed.validTo) <= Date.now()) problems.push(`Ca expired at ${parsed.validTo} (restart the emulator for a new one)`);
  return parsed.toString();
}

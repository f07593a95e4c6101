/**
 * Preload that lets an unchanged script using azure-iothub, azure-iot-device(-mqtt) or @azure/event-hubs, with the
 * connection strings of the emulated hub (`HostName={hub}.azure-devices.net`, `Endpoint=sb://….servicebus.windows.net/`),
 * reach the IoT Hub emulator:
 *
 *   IOTHUB_EMULATOR_CONNECT='…' node -r ./dist/emulator/connect.js my-script.js
 *   IOTHUB_EMULATOR_CONNECT='…' NODE_OPTIONS="--require $PWD/dist/emulator/connect.js" npm run my-script
 *
 * The hook is `tls.connect`, the one call all three SDKs end in: azure-iothub's `https.request` goes through
 * `https.Agent.createConnection` (node lib/https.js), MQTT.js calls `tls.connect(opts)` (mqtt lib/connect/tls.js) and
 * rhea picks `tls.connect` for `transport: 'tls'` (rhea lib/connection.js `get_connect_fn`), all reading the property
 * at call time. A DNS-level hook (`dns.lookup`) could not change the ports (443, 8883, 5671 are fixed in the SDKs, and
 * the emulator listens on free ports), so the connection itself is redirected: the socket goes to the emulator's TLS
 * listener, while `servername` (SNI and certificate check), the HTTP `Host`, the MQTT user name and every SAS audience
 * keep the real host name. Only the redirected connections trust the emulator's certificate (their `ca`); nothing
 * else changes, verification stays on, and every other host passes through untouched. `net.connect` is checked too,
 * so plain TCP to an Azure IoT host fails as not emulated instead of hanging on DNS.
 *
 * Connections the emulator does not serve (see emulator/connect/route-decision.ts) fail at once with a
 * NotEmulatedError naming what is missing. The setting is read once, here, and a missing or invalid value stops the
 * process with a message saying where to get it.
 */
import nodeModule from 'node:module';
import net from 'node:net';
import tls from 'node:tls';
import { CONNECT_SETTING_NAME, ConnectSettingError, parseConnectSetting, type ConnectSetting } from './connect/connect-setting';
import { NotEmulatedError } from './connect/not-emulated-error';
import { decidePlainConnection, decideTlsConnection, type RouteDecision } from './connect/route-decision';

type ConnectOptions = Record<string, unknown>;
type Callback = (...args: unknown[]) => void;
type ConnectFunction = (...args: unknown[]) => net.Socket;

/** Set once per process, so loading the preload twice (`-r` and NODE_OPTIONS) patches once. */
const INSTALLED = Symbol.for('twinguard.emulator.connect');

/** `connect(options[, cb])` or `connect(port[, host][, options][, cb])`; undefined for an IPC path (nothing to route). */
function connectCall(args: readonly unknown[]): { options: ConnectOptions; callback: Callback | undefined } | undefined {
  const [first, second] = args;
  const callbackIn = (rest: readonly unknown[]): Callback | undefined => rest.find((arg): arg is Callback => typeof arg === 'function');
  if (typeof first === 'object' && first !== null) return { options: first as ConnectOptions, callback: callbackIn(args.slice(1)) };
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    const host = typeof second === 'string' ? second : undefined;
    const rest = args.slice(host === undefined ? 1 : 2);
    const options = rest.find((arg): arg is ConnectOptions => typeof arg === 'object' && arg !== null) ?? {};
    return { options: { ...options, port: Number(first), ...(host === undefined ? {} : { host }) }, callback: callbackIn(rest) };
  }
  return undefined;
}

/** The subprotocol of a WebSocket upgrade whose request options reached the connect call (ws, MQTT.js over `ws`). */
function webSocketProtocolOf(options: ConnectOptions): string | undefined {
  const headers = options['headers'];
  if (typeof headers !== 'object' || headers === null) return undefined;
  const entries = Object.entries(headers as Record<string, unknown>).map(([name, value]) => [name.toLowerCase(), String(value)] as const);
  const header = (name: string): string | undefined => entries.find(([key]) => key === name)?.[1];
  if (header('upgrade')?.toLowerCase() !== 'websocket') return undefined;
  return header('sec-websocket-protocol') ?? 'no subprotocol';
}

/** A lookup that fails with `error`, so the socket errors asynchronously as a failed connect does, before any I/O. */
function failingLookup(error: Error): (host: string, options: unknown, callback: (error: Error) => void) => void {
  return (_host, _options, callback) => callback(error);
}

function withCa(existing: unknown, ca: string): unknown[] {
  if (existing === undefined || existing === null) return [ca];
  return [...(Array.isArray(existing) ? (existing as unknown[]) : [existing]), ca];
}

const noticesGiven = new Set<string>();

/** Says on stderr, once per reason, why a connection is refused: some SDKs report only a generic error. */
function notice(message: string): void {
  if (noticesGiven.has(message)) return;
  noticesGiven.add(message);
  process.stderr.write(`emulator/connect.js: ${message}\n`);
}

function install(setting: ConnectSetting): void {
  const originalTlsConnect = tls.connect as unknown as ConnectFunction;
  const originalNetConnect = net.connect as unknown as ConnectFunction;

  const target = (options: ConnectOptions): { host: string; port: number } => ({
    host: typeof options['host'] === 'string' ? options['host'] : 'localhost',
    port: Number(options['port']),
  });

  const apply = (
    original: ConnectFunction,
    owner: object,
    args: unknown[],
    decide: (options: ConnectOptions) => RouteDecision,
  ): net.Socket => {
    const call = connectCall(args);
    // A connection over a socket the caller already opened (a proxy tunnel) is the caller's to route.
    if (call === undefined || call.options['socket'] !== undefined) return original.apply(owner, args);
    const { options, callback } = call;
    const decision = decide(options);
    if (decision.kind === 'pass') return original.apply(owner, args);
    const rest = callback === undefined ? [] : [callback];
    if (decision.kind === 'refuse') {
      notice(decision.message);
      return original.call(owner, { ...options, lookup: failingLookup(new NotEmulatedError(decision.message)) }, ...rest);
    }
    if (decision.notice !== undefined) notice(decision.notice);
    return original.call(
      owner,
      { ...options, host: decision.address, port: decision.port, servername: decision.servername, ca: withCa(options['ca'], setting.ca) },
      ...rest,
    );
  };

  const routedTlsConnect = function connect(...args: unknown[]): net.Socket {
    return apply(originalTlsConnect, tls, args, (options) =>
      decideTlsConnection(setting, { ...target(options), webSocketProtocol: webSocketProtocolOf(options) }),
    );
  };
  const checkedNetConnect = function connect(...args: unknown[]): net.Socket {
    return apply(originalNetConnect, net, args, (options) => decidePlainConnection(setting, target(options)));
  };
  const mutableTls = tls as unknown as { connect: ConnectFunction };
  const mutableNet = net as unknown as { connect: ConnectFunction; createConnection: ConnectFunction };
  mutableTls.connect = routedTlsConnect;
  mutableNet.connect = checkedNetConnect;
  mutableNet.createConnection = checkedNetConnect;
  // ES module scripts importing { connect } from 'node:tls' see the patched functions too.
  nodeModule.syncBuiltinESMExports();
}

const registry = globalThis as unknown as Record<symbol, true | undefined>;
if (registry[INSTALLED] !== true) {
  let setting: ConnectSetting;
  try {
    setting = parseConnectSetting(process.env[CONNECT_SETTING_NAME]);
  } catch (error) {
    if (!(error instanceof ConnectSettingError)) throw error;
    process.stderr.write(`emulator/connect.js: ${error.message}\n`);
    process.exit(2);
  }
  install(setting);
  registry[INSTALLED] = true;
}

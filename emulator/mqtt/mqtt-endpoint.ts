/**
 * The emulated hub's device endpoint: MQTT 3.1.1 over plain TCP (and, given a certificate, over TLS), speaking
 * IoT Hub's device and module topics as azure-iot-device-mqtt 1.16.x uses them. Devices authenticate with SAS tokens
 * signed by their registry keys; twin requests, reported patches, telemetry, direct methods and cloud-to-device
 * messages are served from the emulator's registry and built-in endpoint.
 *
 * Built on `mqtt-packet` (the MQTT codec of mqtt.js and aedes) rather than the `aedes` broker: IoT Hub is not a
 * pub/sub broker. Every device subscribes to the same filters (`$iothub/twin/res/#`, `$iothub/methods/POST/#`) and the
 * hub answers each request on the connection that asked, so a broker's topic routing would have to be defeated at every
 * step (a response published to `$iothub/twin/res/200/?$rid=1` would reach every device). With the codec, a connection
 * is a small state machine (device-session.ts) and each feature a direct call.
 *
 * Behaviour confirmed in "Communicate with an IoT hub using the MQTT protocol"
 * (MicrosoftDocs/azure-docs: articles/iot/iot-mqtt-connect-to-iot-hub.md):
 * - one active connection per identity: a new one drops the old (400027 ConnectionForcefullyClosedOnNewConnection);
 * - the hub closes the connection when the SAS token expires (troubleshoot-error-codes.md, 401003 / 404104);
 * - a publish to a topic the hub does not serve, or with QoS 2, closes the connection;
 * - desired-property updates are pushed only to connected devices that subscribed.
 */
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { IConnectPacket, IPublishPacket } from 'mqtt-packet';
import type { HubChange } from '../hub-events';
import type { SharedAccessPolicy } from '../http/shared-access-policy';
import type { TelemetryOptions } from '../notifications';
import { HubError } from '../registry/hub-error';
import type { HubRegistry } from '../registry/hub-registry';
import { CloudToDeviceQueue, type CloudToDeviceProperties, type QueuedMessage } from './cloud-to-device-queue';
import { checkCredentials, type CredentialVerdict } from './device-credentials';
import { DeviceSession, type SessionHost } from './device-session';
import {
  cloudToDeviceTopic,
  desiredUpdateTopic,
  methodRequestTopic,
  parseInboundTopic,
  twinResponseTopic,
  type SubscriptionKind,
} from './iothub-topics';
import { MethodCalls, type MethodInvocation, type MethodResult } from './method-calls';
import { telemetryOptionsOf } from './telemetry-properties';
import { answerReportedPatch, answerTwinGet, type TwinResponse } from './twin-requests';

/** Where device-to-cloud messages go: the built-in endpoint (EventHubEndpoint.injectTelemetry). */
export interface TelemetrySink {
  injectTelemetry(deviceId: string, body: string | Buffer | object, options?: TelemetryOptions): void;
}

export interface MqttEndpointOptions {
  registry: HubRegistry;
  telemetry: TelemetrySink;
  /** `<hub>.azure-devices.net`: usernames and SAS tokens are scoped to it. */
  hostName: string;
  /** Hub policies: tokens with `skn` must name one with DeviceConnect. */
  policies: readonly SharedAccessPolicy[];
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Plain MQTT port; 0 (default) lets the OS choose. */
  port?: number;
  /** Also listen for MQTT over TLS (what `mqtts://host:8883` clients need), with this certificate. */
  tls?: { key: string | Buffer; cert: string | Buffer; port?: number };
  /** Least interval between two `lastActivityTime` writes of one connection (default 1000 ms). */
  activityIntervalMs?: number;
}

const SWEEP_INTERVAL_MS = 5_000;

export class MqttEndpoint implements SessionHost {
  /** Counters since start. */
  readonly stats = { accepted: 0, refused: 0, dropped: 0, telemetry: 0, twinRequests: 0, desiredPushes: 0, methodCalls: 0 };

  private readonly sessions = new Map<string, DeviceSession>();
  private readonly open = new Set<DeviceSession>();
  private readonly methods = new MethodCalls();
  private readonly cloudToDevice = new CloudToDeviceQueue();
  private readonly methodWaiters = new Map<string, Set<(session: DeviceSession) => void>>();
  private readonly activityIntervalMs: number;
  private server: Server | undefined;
  private tlsServer: TlsServer | undefined;
  private sweep: NodeJS.Timeout | undefined;
  private detachRegistry: (() => void) | undefined;
  private boundPort = 0;
  private boundTlsPort = 0;

  constructor(private readonly options: MqttEndpointOptions) {
    this.activityIntervalMs = options.activityIntervalMs ?? 1000;
  }

  /** The plain MQTT port (after start). */
  get port(): number {
    return this.boundPort;
  }

  /** The MQTT-over-TLS port (after start; 0 without the `tls` option). */
  get tlsPort(): number {
    return this.boundTlsPort;
  }

  /** Connections that completed CONNECT. */
  get connectionCount(): number {
    return this.sessions.size;
  }

  async start(): Promise<void> {
    if (this.server) throw new Error('MqttEndpoint already started');
    const host = this.options.host ?? '127.0.0.1';
    this.server = createNetServer((socket) => this.handleConnection(socket));
    this.boundPort = await listen(this.server, this.options.port ?? 0, host);
    if (this.options.tls) {
      const { key, cert, port = 0 } = this.options.tls;
      this.tlsServer = createTlsServer({ key, cert }, (socket) => this.handleConnection(socket));
      this.boundTlsPort = await listen(this.tlsServer, port, host);
    }
    this.detachRegistry = this.options.registry.onChange((change) => this.onHubChange(change));
    this.sweep = setInterval(() => this.sweepSessions(), SWEEP_INTERVAL_MS);
    this.sweep.unref();
  }

  async stop(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = undefined;
    this.detachRegistry?.();
    this.detachRegistry = undefined;
    this.methods.clear();
    for (const session of [...this.open]) session.close();
    const servers = [this.server, this.tlsServer].filter((s): s is Server | TlsServer => s !== undefined);
    this.server = undefined;
    this.tlsServer = undefined;
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  /**
   * Serves one MQTT byte stream. Public so another transport (TLS terminated elsewhere, MQTT over WebSocket) can hand
   * its decrypted stream to the same sessions.
   */
  handleConnection(socket: Duplex): void {
    // Twin and method answers are small request/response frames: Nagle would add latency to each.
    if (typeof (socket as Partial<Socket>).setNoDelay === 'function') (socket as Socket).setNoDelay(true);
    const session = new DeviceSession(socket, this);
    this.open.add(session);
    socket.once('close', () => this.open.delete(session));
  }

  /** Whether the identity has a live connection. */
  isConnected(deviceId: string, moduleId?: string): boolean {
    return this.sessions.get(clientIdOf(deviceId, moduleId))?.isAttached ?? false;
  }

  /** Whether the identity's connection subscribed to a feature's topic (the SDKs subscribe lazily). */
  isSubscribed(deviceId: string, moduleId: string | undefined, kind: SubscriptionKind): boolean {
    const session = this.sessions.get(clientIdOf(deviceId, moduleId));
    return (session?.isAttached ?? false) && (session?.subscriptions.has(kind) ?? false);
  }

  /**
   * Invokes a direct method and waits for the device's answer.
   * @throws HubError 404 DeviceNotFound/ModuleNotFound (not registered), 404 DeviceNotOnline (not connected or not
   *   subscribed to methods within the connect timeout), 504 GatewayTimeout (no answer within the response timeout).
   */
  async invokeMethod(
    deviceId: string,
    moduleId: string | undefined,
    invocation: MethodInvocation,
    signal: AbortSignal,
  ): Promise<MethodResult> {
    if (moduleId === undefined) this.options.registry.getDevice(deviceId);
    else this.options.registry.getModule(deviceId, moduleId);
    const clientId = clientIdOf(deviceId, moduleId);
    let session = this.methodSubscriber(clientId);
    if (!session && invocation.connectTimeoutInSeconds > 0)
      session = await this.waitForMethodSubscriber(clientId, invocation.connectTimeoutInSeconds * 1000, signal);
    if (!session) throw new HubError(404, 'DeviceNotOnline', 'Timed out waiting for device to connect.');
    this.stats.methodCalls++;
    const requestId = this.methods.nextRequestId();
    const answer = this.methods.await(requestId, clientId, invocation.responseTimeoutInSeconds * 1000, signal);
    session.publish(methodRequestTopic(invocation.methodName, requestId), JSON.stringify(invocation.payload));
    return answer;
  }

  /**
   * Queues a cloud-to-device message and delivers it at once if the device is connected and subscribed.
   * @returns the message id. @throws HubError 404 DeviceNotFound, 403 DeviceMaximumQueueDepthExceeded.
   */
  sendCloudToDevice(deviceId: string, body: string | Buffer, properties?: CloudToDeviceProperties): string {
    this.options.registry.getDevice(deviceId);
    const message = this.cloudToDevice.enqueue(deviceId, body, properties);
    this.deliverCloudToDevice(deviceId);
    return message.messageId;
  }

  /** Messages queued for a device and not yet acknowledged by it. */
  cloudToDeviceDepth(deviceId: string): number {
    return this.cloudToDevice.depth(deviceId);
  }

  // ---- SessionHost ------------------------------------------------------------------------------

  authenticate(connect: IConnectPacket): CredentialVerdict {
    const verdict = checkCredentials(
      { clientId: connect.clientId, username: connect.username, password: connect.password },
      { hostName: this.options.hostName, registry: this.options.registry, policies: this.options.policies, nowMs: Date.now() },
    );
    if (verdict.ok) this.stats.accepted++;
    else this.stats.refused++;
    return verdict;
  }

  attach(session: DeviceSession): void {
    const previous = this.sessions.get(session.clientId);
    if (previous && previous !== session) {
      this.stats.dropped++;
      previous.close();
    }
    this.sessions.set(session.clientId, session);
    this.setConnectionState(session, 'Connected');
  }

  detach(session: DeviceSession): void {
    if (this.sessions.get(session.clientId) !== session) return;
    this.sessions.delete(session.clientId);
    this.methods.failAll(session.clientId);
    if (session.identity?.moduleId === undefined && session.identity) this.cloudToDevice.requeueInFlight(session.identity.deviceId);
    this.setConnectionState(session, 'Disconnected');
  }

  onPublish(session: DeviceSession, packet: IPublishPacket): void {
    const identity = session.identity;
    if (!identity) return;
    this.noteActivity(session);
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : packet.payload;
    const topic = parseInboundTopic(packet.topic);
    switch (topic.kind) {
      case 'telemetry': {
        if (topic.deviceId !== identity.deviceId || topic.moduleId !== identity.moduleId) {
          session.close();
          return;
        }
        const options = telemetryOptionsOf(topic.properties, identity.moduleId, session.generationId);
        if (packet.retain && options.properties) options.properties['mqtt-retain'] = 'true';
        this.stats.telemetry++;
        this.options.telemetry.injectTelemetry(identity.deviceId, payload, options);
        return;
      }
      case 'twinGet':
        this.answerTwin(session, topic.requestId, answerTwinGet(this.options.registry, identity));
        return;
      case 'twinPatchReported':
        this.answerTwin(session, topic.requestId, answerReportedPatch(this.options.registry, identity, payload));
        return;
      case 'methodResponse':
        this.methods.answer(topic.requestId, session.clientId, topic.status, payload);
        return;
      default:
        session.close();
    }
  }

  onSubscribed(session: DeviceSession, kinds: readonly SubscriptionKind[]): void {
    if (kinds.includes('methods')) {
      const waiters = this.methodWaiters.get(session.clientId);
      this.methodWaiters.delete(session.clientId);
      for (const wake of waiters ?? []) wake(session);
    }
    if (kinds.includes('cloudToDevice') && session.identity) this.deliverCloudToDevice(session.identity.deviceId);
  }

  // ---- internals --------------------------------------------------------------------------------

  private answerTwin(session: DeviceSession, requestId: string, response: TwinResponse): void {
    this.stats.twinRequests++;
    if (!session.subscriptions.has('twinResponses')) return;
    session.publish(twinResponseTopic(response.status, requestId, response.version), response.body);
  }

  private onHubChange(change: HubChange): void {
    if (change.kind === 'twinChange') {
      const session = this.sessions.get(clientIdOf(change.deviceId, change.moduleId));
      if (!session?.subscriptions.has('desiredUpdates')) return;
      const desired = (change.body['properties'] as { desired?: Record<string, unknown> } | undefined)?.desired;
      if (!desired) return;
      const version = desired['$version'] as number;
      let patch: Record<string, unknown>;
      if (change.opType === 'replaceTwin') {
        const { $metadata: _metadata, ...rest } = desired;
        patch = rest;
      } else if (change.desiredPatch) {
        patch = { ...change.desiredPatch, $version: version };
      } else {
        return;
      }
      this.stats.desiredPushes++;
      session.publish(desiredUpdateTopic(version), JSON.stringify(patch));
      return;
    }
    if (change.kind === 'lifecycle' && change.opType === 'deleteDeviceIdentity') {
      // The hub drops the connections of a deleted identity (a deleted device takes its modules with it).
      for (const session of [...this.sessions.values()]) {
        const identity = session.identity;
        if (identity?.deviceId !== change.deviceId) continue;
        if (change.moduleId === undefined || identity.moduleId === change.moduleId) session.close();
      }
      if (change.moduleId === undefined) this.cloudToDevice.drop(change.deviceId);
    }
  }

  private deliverCloudToDevice(deviceId: string): void {
    const session = this.sessions.get(deviceId);
    if (!session?.subscriptions.has('cloudToDevice')) return;
    for (const message of this.cloudToDevice.pending(deviceId)) {
      message.inFlight = true;
      session.publish(cloudToDeviceTopic(deviceId, message.propertyBag), message.body, 1, () => this.completeCloudToDevice(message));
    }
  }

  private completeCloudToDevice(message: QueuedMessage): void {
    this.cloudToDevice.complete(message);
  }

  private methodSubscriber(clientId: string): DeviceSession | undefined {
    const session = this.sessions.get(clientId);
    return session?.isAttached && session.subscriptions.has('methods') ? session : undefined;
  }

  private waitForMethodSubscriber(clientId: string, timeoutMs: number, signal: AbortSignal): Promise<DeviceSession | undefined> {
    return new Promise((resolve) => {
      const waiters = this.methodWaiters.get(clientId) ?? new Set();
      const done = (session: DeviceSession | undefined): void => {
        clearTimeout(timer);
        waiters.delete(wake);
        signal.removeEventListener('abort', onAbort);
        resolve(session);
      };
      const wake = (session: DeviceSession): void => done(session);
      const onAbort = (): void => done(undefined);
      const timer = setTimeout(() => done(undefined), timeoutMs);
      waiters.add(wake);
      this.methodWaiters.set(clientId, waiters);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private setConnectionState(session: DeviceSession, state: 'Connected' | 'Disconnected'): void {
    const identity = session.identity;
    if (!identity) return;
    try {
      this.options.registry.setConnectionState(identity.deviceId, identity.moduleId, state);
      session.lastActivityWrittenMs = Date.now();
    } catch {
      // The identity was deleted while connected: nothing to record.
    }
  }

  private noteActivity(session: DeviceSession): void {
    const now = Date.now();
    if (now - session.lastActivityWrittenMs < this.activityIntervalMs || !session.identity) return;
    session.lastActivityWrittenMs = now;
    this.options.registry.touchActivity(session.identity.deviceId, session.identity.moduleId);
  }

  private sweepSessions(): void {
    const now = Date.now();
    for (const session of this.sessions.values()) {
      const silent = session.keepaliveMs > 0 && now - session.lastSeenMs > session.keepaliveMs;
      if (silent || now >= session.expiresAtMs) session.close();
    }
  }
}

function clientIdOf(deviceId: string, moduleId: string | undefined): string {
  return moduleId === undefined ? deviceId : `${deviceId}/${moduleId}`;
}

function listen(server: Server | TlsServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

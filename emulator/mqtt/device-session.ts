/**
 * One device's MQTT 3.1.1 connection: framing (mqtt-packet), the CONNECT/CONNACK handshake, keep-alive bookkeeping,
 * SUBSCRIBE to IoT Hub's fixed filters, QoS 1 acknowledgements both ways. What a publish means is decided by the
 * endpoint ({@link SessionHost}); this class knows MQTT, not IoT Hub features.
 *
 * IoT Hub specifics kept here (iot-mqtt-connect-to-iot-hub.md): MQTT 3.1.1 only; QoS 2 publishes close the connection;
 * QoS 2 subscriptions are granted QoS 1; RETAIN is not stored (the hub adds an `mqtt-retain` application property,
 * which the endpoint does); only the documented topic filters are accepted (others get SUBACK 0x80); the server
 * side keep-alive is 1.5 × the client's (capped at 1767 s).
 */
import type { Duplex } from 'node:stream';
import { generate, parser as createParser, type IConnectPacket, type IPublishPacket, type Packet, type QoS } from 'mqtt-packet';
import { CONNACK, type CredentialVerdict, type DeviceIdentity } from './device-credentials';
import { subscriptionKindOf, type SubscriptionKind } from './iothub-topics';

/** What the endpoint does for a session. */
export interface SessionHost {
  authenticate(connect: IConnectPacket): CredentialVerdict;
  /** CONNACK 0 was sent: the session now speaks for its identity (the host drops an older one). */
  attach(session: DeviceSession): void;
  /** The socket closed after attach. */
  detach(session: DeviceSession): void;
  /** A PUBLISH from the device; a QoS 1 publish is acknowledged once this returns. */
  onPublish(session: DeviceSession, packet: IPublishPacket): void;
  onSubscribed(session: DeviceSession, kinds: readonly SubscriptionKind[]): void;
}

const MAX_SERVER_KEEPALIVE_MS = 1767 * 1000;

export class DeviceSession {
  identity: DeviceIdentity | undefined;
  clientId = '';
  generationId = '';
  /** Token expiry: the hub closes the connection when the SAS token expires. */
  expiresAtMs = Number.POSITIVE_INFINITY;
  /** Server-side keep-alive window (0: none). */
  keepaliveMs = 0;
  lastSeenMs = Date.now();
  lastActivityWrittenMs = 0;
  readonly subscriptions = new Set<SubscriptionKind>();
  private attached = false;
  private closed = false;
  private nextMessageId = 1;
  private readonly awaitingAck = new Map<number, () => void>();
  private readonly parser = createParser({ protocolVersion: 4 });

  constructor(
    private readonly socket: Duplex,
    private readonly host: SessionHost,
  ) {
    this.parser.on('packet', (packet: Packet) => this.onPacket(packet));
    this.parser.on('error', () => this.close());
    socket.on('data', (chunk: Buffer) => {
      this.lastSeenMs = Date.now();
      this.parser.parse(chunk);
    });
    socket.on('error', () => this.close());
    socket.on('close', () => this.onClosed());
  }

  get isAttached(): boolean {
    return this.attached && !this.closed;
  }

  /** Sends a PUBLISH; with QoS 1, `onAck` runs when the device's PUBACK arrives. */
  publish(topic: string, payload: Buffer | string, qos: QoS = 0, onAck?: () => void): void {
    if (this.closed) return;
    const packet: IPublishPacket = { cmd: 'publish', topic, payload, qos, dup: false, retain: false };
    if (qos > 0) {
      packet.messageId = this.allocateMessageId();
      if (onAck) this.awaitingAck.set(packet.messageId, onAck);
    }
    this.write(packet);
  }

  /** Closes the connection (duplicate client id, expired token, keep-alive, deleted identity, stop). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.onClosed();
  }

  private onPacket(packet: Packet): void {
    if (this.closed) return;
    if (packet.cmd === 'connect') {
      this.onConnect(packet);
      return;
    }
    if (!this.attached) {
      this.close();
      return;
    }
    switch (packet.cmd) {
      case 'publish':
        if (packet.qos === 2) {
          this.close();
          return;
        }
        this.host.onPublish(this, packet);
        if (packet.qos === 1 && packet.messageId !== undefined) this.write({ cmd: 'puback', messageId: packet.messageId });
        return;
      case 'puback': {
        const id = packet.messageId ?? -1;
        const onAck = this.awaitingAck.get(id);
        this.awaitingAck.delete(id);
        onAck?.();
        return;
      }
      case 'subscribe': {
        const identity = this.identity as DeviceIdentity;
        const granted: number[] = [];
        const kinds: SubscriptionKind[] = [];
        for (const subscription of packet.subscriptions) {
          const kind = subscriptionKindOf(subscription.topic, identity.deviceId, identity.moduleId);
          if (kind === undefined) {
            granted.push(0x80);
            continue;
          }
          this.subscriptions.add(kind);
          kinds.push(kind);
          granted.push(Math.min(subscription.qos, 1));
        }
        this.write({ cmd: 'suback', messageId: packet.messageId ?? 0, granted });
        if (kinds.length > 0) this.host.onSubscribed(this, kinds);
        return;
      }
      case 'unsubscribe': {
        const identity = this.identity as DeviceIdentity;
        for (const filter of packet.unsubscriptions) {
          const kind = subscriptionKindOf(filter, identity.deviceId, identity.moduleId);
          if (kind !== undefined) this.subscriptions.delete(kind);
        }
        this.write({ cmd: 'unsuback', messageId: packet.messageId ?? 0, granted: [] });
        return;
      }
      case 'pingreq':
        this.write({ cmd: 'pingresp' });
        return;
      case 'disconnect':
        this.close();
        return;
      default:
        // pubrec/pubrel/pubcomp only exist for QoS 2, which IoT Hub does not support.
        this.close();
    }
  }

  private onConnect(packet: IConnectPacket): void {
    if (this.attached || this.identity !== undefined) {
      this.close();
      return;
    }
    if (packet.protocolVersion !== 4) {
      this.refuse(CONNACK.unacceptableProtocolVersion);
      return;
    }
    const verdict = this.host.authenticate(packet);
    if (!verdict.ok) {
      this.refuse(verdict.returnCode);
      return;
    }
    this.identity = verdict.identity;
    this.clientId = packet.clientId;
    this.generationId = verdict.generationId;
    this.expiresAtMs = verdict.expiresAtMs;
    const keepalive = packet.keepalive ?? 0;
    this.keepaliveMs = keepalive > 0 ? Math.min(keepalive * 1500, MAX_SERVER_KEEPALIVE_MS) : 0;
    this.attached = true;
    this.write({ cmd: 'connack', returnCode: CONNACK.accepted, sessionPresent: false });
    this.host.attach(this);
  }

  private refuse(returnCode: number): void {
    this.write({ cmd: 'connack', returnCode, sessionPresent: false });
    this.closed = true;
    this.socket.end();
  }

  private onClosed(): void {
    this.closed = true;
    this.awaitingAck.clear();
    if (!this.attached) return;
    this.attached = false;
    this.host.detach(this);
  }

  private allocateMessageId(): number {
    const id = this.nextMessageId;
    this.nextMessageId = id >= 65535 ? 1 : id + 1;
    return id;
  }

  private write(packet: Packet): void {
    if (this.socket.destroyed) return;
    this.socket.write(generate(packet));
  }
}

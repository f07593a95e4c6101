/**
 * A bare MQTT 3.1.1 client (mqtt-packet over a TCP socket) for what the device SDK does not show: exact CONNACK codes,
 * SUBACK grants, the connection being closed, and thousands of light connections in the bench.
 * Speaks IoT Hub's device conventions only as far as the caller asks (topics are passed in).
 */
import { createHmac } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import { generate, parser as createParser, type IConnackPacket, type IPublishPacket, type Packet } from 'mqtt-packet';

export interface RawConnectOptions {
  port: number;
  host?: string;
  clientId: string;
  username?: string;
  password?: string;
  keepalive?: number;
  protocolVersion?: 3 | 4 | 5;
}

/** `SharedAccessSignature sr=…&sig=…&se=…` for a device or module, as azure-iot-device signs it. */
export function identitySasToken(hostName: string, deviceId: string, moduleId: string | undefined, key: string, ttlSeconds = 3600): string {
  const resource = `${hostName}/devices/${deviceId}${moduleId === undefined ? '' : `/modules/${moduleId}`}`;
  const sr = encodeURIComponent(resource);
  const se = Math.floor(Date.now() / 1000) + ttlSeconds;
  const sig = createHmac('sha256', Buffer.from(key, 'base64')).update(`${sr}\n${se}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}`;
}

/** A token signed with a hub policy that grants DeviceConnect (`skn`), scoped to one device or module. */
export function policySasToken(
  hostName: string,
  deviceId: string,
  moduleId: string | undefined,
  policyName: string,
  policyKey: string,
  ttlSeconds = 3600,
): string {
  return `${identitySasToken(hostName, deviceId, moduleId, policyKey, ttlSeconds)}&skn=${encodeURIComponent(policyName)}`;
}

/** The username IoT Hub expects: `{host}/{deviceId}[/{moduleId}]/?api-version=2021-04-12`. */
export function identityUsername(hostName: string, deviceId: string, moduleId?: string): string {
  return `${hostName}/${deviceId}${moduleId === undefined ? '' : `/${moduleId}`}/?api-version=2021-04-12`;
}

export class RawMqttClient {
  readonly closed: Promise<void>;
  private readonly parser = createParser({ protocolVersion: 4 });
  private readonly waiters = new Map<number, (packet: Packet) => void>();
  private readonly publishListeners = new Set<(packet: IPublishPacket) => void>();
  private nextId = 1;
  private connackWaiter: ((packet: IConnackPacket) => void) | undefined;

  private constructor(private readonly socket: Socket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.parser.parse(chunk));
    socket.on('error', () => undefined);
    this.parser.on('packet', (packet: Packet) => this.onPacket(packet));
  }

  /** Connects and resolves with the CONNACK (whatever its return code). */
  static async connect(options: RawConnectOptions): Promise<{ client: RawMqttClient; connack: IConnackPacket }> {
    const socket = connectTcp({ host: options.host ?? '127.0.0.1', port: options.port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawMqttClient(socket);
    const connack = new Promise<IConnackPacket>((resolve) => (client.connackWaiter = resolve));
    client.write({
      cmd: 'connect',
      protocolId: options.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: options.protocolVersion ?? 4,
      clientId: options.clientId,
      clean: false,
      keepalive: options.keepalive ?? 180,
      username: options.username,
      password: options.password === undefined ? undefined : Buffer.from(options.password, 'utf8'),
    });
    return { client, connack: await connack };
  }

  get isOpen(): boolean {
    return !this.socket.destroyed;
  }

  /** Subscribes and resolves with the SUBACK's granted QoS list (0x80 = refused). */
  async subscribe(filters: readonly string[], qos: 0 | 1 | 2 = 0): Promise<number[]> {
    const messageId = this.allocateId();
    const answer = this.waitForAck(messageId);
    this.write({ cmd: 'subscribe', messageId, subscriptions: filters.map((topic) => ({ topic, qos })) });
    const packet = await answer;
    return packet.cmd === 'suback' ? packet.granted.map(Number) : [];
  }

  /** Publishes; with QoS 1 resolves on PUBACK. */
  async publish(topic: string, payload: string | Buffer, qos: 0 | 1 | 2 = 0): Promise<void> {
    if (qos === 0) {
      this.write({ cmd: 'publish', topic, payload, qos: 0, dup: false, retain: false });
      return;
    }
    const messageId = this.allocateId();
    const answer = this.waitForAck(messageId);
    this.write({ cmd: 'publish', topic, payload, qos, messageId, dup: false, retain: false });
    await answer;
  }

  /** Calls `listener` for every PUBLISH from the hub; returns the function that removes it. */
  onPublish(listener: (packet: IPublishPacket) => void): () => void {
    this.publishListeners.add(listener);
    return () => this.publishListeners.delete(listener);
  }

  /** The next PUBLISH whose topic `matches`, or a rejection after `timeoutMs`. */
  nextPublish(matches: (topic: string) => boolean, timeoutMs = 5000): Promise<IPublishPacket> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        remove();
        reject(new Error('no matching PUBLISH'));
      }, timeoutMs);
      const remove = this.onPublish((packet) => {
        if (!matches(packet.topic)) return;
        clearTimeout(timer);
        remove();
        resolve(packet);
      });
    });
  }

  /** Sends DISCONNECT and closes the socket. */
  async end(): Promise<void> {
    if (!this.socket.destroyed) {
      this.write({ cmd: 'disconnect' });
      this.socket.end();
    }
    await this.closed;
  }

  /** Drops the socket without DISCONNECT (a crashed device). */
  destroy(): void {
    this.socket.destroy();
  }

  private onPacket(packet: Packet): void {
    if (packet.cmd === 'connack') {
      this.connackWaiter?.(packet);
      this.connackWaiter = undefined;
      return;
    }
    if (packet.cmd === 'publish') {
      if (packet.qos === 1 && packet.messageId !== undefined) this.write({ cmd: 'puback', messageId: packet.messageId });
      for (const listener of [...this.publishListeners]) listener(packet);
      return;
    }
    if (packet.messageId !== undefined) {
      const waiter = this.waiters.get(packet.messageId);
      this.waiters.delete(packet.messageId);
      waiter?.(packet);
    }
  }

  private waitForAck(messageId: number): Promise<Packet> {
    return new Promise((resolve, reject) => {
      this.waiters.set(messageId, resolve);
      void this.closed.then(() => {
        if (this.waiters.delete(messageId)) reject(new Error('connection closed before the acknowledgement'));
      });
    });
  }

  private allocateId(): number {
    const id = this.nextId;
    this.nextId = id >= 65535 ? 1 : id + 1;
    return id;
  }

  private write(packet: Packet): void {
    if (!this.socket.destroyed) this.socket.write(generate(packet));
  }
}

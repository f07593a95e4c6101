/**
 * Each device's queue of cloud-to-device messages. IoT Hub keeps at most 50 messages per device
 * ("IoT Hub quotas and throttling", Other limits; 403004 DeviceMaximumQueueDepthExceeded when full) and delivers them
 * once the device subscribes to `devices/{id}/messages/devicebound/#`; over MQTT the device completes a message by
 * acknowledging its QoS 1 PUBLISH (MQTT has no reject/abandon: iot-mqtt-connect-to-iot-hub.md, "Migrating a device app
 * from AMQP to MQTT"). A message sent but not acknowledged when the connection drops is delivered again (at least once).
 *
 * The property bag is what azure-iot-device-mqtt 1.16.4 reads back (dist/mqtt.js `_extractPropertiesFromTopicPart`):
 * `$.mid`, `$.cid`, `$.to`, `$.exp`, `$.ct`, `$.ce`, `$.uid` and application properties by name.
 */
import { randomUUID } from 'node:crypto';
import { HubError } from '../registry/hub-error';
import type { PropertyBag } from './iothub-topics';

export interface CloudToDeviceProperties {
  messageId?: string;
  correlationId?: string;
  contentType?: string;
  contentEncoding?: string;
  /** Absolute expiry; sent as `$.exp` (not enforced by the emulator). */
  expiryTimeUtc?: Date;
  /** Application properties. */
  properties?: Record<string, string>;
}

export interface QueuedMessage {
  readonly deviceId: string;
  readonly messageId: string;
  readonly body: Buffer;
  readonly propertyBag: PropertyBag;
  inFlight: boolean;
}

export const MAX_QUEUED_PER_DEVICE = 50;

export class CloudToDeviceQueue {
  private readonly queues = new Map<string, QueuedMessage[]>();

  /** Queues a message. @throws HubError 403 DeviceMaximumQueueDepthExceeded when the device already has 50 waiting. */
  enqueue(deviceId: string, body: string | Buffer, properties: CloudToDeviceProperties = {}): QueuedMessage {
    const queue = this.queues.get(deviceId) ?? [];
    if (queue.length >= MAX_QUEUED_PER_DEVICE)
      throw new HubError(
        403,
        'DeviceMaximumQueueDepthExceeded',
        `Device '${deviceId}' already has ${MAX_QUEUED_PER_DEVICE} messages waiting`,
      );
    const messageId = properties.messageId ?? randomUUID();
    const bag: Array<readonly [string, string | null]> = [['$.mid', messageId]];
    if (properties.correlationId !== undefined) bag.push(['$.cid', properties.correlationId]);
    bag.push(['$.to', `/devices/${deviceId}/messages/devicebound`]);
    if (properties.expiryTimeUtc !== undefined) bag.push(['$.exp', properties.expiryTimeUtc.toISOString()]);
    if (properties.contentType !== undefined) bag.push(['$.ct', properties.contentType]);
    if (properties.contentEncoding !== undefined) bag.push(['$.ce', properties.contentEncoding]);
    for (const [key, value] of Object.entries(properties.properties ?? {})) bag.push([key, value]);
    const message: QueuedMessage = {
      deviceId,
      messageId,
      body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
      propertyBag: bag,
      inFlight: false,
    };
    queue.push(message);
    this.queues.set(deviceId, queue);
    return message;
  }

  /** Messages of the device not yet handed to a connection. */
  pending(deviceId: string): QueuedMessage[] {
    return (this.queues.get(deviceId) ?? []).filter((message) => !message.inFlight);
  }

  /** The device acknowledged the message: it leaves the queue. */
  complete(message: QueuedMessage): void {
    const queue = this.queues.get(message.deviceId);
    if (!queue) return;
    const rest = queue.filter((queued) => queued !== message);
    if (rest.length === 0) this.queues.delete(message.deviceId);
    else this.queues.set(message.deviceId, rest);
  }

  /** The connection went away: unacknowledged messages are delivered again on the next subscription. */
  requeueInFlight(deviceId: string): void {
    for (const message of this.queues.get(deviceId) ?? []) message.inFlight = false;
  }

  depth(deviceId: string): number {
    return this.queues.get(deviceId)?.length ?? 0;
  }

  /** The device was deleted: its messages go with it. */
  drop(deviceId: string): void {
    this.queues.delete(deviceId);
  }
}

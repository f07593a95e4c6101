/**
 * Real azure-iot-device clients over MQTT against an emulator, for tests and benches: connection strings from the
 * emulator's registry, the local-port transport, and cleanup of every client a test opened.
 */
import { Client, ModuleClient } from 'azure-iot-device';
import type { IotHubEmulator } from '../emulator/index';
import { localMqttTransport } from '../emulator/mqtt/local-device-transport';

/** A retry policy that never retries, so refused connections fail at once (the SDK's RetryPolicy shape). */
export const NO_RETRY = { shouldRetry: (): boolean => false, nextRetryTimeout: (): number => -1 };

export class DeviceClients {
  private readonly opened: Array<Client | ModuleClient> = [];

  constructor(private readonly emulator: IotHubEmulator) {}

  /** A device client (not yet opened); `connectionString` overrides the registry's (e.g. a wrong key). */
  device(deviceId: string, connectionString?: string): Client {
    const client = Client.fromConnectionString(
      connectionString ?? this.emulator.deviceConnectionString(deviceId),
      localMqttTransport(this.emulator.mqttPort),
    );
    this.opened.push(client);
    return client;
  }

  module(deviceId: string, moduleId: string, connectionString?: string): ModuleClient {
    const client = ModuleClient.fromConnectionString(
      connectionString ?? this.emulator.deviceConnectionString(deviceId, moduleId),
      localMqttTransport(this.emulator.mqttPort),
    );
    this.opened.push(client);
    return client;
  }

  async closeAll(): Promise<void> {
    const clients = this.opened.splice(0);
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  }
}

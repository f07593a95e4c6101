/**
 * An azure-iothub service `Client` (direct methods over HTTP) aimed at an emulator's registry port. The SDK always
 * sends to `https://{HostName}:443` and installs its own keep-alive agent through its private REST client
 * (azure-iothub 1.16.6 dist/client.js constructor); replacing that agent is the same seam
 * shared/adapters/registry-client.ts uses for the Registry.
 */
import * as https from 'node:https';
import * as net from 'node:net';
import { Client } from 'azure-iothub';
import type { IotHubEmulator } from '../emulator/index';

interface RestApiClientWithOptions {
  setOptions(options: { http: { agent: https.Agent } }): void;
}

export interface ServiceClientHandle {
  client: Client;
  close(): Promise<void>;
}

export function serviceClientFor(emulator: IotHubEmulator): ServiceClientHandle {
  const client = Client.fromConnectionString(emulator.serviceConnectionString);
  const endpoint = new URL(emulator.registryUrl);
  const agent = new https.Agent({ keepAlive: true });
  // The registry port speaks plain HTTP: hand the https request a TCP socket, as registry-client.ts does.
  agent.createConnection = () => net.connect({ host: endpoint.hostname, port: Number(endpoint.port) });
  const rest = (client as unknown as { _restApiClient?: RestApiClientWithOptions })._restApiClient;
  if (!rest) throw new Error('azure-iothub Client no longer exposes _restApiClient');
  rest.setOptions({ http: { agent } });
  return {
    client,
    close: async () => {
      agent.destroy();
      await client.close().catch(() => undefined);
    },
  };
}

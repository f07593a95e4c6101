/**
 * An azure-iothub JobClient aimed at an emulator URL. JobClient installs its own keep-alive https.Agent on its private
 * REST client (dist/job_client.js constructor); this replaces it with one whose sockets go to the emulator's plain-HTTP
 * port, keeping the hub host name in the Host header and the SAS `sr=`, as createRegistryClient does for Registry.
 */
import * as https from 'node:https';
import * as net from 'node:net';
import { JobClient } from 'azure-iothub';

export function jobClientFor(connectionString: string, url: string): { client: JobClient; close: () => void } {
  const client = JobClient.fromConnectionString(connectionString);
  const endpoint = new URL(url);
  const agent = new https.Agent({ keepAlive: true });
  agent.createConnection = () => net.connect({ host: endpoint.hostname, port: Number(endpoint.port) });
  const rest = (client as unknown as { _restApiClient: { setOptions(options: unknown): void } })._restApiClient;
  rest.setOptions({ http: { agent } });
  return { client, close: () => agent.destroy() };
}

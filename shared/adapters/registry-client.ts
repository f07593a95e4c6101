/**
 * The one place that builds an azure-iothub Registry, and the seam that lets TwinGuard target the
 * emulator (or any IoT Hub-compatible endpoint) by URL instead of `https://<HostName>:443`.
 */
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { TokenCredential } from '@azure/core-auth';
import { Registry } from 'azure-iothub';

export interface RegistryClientOptions {
  /** `HostName=…;SharedAccessKeyName=…;SharedAccessKey=…`. Takes precedence over hostName+credential. */
  connectionString?: string;
  /** `<hub>.azure-devices.net`, used with `credential` (Entra ID / managed identity). */
  hostName?: string;
  credential?: TokenCredential;
  /**
   * Where to send requests instead of `https://<HostName>:443`, e.g. `http://127.0.0.1:PORT` (the emulator;
   * the IOTHUB_SERVICE_ENDPOINT setting) or `https://host:port`. The Host header and the SAS `sr=` keep the
   * real hostname, so signatures stay valid for the hub named in the connection string.
   */
  serviceEndpoint?: string;
}

/** The narrow shape of the SDK's private REST client that the endpoint override needs. */
interface RestApiClientWithOptions {
  setOptions(options: { http: { agent: https.Agent } }): void;
}

function restApiClientOf(registry: Registry): RestApiClientWithOptions | undefined {
  const client: unknown = (registry as unknown as { _restApiClient?: unknown })._restApiClient;
  const usable = typeof client === 'object' && client !== null && typeof (client as { setOptions?: unknown }).setOptions === 'function';
  return usable ? (client as RestApiClientWithOptions) : undefined;
}

/** An https.Agent whose sockets go to `endpoint` (plain TCP for http:, TLS with SNI for https:). */
function endpointAgent(endpoint: URL, tlsServerName: string): https.Agent {
  const port = Number(endpoint.port || (endpoint.protocol === 'https:' ? 443 : 80));
  const host = endpoint.hostname.replace(/^\[|\]$/g, '');
  const agent = new https.Agent({ keepAlive: true });
  if (endpoint.protocol === 'http:') {
    // Returning the socket synchronously is enough: the Agent treats it as created and queues the request.
    agent.createConnection = () => net.connect({ host, port });
  } else {
    agent.createConnection = (options) => tls.connect({ ...(options as tls.ConnectionOptions), host, port, servername: tlsServerName });
  }
  return agent;
}

/**
 * Creates a Registry from a connection string, or from hostName + credential.
 * With `serviceEndpoint`, every request goes to that endpoint instead of HostName:443.
 * @throws Error when neither a connection string nor hostName+credential is given, or the endpoint is not http(s).
 */
export function createRegistryClient(options: RegistryClientOptions): Registry {
  let registry: Registry;
  let hostName: string;
  if (options.connectionString) {
    registry = Registry.fromConnectionString(options.connectionString);
    const match = /(?:^|;)\s*HostName=([^;]+)/i.exec(options.connectionString);
    hostName = match?.[1] ?? '';
  } else if (options.hostName && options.credential) {
    registry = Registry.fromTokenCredential(options.hostName, options.credential);
    hostName = options.hostName;
  } else {
    throw new Error('createRegistryClient needs a connectionString, or a hostName and a credential');
  }
  if (options.serviceEndpoint) {
    const endpoint = new URL(options.serviceEndpoint);
    if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:')
      throw new Error(`serviceEndpoint must be http: or https:, got ${endpoint.protocol}`);
    // azure-iothub always issues https.request to HostName:443 and has no public endpoint option; its own
    // constructor installs the keep-alive agent through this private client, so replacing the agent here
    // is the least invasive override. Kept in this single function on purpose.
    const restApiClient = restApiClientOf(registry);
    if (!restApiClient)
      throw new Error('azure-iothub Registry no longer exposes _restApiClient.setOptions; the endpoint override needs updating');
    restApiClient.setOptions({ http: { agent: endpointAgent(endpoint, hostName) } });
  }
  return registry;
}

/** Destroys the pooled keep-alive sockets of a Registry created with a serviceEndpoint (tests call this). */
export function closeRegistryClient(registry: Registry): void {
  const client: unknown = restApiClientOf(registry);
  const http: unknown = (client as { _http?: { _options?: { http?: { agent?: unknown } } } })._http?._options?.http?.agent;
  if (http instanceof https.Agent) http.destroy();
}

/**
 * The one place that builds an azure-iothub Registry, and the seam that lets TwinGuard target the
 * emulator (or any IoT Hub-compatible endpoint) by URL instead of `https://<HostName>:443`.
 *
 * Retries and timeouts, as confirmed in azure-iothub 1.16.6 (dist/registry.js, dist/common-http/rest_api_client.js,
 * http.js): no Registry method retries (each calls `RestApiClient.executeApiCall` once; the retry classes in
 * common-core serve the device clients only), so retryTransient in iothub-registry.ts is the only retry layer. Nor has
 * a request a timeout: Registry never passes `executeApiCall`'s `timeout`, and even that one only calls
 * `request.setTimeout(ms)` with no listener, which emits 'timeout' without ending the request. So the client gets an
 * agent that ends every request that goes {@link RegistryClientOptions.timeoutMs} without a byte.
 */
import type { ClientRequest } from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { TokenCredential } from '@azure/core-auth';
import { Registry } from 'azure-iothub';
import { OutboundTimeoutError } from '../errors';
import { DEFAULT_OUTBOUND_TIMEOUT_MS } from './outbound-timeout-policy';

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
  /**
   * Per-attempt timeout (OUTBOUND_TIMEOUT_MS): a request whose socket stays silent this long (connecting, waiting for
   * the answer or between its bytes) is destroyed with an OutboundTimeoutError. Default 10,000 ms.
   */
  timeoutMs?: number;
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

/** The Agent hook every request passes through (node:_http_agent; not in @types/node, present since Node 0.x). */
interface AgentWithAddRequest {
  addRequest(request: ClientRequest, options: unknown): void;
}

/**
 * A keep-alive https.Agent (what the Registry installs itself) whose requests end after `timeoutMs` of socket
 * silence. The agent's `timeout` arms new sockets while they connect (and closes pooled ones idle that long);
 * `ClientRequest.setTimeout` re-arms the timer on whichever socket the request gets, a pooled one included, and its
 * callback destroys the request, which the SDK reports as the request's error.
 */
function timeoutAgent(timeoutMs: number): https.Agent {
  const agent = new https.Agent({ keepAlive: true, timeout: timeoutMs });
  const internals = agent as unknown as AgentWithAddRequest;
  const addRequest = internals.addRequest.bind(agent);
  internals.addRequest = (request, options) => {
    request.setTimeout(timeoutMs, () => {
      const target = `${request.method} ${request.host}${request.path.split('?')[0] ?? ''}`;
      request.destroy(new OutboundTimeoutError(`IoT Hub ${target}`, timeoutMs));
    });
    addRequest(request, options);
  };
  return agent;
}

/** Also makes the agent's sockets go to `endpoint` (plain TCP for http:, TLS with SNI for https:). */
function redirectAgent(agent: https.Agent, endpoint: URL, tlsServerName: string): https.Agent {
  const port = Number(endpoint.port || (endpoint.protocol === 'https:' ? 443 : 80));
  const host = endpoint.hostname.replace(/^\[|\]$/g, '');
  if (endpoint.protocol === 'http:') {
    // Returning the socket synchronously is enough: the Agent treats it as created and queues the request.
    agent.createConnection = (options) => net.connect({ host, port, timeout: (options as net.NetConnectOpts).timeout });
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
  let agent = timeoutAgent(options.timeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS);
  if (options.serviceEndpoint) {
    const endpoint = new URL(options.serviceEndpoint);
    if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:')
      throw new Error(`serviceEndpoint must be http: or https:, got ${endpoint.protocol}`);
    agent = redirectAgent(agent, endpoint, hostName);
  }
  // azure-iothub always issues https.request to HostName:443 and has no public endpoint or timeout option; its own
  // constructor installs its keep-alive agent through this private client, so replacing that agent here is the
  // least invasive override. Kept in this single function on purpose.
  const restApiClient = restApiClientOf(registry);
  if (!restApiClient)
    throw new Error('azure-iothub Registry no longer exposes _restApiClient.setOptions; the agent override needs updating');
  restApiClient.setOptions({ http: { agent } });
  return registry;
}

/** Destroys the pooled keep-alive sockets of a Registry built here (a host stopping, tests). */
export function closeRegistryClient(registry: Registry): void {
  const client: unknown = restApiClientOf(registry);
  const http: unknown = (client as { _http?: { _options?: { http?: { agent?: unknown } } } })._http?._options?.http?.agent;
  if (http instanceof https.Agent) http.destroy();
}

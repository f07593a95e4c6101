/**
 * An IoT hub with only its registry (HTTP, no AMQP endpoint; starts in ~1 ms): the emulator's registry behind its
 * REST server with the built-in shared access policies, and SDK clients pointed at it through the production seam.
 */
import type { Registry } from 'azure-iothub';
import { FaultInjector } from '../emulator/faults';
import { defaultPolicies, RegistryHttpServer, type SharedAccessPolicy } from '../emulator/http-server';
import { HubRegistry } from '../emulator/registry/hub-registry';
import { closeRegistryClient, createRegistryClient } from '../shared/adapters/registry-client';

export interface RegistryOnlyHub {
  readonly registry: HubRegistry;
  readonly faults: FaultInjector;
  readonly hostName: string;
  readonly url: string;
  /** A connection string for a built-in policy (default iothubowner), optionally with a wrong key. */
  connectionString(policy?: string, keyOverride?: string): string;
  /** An SDK Registry aimed at the hub; closed by stop(). */
  client(policy?: string, keyOverride?: string): Registry;
  stop(): Promise<void>;
}

/** Serves `registry` (default: a new, empty one) as `<hubName>.azure-devices.net` on a loopback port. */
export async function startRegistryOnlyHub(hubName = 'test-hub', registry = new HubRegistry()): Promise<RegistryOnlyHub> {
  const faults = new FaultInjector();
  const hostName = `${hubName}.azure-devices.net`;
  const policies: SharedAccessPolicy[] = defaultPolicies();
  const server = new RegistryHttpServer({ registry, faults, hostName, policies });
  await server.start();
  const clients: Registry[] = [];
  const connectionString = (policy = 'iothubowner', keyOverride?: string): string => {
    const found = policies.find((p) => p.keyName === policy);
    if (!found) throw new Error(`no policy ${policy}`);
    return `HostName=${hostName};SharedAccessKeyName=${policy};SharedAccessKey=${keyOverride ?? found.primaryKey}`;
  };
  return {
    registry,
    faults,
    hostName,
    url: server.url,
    connectionString,
    client(policy, keyOverride) {
      const client = createRegistryClient({ connectionString: connectionString(policy, keyOverride), serviceEndpoint: server.url });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) closeRegistryClient(client);
      await server.stop();
    },
  };
}

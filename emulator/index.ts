/**
 * The IoT Hub emulator ("Azurite for IoT Hub"): registry REST endpoint + Event Hub-compatible endpoint +
 * simulated devices and security agents + fault injection, started in-process in milliseconds.
 * See emulator/README.md for what it does and does not emulate.
 */
import { randomBytes } from 'node:crypto';
import { formatConnectSetting } from './connect/connect-setting';
import { eventHubNamespaceHostFor } from './connect/event-hub-namespace';
import { hubAmqpNotEmulatedDescription } from './connect/hub-amqp-not-emulated';
import { DeviceSide, SecurityAgentSimulator, type AgentMode } from './device-side';
import { EventHubEndpoint } from './eventhub/endpoint';
import { FaultInjector, type ThrottleConfig } from './faults';
import { DEFAULT_ROUTES, type RouteSource } from './hub-events';
import { defaultPolicies, RegistryHttpServer, type SharedAccessPolicy } from './http-server';
import { methodRoutes } from './http/method-routes';
import { ConfigurationEngine, type ConfigurationEngineOptions } from './configurations/configuration-engine';
import { ConfigurationStore } from './configurations/configuration-store';
import { localMqttTransport } from './mqtt/local-device-transport';
import { MqttEndpoint } from './mqtt/mqtt-endpoint';
import { loadState, saveState } from './persistence';
import { HubRegistry } from './registry/hub-registry';
import type { ScheduledJobRunner, ScheduledJobRunnerOptions } from './scheduled-jobs/scheduled-job-runner';
import { seedRegistry, type SeedOptions, type SeedSummary } from './seed';
import { generateEmulatorCertificate, type EmulatorCertificate } from './tls/emulator-certificate';
import { mqttWebSocketUpgrade } from './tls/mqtt-websocket-upgrade';
import { NotEmulatedAmqpListener } from './tls/not-emulated-amqp-listener';

export { HubRegistry } from './registry/hub-registry';
export { HubError } from './registry/hub-error';
export { FaultInjector } from './faults';
export { DeviceSide, SecurityAgentSimulator } from './device-side';
export type { AgentMode } from './device-side';
export type { SeedOptions } from './seed';
export type { OperationClass, ThrottleConfig } from './faults';
export { MqttEndpoint } from './mqtt/mqtt-endpoint';
export type { CloudToDeviceProperties } from './mqtt/cloud-to-device-queue';

export interface EmulatorOptions {
  /** Default 'twinguard-emulator'; the host name is `${hubName}.azure-devices.net`. */
  hubName?: string;
  /** Interface for both endpoints; default 127.0.0.1. */
  host?: string;
  /** Registry REST port; 0 (default) lets the OS choose. */
  httpPort?: number;
  /** AMQP port of the Event Hub-compatible endpoint; 0 (default) lets the OS choose. */
  amqpPort?: number;
  /** Default 4 (IoT Hub's default). */
  partitionCount?: number;
  /** Default ['$Default']. */
  consumerGroups?: string[];
  /** Routing sources delivered to the built-in endpoint; default DeviceMessages, lifecycle and twin changes. */
  routes?: RouteSource[];
  /** State file: loaded on start when it exists, written by save() and by the CLI on exit. */
  dataFile?: string;
  seed?: SeedOptions;
  agent?: { defaultMode?: AgentMode; reportDelayMs?: number; moduleIds?: string[] };
  /** Throttling from the start (off by default); change later through `faults`. */
  throttle?: ThrottleConfig;
  /** Accept events sent to the built-in endpoint (default false: it is read-only on IoT Hub); for tests that forge events. */
  acceptProducedEvents?: boolean;
  /** Scheduled jobs: tier limits (default: the `throttle` tier, else S1) and the direct-method invoker (default: devices offline). */
  scheduledJobs?: ScheduledJobRunnerOptions;
  /** Device-side MQTT port (plain TCP); 0 (default) lets the OS choose. */
  mqttPort?: number;
  /** Also serve MQTT over TLS with this certificate (see emulator/mqtt/mqtt-endpoint.ts). */
  mqttTls?: { key: string | Buffer; cert: string | Buffer; port?: number };
  /**
   * Also serve the registry over HTTPS, MQTT over TLS and the Event Hub-compatible endpoint over AMQP with TLS, with a
   * certificate made at start for the hub's host names (needs the openssl command): what unchanged SDK scripts need
   * through emulator/connect.ts ({@link IotHubEmulator.connectSetting}). `mqttTls`, when given, keeps its own certificate.
   */
  tls?: boolean;
  /** Automatic configurations (ADM): the re-evaluation period (default 5 s; IoT Hub: 5 minutes). */
  configurations?: ConfigurationEngineOptions;
}

/** A running emulated hub. Create with {@link IotHubEmulator.start}; always {@link IotHubEmulator.stop}. */
export class IotHubEmulator {
  readonly hostName: string;
  readonly serviceConnectionString: string;
  readonly eventHubName: string;
  /** What seeding wrote (zeros when not seeded). */
  readonly seeded: SeedSummary;

  private constructor(
    readonly hubName: string,
    private readonly policies: SharedAccessPolicy[],
    readonly registry: HubRegistry,
    readonly devices: DeviceSide,
    readonly agents: SecurityAgentSimulator,
    readonly faults: FaultInjector,
    readonly events: EventHubEndpoint,
    private readonly http: RegistryHttpServer,
    private readonly dataFile: string | undefined,
    private readonly detach: () => void,
    seeded: SeedSummary,
    /** The device endpoint: MQTT clients (azure-iot-device), direct methods, cloud-to-device messages. */
    readonly mqtt: MqttEndpoint,
    /** Automatic configurations (`/configurations`): `evaluate()` runs a re-evaluation pass now. */
    readonly configurations: ConfigurationEngine,
    /** The `tls` option: the listeners' certificate, and the AMQP listener that refuses the hub host's AMQP clients. */
    private readonly tls?: { certificate: EmulatorCertificate; hubAmqp: NotEmulatedAmqpListener },
  ) {
    this.hostName = `${hubName}.azure-devices.net`;
    const owner = policies.find((p) => p.keyName === 'iothubowner') as SharedAccessPolicy;
    this.serviceConnectionString = `HostName=${this.hostName};SharedAccessKeyName=iothubowner;SharedAccessKey=${owner.primaryKey}`;
    this.eventHubName = eventHubNameFor(hubName);
    this.seeded = seeded;
  }

  /** `http://host:port`: the value for IOTHUB_SERVICE_ENDPOINT / createRegistryClient's serviceEndpoint. */
  get registryUrl(): string {
    return this.http.url;
  }

  /** Scheduled jobs (`/jobs/v2`): per-device results, and `useDeviceMethodInvoker` to answer method jobs. */
  get scheduledJobs(): ScheduledJobRunner {
    return this.http.scheduledJobs;
  }

  get eventHubConnectionString(): string {
    return this.events.connectionString();
  }

  /** Host of the Event Hub-compatible endpoint as the portal names it (`iothub-ns-….servicebus.windows.net`). */
  get eventHubHostName(): string {
    return eventHubNamespaceHostFor(this.eventHubName);
  }

  /** The built-in endpoint's connection string as the portal shows it (AMQP over TLS; reached through emulator/connect.ts). */
  get portalEventHubConnectionString(): string {
    return this.events.portalConnectionString(this.eventHubHostName);
  }

  /** PEM certificate of the TLS listeners (the CA a client trusts); undefined without the `tls` option. */
  get tlsCertificate(): string | undefined {
    return this.tls?.certificate.cert;
  }

  /**
   * Value of IOTHUB_EMULATOR_CONNECT, which configures the preload emulator/connect.ts (`node -r
   * dist/emulator/connect.js script.js`); undefined without the `tls` option.
   */
  get connectSetting(): string | undefined {
    if (this.tls === undefined) return undefined;
    const host = this.http.listenAddress;
    return formatConnectSetting({
      iotHubHostName: this.hostName,
      eventHubHostName: this.eventHubHostName,
      // A wildcard listener is reached on loopback.
      address: host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host,
      httpsPort: this.http.tlsPort,
      mqttsPort: this.mqtt.tlsPort,
      amqpsPort: this.events.tlsPort,
      hubAmqpsPort: this.tls.hubAmqp.port,
      ca: this.tls.certificate.cert,
    });
  }

  /** Plain MQTT port of the device endpoint. */
  get mqttPort(): number {
    return this.mqtt.port;
  }

  /**
   * `HostName=…;DeviceId=…[;ModuleId=…];SharedAccessKey=…` with the identity's primary key, as the portal shows it.
   * azure-iot-device connects to `mqtts://HostName:8883`; see testing/mqtt-device-transport.ts for reaching the plain port.
   */
  deviceConnectionString(deviceId: string, moduleId?: string): string {
    const keys = this.registry.keysOf(deviceId, moduleId);
    if (!keys) throw new Error(`${moduleId === undefined ? deviceId : `${deviceId}/${moduleId}`} has no symmetric keys`);
    const module = moduleId === undefined ? '' : `;ModuleId=${moduleId}`;
    return `HostName=${this.hostName};DeviceId=${deviceId}${module};SharedAccessKey=${keys.primaryKey}`;
  }

  /** Connection string of another built-in policy (service, registryRead, registryReadWrite, device). */
  connectionStringFor(policyName: string): string {
    const policy = this.policies.find((p) => p.keyName === policyName);
    if (!policy) throw new Error(`no policy ${policyName}`);
    return `HostName=${this.hostName};SharedAccessKeyName=${policy.keyName};SharedAccessKey=${policy.primaryKey}`;
  }

  /** Starts both endpoints, loads `dataFile` if present, then seeds. */
  static async start(options: EmulatorOptions = {}): Promise<IotHubEmulator> {
    let hubName = options.hubName ?? 'twinguard-emulator';
    const registry = new HubRegistry();
    let policies = defaultPolicies();
    const configurations = new ConfigurationEngine(registry, new ConfigurationStore(), options.configurations);
    if (options.dataFile) {
      const header = await loadState(options.dataFile, registry);
      if (header?.configurations) configurations.store.restore(header.configurations);
      if (header) configurations.noteRestoredTwins();
      if (header) {
        hubName = header.hubName;
        policies = policies.map((policy) => {
          const saved = header.policies.find((p) => p.keyName === policy.keyName);
          return saved ? { ...policy, primaryKey: saved.primaryKey, secondaryKey: saved.secondaryKey } : policy;
        });
      }
    }
    const faults = new FaultInjector();
    if (options.throttle) faults.configureThrottling(options.throttle);
    const owner = policies.find((p) => p.keyName === 'iothubowner') as SharedAccessPolicy;
    const hostName = `${hubName}.azure-devices.net`;
    const certificate = options.tls
      ? await generateEmulatorCertificate([hostName, eventHubNamespaceHostFor(eventHubNameFor(hubName)), 'localhost', '127.0.0.1'])
      : undefined;
    const events = new EventHubEndpoint({
      hubName,
      eventHubName: eventHubNameFor(hubName),
      partitionCount: options.partitionCount ?? 4,
      consumerGroups: options.consumerGroups ?? ['$Default'],
      sharedAccessKeyName: 'iothubowner',
      sharedAccessKey: owner.primaryKey,
      routes: options.routes ?? DEFAULT_ROUTES,
      host: options.host,
      port: options.amqpPort ?? 0,
      acceptProducedEvents: options.acceptProducedEvents,
      tls: certificate,
    });
    const mqtt = new MqttEndpoint({
      registry,
      telemetry: events,
      hostName: `${hubName}.azure-devices.net`,
      policies,
      host: options.host,
      port: options.mqttPort ?? 0,
      tls: options.mqttTls ?? certificate,
    });
    const http = new RegistryHttpServer({
      registry,
      faults,
      hostName: `${hubName}.azure-devices.net`,
      policies,
      host: options.host,
      port: options.httpPort ?? 0,
      scheduledJobs: {
        ...(options.throttle && 'tier' in options.throttle ? { tier: options.throttle.tier, units: options.throttle.units } : {}),
        // Method jobs call devices connected over MQTT, as the direct-method route does.
        invokeDeviceMethod: (deviceId, moduleId, request) =>
          mqtt.invokeMethod(deviceId, moduleId, { ...request, connectTimeoutInSeconds: 0 }, new AbortController().signal),
        ...options.scheduledJobs,
      },
      configurations,
      routes: [methodRoutes(mqtt)],
      tls: certificate,
      upgrade: mqttWebSocketUpgrade((stream) => mqtt.handleConnection(stream)),
    });
    const detach = registry.onChange((change) => events.publishChange(change));
    const tls = certificate && {
      certificate,
      hubAmqp: new NotEmulatedAmqpListener({ ...certificate, host: options.host, description: hubAmqpNotEmulatedDescription(hostName) }),
    };
    // The simulated agents are ModuleClients over this hub's MQTT port, each with its module's credentials.
    let agentTransport: ReturnType<typeof localMqttTransport> | undefined;
    const agents = new SecurityAgentSimulator(
      registry,
      {
        hostName: `${hubName}.azure-devices.net`,
        transport: () => (agentTransport ??= localMqttTransport(mqtt.port, { host: loopbackFor(options.host) })),
        keysOf: (deviceId, moduleId) => registry.keysOf(deviceId, moduleId),
        devicePolicy: policies.find((p) => p.keyName === 'device'),
        isConnected: (deviceId, moduleId) => mqtt.isConnected(deviceId, moduleId),
      },
      options.agent,
    );
    try {
      await Promise.all([http.start(), events.start(), mqtt.start(), tls?.hubAmqp.start()]);
      const seeded = options.seed ? await seedRegistry(registry, options.seed) : { devices: 0, modules: 0, edge: 0, disabled: 0 };
      return new IotHubEmulator(
        hubName,
        policies,
        registry,
        new DeviceSide(registry),
        agents,
        faults,
        events,
        http,
        options.dataFile,
        detach,
        seeded,
        mqtt,
        configurations,
        tls,
      );
    } catch (error) {
      await agents.stop();
      detach();
      await Promise.allSettled([mqtt.stop(), http.stop(), events.stop(), tls?.hubAmqp.stop()]);
      throw error;
    }
  }

  /** Writes state to `file` (default: the dataFile option) atomically. */
  async save(file?: string): Promise<void> {
    const target = file ?? this.dataFile;
    if (!target) throw new Error('save() needs a file (no dataFile option was given)');
    await saveState(
      target,
      {
        hubName: this.hubName,
        policies: this.policies.map(({ keyName, primaryKey, secondaryKey }) => ({ keyName, primaryKey, secondaryKey })),
        configurations: this.configurations.store.snapshot(),
      },
      this.registry,
    );
  }

  /** Stops the agents (their MQTT clients), then the endpoints; closes every socket and timer. */
  async stop(): Promise<void> {
    await this.agents.stop();
    // Devices first: their disconnects still reach the registry and the built-in endpoint.
    await this.mqtt.stop();
    this.detach();
    await Promise.all([this.http.stop(), this.events.stop(), this.tls?.hubAmqp.stop()]);
  }
}

/** IoT Hub names its built-in endpoint `iothub-ehub-<hub prefix>-<id>-<hash>`; the emulator mimics the shape. */
function eventHubNameFor(hubName: string): string {
  const prefix =
    hubName
      .replace(/[^a-z0-9-]/gi, '')
      .slice(0, 10)
      .toLowerCase() || 'hub';
  const suffix = Buffer.from(hubName)
    .reduce((hash, byte) => (hash * 31 + byte) >>> 0, 7)
    .toString(16)
    .padStart(8, '0')
    .slice(0, 7);
  return `iothub-ehub-${prefix}-${suffix}`;
}

/** Where the in-process agents reach the MQTT endpoint: a wildcard listen address is not a destination. */
function loopbackFor(host: string | undefined): string {
  return host === undefined || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

/** Random base64 key, for callers that need one (e.g. test helpers). */
export function randomKey(): string {
  return randomBytes(32).toString('base64');
}

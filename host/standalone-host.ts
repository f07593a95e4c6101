/**
 * Runs TwinGuard's functions outside Azure Functions (on-premises, a container, a VM next to the
 * hub) with the same handlers, options and app settings: Event Hub batches with durable blob
 * checkpoints, HTTP routes with function keys, timers on NCRONTAB schedules, Storage Queue messages.
 */
import { closeServices } from '../shared/container';
import { MetricsRegistry } from '../shared/telemetry/metrics-registry';
import { addTelemetrySink } from '../shared/telemetry/telemetry-hub';
import { declareLogLinesStayLocal } from '../shared/telemetry/log-record-export';
import { isContainerName } from '../shared/domain/storage-names';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { hostOutsideAzureFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';
import type { Logger } from '../shared/logger';
import { EventConsumer, type BatchHandler } from './event-consumer';
import { HttpHost, type HttpRoute } from './http-host';
import { queueOptionsFromHostJson } from './host-json-queue-options';
import { QueuePoller, type QueueRoute } from './queue-poller';
import { HostReadiness } from './readiness';
import { assertSchedulesInUtc, TimerScheduler, type TimerRoute } from './timer-scheduler';
import { resolveBindingExpression as resolveSettingReferences } from '../shared/config/resolve-binding-expression';

export type Env = Record<string, string | undefined>;

export interface StandaloneSettings {
  httpHost: string;
  httpPort: number;
  functionKey?: string;
  checkpointContainer: string;
  loadBalancing: 'balanced' | 'greedy';
  /** How long a partition claim stays valid without renewal (STANDALONE_OWNERSHIP_EXPIRY_SECONDS, in ms). */
  ownershipExpiryMs: number;
}

/** Settings only the standalone host reads (the function app's own settings are shared/config.ts). */
export const STANDALONE_SETTINGS = [
  { name: 'STANDALONE_HTTP_HOST', default: '127.0.0.1', description: 'Interface the HTTP functions listen on (0.0.0.0 in a container).' },
  { name: 'STANDALONE_HTTP_PORT', default: '7071', description: 'Port of the HTTP functions (Core Tools uses 7071 too).' },
  {
    name: 'STANDALONE_FUNCTION_KEY',
    default: '',
    description: 'Key for authLevel function routes, sent as x-functions-key or ?code=. Required when serving them.',
  },
  {
    name: 'STANDALONE_CHECKPOINT_CONTAINER',
    default: 'twinguard-checkpoints',
    description: 'Blob container (in AzureWebJobsStorage) for Event Hubs checkpoints and partition ownership.',
  },
  {
    name: 'STANDALONE_LOAD_BALANCING',
    default: 'greedy',
    description:
      'How a host claims partitions from the shared checkpoint store: greedy claims its fair share at once (one host or many), balanced one partition per update interval.',
  },
  {
    name: 'STANDALONE_OWNERSHIP_EXPIRY_SECONDS',
    default: '20',
    description:
      "How long a host's partition claim stays valid without renewal (4–600): a crashed host's partitions wait this long; claims are renewed every quarter of it.",
  },
] as const;

/** Bounds of STANDALONE_OWNERSHIP_EXPIRY_SECONDS: renewals every quarter of it, so at least 1 s apart. */
const OWNERSHIP_EXPIRY_SECONDS = { min: 4, max: 600 };
/**
 * Renewals (and claims) per expiry. The .NET processor's guidance is an expiry of at least three update intervals
 * ("a factor of three or more", EventProcessorOptions.PartitionOwnershipExpirationInterval); four lets three
 * renewals in a row fail (a storage hiccup) before another host may take the partition.
 */
export const RENEWALS_PER_EXPIRY = 4;

/**
 * The Event Hubs SDK's LoadBalancingOptions for these settings (@azure/event-hubs 6 defaults are balanced, 10 s,
 * 60 s). Both strategies share the SDK's fair-share computation (listAvailablePartitions): balanced claims at most
 * one partition per pass, greedy its whole fair share (unclaimed or expired first, then the surplus of hosts over
 * their share), so greedy suits one host (8 partitions owned in one pass instead of seven intervals) and still
 * settles on an even spread with several.
 */
export function loadBalancingOf(settings: Pick<StandaloneSettings, 'loadBalancing' | 'ownershipExpiryMs'>): {
  strategy: 'balanced' | 'greedy';
  updateIntervalInMs: number;
  partitionOwnershipExpirationIntervalInMs: number;
} {
  return {
    strategy: settings.loadBalancing,
    updateIntervalInMs: Math.round(settings.ownershipExpiryMs / RENEWALS_PER_EXPIRY),
    partitionOwnershipExpirationIntervalInMs: settings.ownershipExpiryMs,
  };
}

export function readStandaloneSettings(env: Env): StandaloneSettings {
  const problems: string[] = [];
  const get = (name: (typeof STANDALONE_SETTINGS)[number]['name']): string =>
    env[name]?.trim() || STANDALONE_SETTINGS.find((s) => s.name === name)!.default;
  const port = Number(get('STANDALONE_HTTP_PORT'));
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push('STANDALONE_HTTP_PORT must be a port number from 0 to 65535');
  const loadBalancing = get('STANDALONE_LOAD_BALANCING');
  if (loadBalancing !== 'balanced' && loadBalancing !== 'greedy') problems.push('STANDALONE_LOAD_BALANCING must be balanced or greedy');
  const container = get('STANDALONE_CHECKPOINT_CONTAINER');
  if (!isContainerName(container)) problems.push('STANDALONE_CHECKPOINT_CONTAINER must be a valid blob container name');
  const expiry = Number(get('STANDALONE_OWNERSHIP_EXPIRY_SECONDS'));
  if (!Number.isInteger(expiry) || expiry < OWNERSHIP_EXPIRY_SECONDS.min || expiry > OWNERSHIP_EXPIRY_SECONDS.max)
    problems.push(
      `STANDALONE_OWNERSHIP_EXPIRY_SECONDS must be a whole number of seconds from ${OWNERSHIP_EXPIRY_SECONDS.min} to ${OWNERSHIP_EXPIRY_SECONDS.max}`,
    );
  if (problems.length > 0) throw new Error(`Standalone host settings are invalid:\n- ${problems.join('\n- ')}`);
  return {
    httpHost: get('STANDALONE_HTTP_HOST'),
    httpPort: port,
    functionKey: get('STANDALONE_FUNCTION_KEY') || undefined,
    checkpointContainer: container,
    loadBalancing: loadBalancing as 'balanced' | 'greedy',
    ownershipExpiryMs: expiry * 1000,
  };
}

/** A name for this process that differs between hosts and between runs of one host (see EventConsumerOptions.identifier). */
export function newHostId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Loads every module in functions/ (compiled or source) and collects what they register. */
export function loadRegistrations(functionsDir = path.join(__dirname, '..', 'functions')): FunctionRegistration[] {
  hostOutsideAzureFunctions();
  const registrations: FunctionRegistration[] = [];
  for (const file of readdirSync(functionsDir).sort()) {
    if (!/\.(js|ts)$/.test(file) || file.endsWith('.d.ts')) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- function modules are discovered, like the Functions host does
    const loaded = require(path.join(functionsDir, file)) as { registrations?: FunctionRegistration[] };
    registrations.push(...(loaded.registrations ?? []));
  }
  return registrations;
}

/** The app's host.json (next to package.json above this file, in the sources and in dist/), or undefined. */
export function readHostJson(from = __dirname): unknown {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'host.json');
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (existsSync(path.join(dir, 'package.json')) || path.dirname(dir) === dir) return undefined;
  }
}

/**
 * Resolves `%SETTING%` binding expressions the way the Functions host does: the one implementation in
 * shared/config, which config validation also uses for COMPLIANCE_SWEEP_SCHEDULE.
 */
export function resolveBindingExpression(value: string, env: Env): string {
  return resolveSettingReferences(value, env);
}

function storageSetting(env: Env, connection: string): string {
  const value = env[connection];
  if (!value) throw new Error(`${connection} is not defined, make sure ${connection} is defined in the environment`);
  return value;
}

export interface StandaloneHostOptions {
  env: Env;
  settings: StandaloneSettings;
  logger: Logger;
  registrations?: FunctionRegistration[];
  /** This host's name in partition ownership records and queue log lines (default {@link newHostId}). */
  hostId?: string;
  onBatchCheckpointed?: (info: { partitionId: string; events: number; lastSequenceNumber: number }) => void;
}

export class StandaloneHost {
  private consumers: EventConsumer[] = [];
  private http?: HttpHost;
  private timers?: TimerScheduler;
  private queues?: QueuePoller;
  /** What /readyz answers (host/readiness.ts); /healthz needs nothing. */
  private readiness?: HostReadiness;
  private removeMetrics?: () => void;
  /** This host's name in partition ownership records (the Event Hubs owner id) and in queue log lines. */
  readonly hostId: string;

  constructor(private readonly options: StandaloneHostOptions) {
    this.hostId = options.hostId ?? newHostId();
    // This host's log lines go to its console only; Application Insights gets them from the worker's export.
    declareLogLinesStayLocal();
  }

  get httpUrl(): string | undefined {
    return this.http?.url;
  }

  async start(): Promise<void> {
    const { env, settings, logger } = this.options;
    const readiness = (this.readiness = new HostReadiness({ env }));
    const registrations = this.options.registrations ?? loadRegistrations();
    let credential: DefaultAzureCredential | undefined;
    const sharedCredential = (): DefaultAzureCredential => (credential ??= new DefaultAzureCredential());

    const httpRoutes: HttpRoute[] = [];
    const timerRoutes: TimerRoute[] = [];
    const queueRoutes: QueueRoute[] = [];
    for (const registration of registrations) {
      switch (registration.kind) {
        case 'eventHub': {
          const options = registration.options;
          const connection = env[options.connection];
          const namespace = env[`${options.connection}__fullyQualifiedNamespace`];
          if (!connection && !namespace)
            throw new Error(`${options.connection} is not defined, make sure ${options.connection} is defined in the environment`);
          const consumer = new EventConsumer({
            connection: connection
              ? { connectionString: connection }
              : { fullyQualifiedNamespace: namespace!, credential: sharedCredential() },
            eventHubName: resolveOptional(options.eventHubName, env),
            consumerGroup: resolveBindingExpression(options.consumerGroup ?? '$Default', env),
            checkpointContainer: this.checkpointContainer(),
            functionName: registration.name,
            handler: options.handler as BatchHandler,
            logger: readiness.consumerLogger(logger),
            loadBalancing: loadBalancingOf(settings),
            identifier: this.hostId,
            onBatchCheckpointed: this.options.onBatchCheckpointed,
          });
          this.consumers.push(consumer);
          break;
        }
        case 'http': {
          const options = registration.options;
          httpRoutes.push({
            functionName: registration.name,
            methods: (options.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
            route: options.route ?? registration.name,
            authLevel: options.authLevel ?? 'anonymous',
            handler: options.handler,
          });
          break;
        }
        case 'timer': {
          const options = registration.options;
          assertSchedulesInUtc(env);
          timerRoutes.push({
            functionName: registration.name,
            // The schedule goes through %SETTING% resolution as in Azure (TimerSchedule.Create → ResolveWholeString).
            schedule: resolveBindingExpression(options.schedule, env),
            runOnStartup: options.runOnStartup,
            handler: options.handler,
          });
          break;
        }
        case 'storageQueue': {
          const options = registration.options;
          const service = QueueServiceClient.fromConnectionString(storageSetting(env, options.connection));
          const queueName = resolveBindingExpression(options.queueName, env);
          queueRoutes.push({
            functionName: registration.name,
            queue: service.getQueueClient(queueName),
            poisonQueue: service.getQueueClient(`${queueName}-poison`),
            handler: options.handler,
          });
          break;
        }
      }
    }

    // Before anything serves: a missing event hub or consumer group is a start-up error, not a silent idle host.
    for (const consumer of this.consumers) await consumer.verify();
    logger.info('standalone host starting', { host: this.hostId, ...loadBalancingOf(settings) });

    if (httpRoutes.length > 0) {
      this.http = new HttpHost({
        routes: httpRoutes,
        functionKey: settings.functionKey,
        host: settings.httpHost,
        port: settings.httpPort,
        logger,
        probes: readiness.probes,
        metrics: this.metrics(),
      });
      await this.http.start();
    }
    if (timerRoutes.length > 0) {
      this.timers = new TimerScheduler(timerRoutes, logger);
      this.timers.start();
    }
    if (queueRoutes.length > 0) {
      // host.json's extensions.queues (and AzureFunctionsJobHost__extensions__queues__* overrides), as Functions reads them.
      this.queues = new QueuePoller(queueRoutes, logger, { ...queueOptionsFromHostJson(readHostJson(), env), hostId: this.hostId });
      await this.queues.start();
    }
    for (const consumer of this.consumers) await consumer.start();
    readiness.serving();
  }

  /** The /metrics registry: added to the telemetry hub once per host, removed at stop. */
  private metrics(): () => string {
    const registry = new MetricsRegistry();
    this.removeMetrics = addTelemetrySink(registry);
    return () => registry.render();
  }

  private checkpointContainer(): ContainerClient {
    const { env, settings } = this.options;
    return BlobServiceClient.fromConnectionString(storageSetting(env, 'AzureWebJobsStorage')).getContainerClient(
      settings.checkpointContainer,
    );
  }

  /**
   * Drains: in-flight batches finish and checkpoint, running timers and queue messages complete; then the functions'
   * service graph is closed (what `app.hook.appTerminate` does under Azure Functions).
   */
  async stop(): Promise<void> {
    this.readiness?.draining(); // /readyz answers 503 from now on, /healthz 200 until the server closes
    await Promise.allSettled(this.consumers.map((c) => c.stop()));
    await Promise.allSettled([this.timers?.stop(), this.queues?.stop()]);
    await this.http?.stop();
    await closeServices();
    this.removeMetrics?.();
  }
}

function resolveOptional(value: string | undefined, env: Env): string | undefined {
  if (!value) return undefined;
  try {
    return resolveBindingExpression(value, env);
  } catch {
    // The connection string's EntityPath names the hub when the setting is absent.
    return undefined;
  }
}

/**
 * Runs TwinGuard's functions outside Azure Functions (on-premises, a container, a VM next to the
 * hub) with the same handlers, options and app settings: Event Hub batches with durable blob
 * checkpoints, HTTP routes with function keys, timers on NCRONTAB schedules, Storage Queue messages.
 */
import { closeServices } from '../shared/container';
import { isContainerName } from '../shared/domain/storage-names';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { hostOutsideAzureFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';
import type { Logger } from '../shared/logger';
import { EventConsumer, type BatchHandler } from './event-consumer';
import { HttpHost, type HttpRoute } from './http-host';
import { QueuePoller, type QueueRoute } from './queue-poller';
import { TimerScheduler, type TimerRoute } from './timer-scheduler';

export type Env = Record<string, string | undefined>;

export interface StandaloneSettings {
  httpHost: string;
  httpPort: number;
  functionKey?: string;
  checkpointContainer: string;
  loadBalancing: 'balanced' | 'greedy';
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
    default: 'balanced',
    description: 'balanced (several hosts share partitions) or greedy (a single host claims all at once).',
  },
] as const;

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
  if (problems.length > 0) throw new Error(`Standalone host settings are invalid:\n- ${problems.join('\n- ')}`);
  return {
    httpHost: get('STANDALONE_HTTP_HOST'),
    httpPort: port,
    functionKey: get('STANDALONE_FUNCTION_KEY') || undefined,
    checkpointContainer: container,
    loadBalancing: loadBalancing as 'balanced' | 'greedy',
  };
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

/** Resolves `%SETTING%` binding expressions the way the Functions host does. */
export function resolveBindingExpression(value: string, env: Env): string {
  return value.replace(/%([A-Za-z0-9_]+)%/g, (_m, name: string) => {
    const resolved = env[name];
    if (resolved === undefined || resolved === '')
      throw new Error(`binding expression %${name}% refers to an app setting that is not defined`);
    return resolved;
  });
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
  onBatchCheckpointed?: (info: { partitionId: string; events: number; lastSequenceNumber: number }) => void;
}

export class StandaloneHost {
  private consumers: EventConsumer[] = [];
  private http?: HttpHost;
  private timers?: TimerScheduler;
  private queues?: QueuePoller;

  constructor(private readonly options: StandaloneHostOptions) {}

  get httpUrl(): string | undefined {
    return this.http?.url;
  }

  async start(): Promise<void> {
    const { env, settings, logger } = this.options;
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
            logger,
            // Greedy (one host) renews every second, so its claims can expire after 10 s instead of the SDK's
            // 60 s: a host restarted after a crash otherwise waits a minute for its predecessor's claims.
            loadBalancing:
              settings.loadBalancing === 'greedy'
                ? { strategy: 'greedy', updateIntervalInMs: 1000, partitionOwnershipExpirationIntervalInMs: 10_000 }
                : { strategy: 'balanced', updateIntervalInMs: 10_000 },
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
          timerRoutes.push({
            functionName: registration.name,
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

    if (httpRoutes.length > 0) {
      this.http = new HttpHost({
        routes: httpRoutes,
        functionKey: settings.functionKey,
        host: settings.httpHost,
        port: settings.httpPort,
        logger,
      });
      await this.http.start();
    }
    if (timerRoutes.length > 0) {
      this.timers = new TimerScheduler(timerRoutes, logger);
      this.timers.start();
    }
    if (queueRoutes.length > 0) {
      this.queues = new QueuePoller(queueRoutes, logger);
      await this.queues.start();
    }
    for (const consumer of this.consumers) await consumer.start();
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
    await Promise.allSettled(this.consumers.map((c) => c.stop()));
    await Promise.allSettled([this.timers?.stop(), this.queues?.stop()]);
    await this.http?.stop();
    await closeServices();
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

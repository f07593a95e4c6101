/**
 * Readiness of the standalone host, for `GET /readyz` (host/health-routes.ts): may a load balancer send this host
 * work? Ready when the host has started and is not draining, the configuration is valid, table storage answers a
 * cheap call within a short timeout, and every Event Hubs consumer has started without a fatal receive error (a
 * missing event hub or consumer group: the SDK retries those for ever while nothing is processed).
 *
 * What a probe sees is a fixed word per check ('ok', 'unreachable', …), never an error text, a setting value or a
 * host name: the route needs no key. One evaluation answers every probe for `cacheMs` (and concurrent probes share
 * the one in flight), so a flood of anonymous requests costs at most one storage call per `cacheMs`. Draining is
 * never cached: the first probe after SIGTERM answers 503.
 */
import { odata, RestError } from '@azure/data-tables';
import { DefaultAzureCredential } from '@azure/identity';
import { createTableClient, type TableClientSettings } from '../shared/adapters/table-clients';
import type { Config } from '../shared/config/config';
import { loadConfig } from '../shared/config/load-config';
import type { LogFields, Logger } from '../shared/logger';
import type { HealthProbes } from './health-routes';

/** 'ok', or one fixed word saying what is wrong. */
export type CheckStatus = string;

export interface ReadinessCheck {
  readonly name: string;
  /** Resolves 'ok' or a fixed word; a throw counts as `failure`, no answer within the timeout as 'timeout'. */
  run(signal: AbortSignal): Promise<CheckStatus> | CheckStatus;
  /** The word for a throw (default 'failed'). */
  readonly failure?: string;
}

export interface ReadinessReport {
  ready: boolean;
  /** Check name → status; only names and fixed words. */
  checks: Record<string, CheckStatus>;
}

export interface ReadinessOptions {
  /** Evaluated on every probe, never cached: 'ok' or why the host takes no work ('starting', 'draining'). */
  lifecycle: () => CheckStatus;
  checks: readonly ReadinessCheck[];
  /** Per-check timeout (default {@link DEFAULT_CHECK_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** How long one evaluation answers every probe (default {@link DEFAULT_READINESS_CACHE_MS}). */
  cacheMs?: number;
  /** Milliseconds clock (injected in tests). */
  now?: () => number;
}

/**
 * Short enough that a probe with Kubernetes' `timeoutSeconds: 3` gets an answer from a host whose storage hangs
 * (the call is aborted, not just abandoned); long enough for a table round trip across regions.
 */
export const DEFAULT_CHECK_TIMEOUT_MS = 2000;
export const DEFAULT_READINESS_CACHE_MS = 1000;

function withTimeout(check: ReadinessCheck, timeoutMs: number): Promise<CheckStatus> {
  const controller = new AbortController();
  return new Promise<CheckStatus>((resolve) => {
    const timer = setTimeout(() => {
      controller.abort();
      resolve('timeout');
    }, timeoutMs);
    timer.unref();
    Promise.resolve()
      .then(() => check.run(controller.signal))
      .then(
        (status) => resolve(status),
        () => resolve(check.failure ?? 'failed'),
      )
      .finally(() => clearTimeout(timer));
  });
}

/** Evaluates the checks (in parallel, each bounded by the timeout) at most once per `cacheMs`. */
export class Readiness {
  private cached?: { at: number; report: ReadinessReport };
  private inFlight?: Promise<ReadinessReport>;
  private readonly now: () => number;

  constructor(private readonly options: ReadinessOptions) {
    this.now = options.now ?? Date.now;
  }

  async evaluate(): Promise<ReadinessReport> {
    const lifecycle = this.options.lifecycle();
    if (lifecycle !== 'ok') return { ready: false, checks: { host: lifecycle } };
    const cacheMs = this.options.cacheMs ?? DEFAULT_READINESS_CACHE_MS;
    if (this.cached && this.now() - this.cached.at < cacheMs) return this.withLifecycle(this.cached.report);
    this.inFlight ??= this.runChecks().finally(() => (this.inFlight = undefined));
    return this.withLifecycle(await this.inFlight);
  }

  /** Draining may have begun while the checks ran: the lifecycle read last wins. */
  private withLifecycle(report: ReadinessReport): ReadinessReport {
    const lifecycle = this.options.lifecycle();
    return lifecycle === 'ok' ? report : { ready: false, checks: { host: lifecycle } };
  }

  private async runChecks(): Promise<ReadinessReport> {
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
    const statuses = await Promise.all(this.options.checks.map((check) => withTimeout(check, timeoutMs)));
    const checks: Record<string, CheckStatus> = { host: 'ok' };
    this.options.checks.forEach((check, i) => (checks[check.name] = statuses[i]!));
    const report = { ready: statuses.every((status) => status === 'ok'), checks };
    this.cached = { at: this.now(), report };
    return report;
  }
}

/** The configuration check: `load` (loadConfig) succeeds. Evaluated once; the environment does not change. */
export function configurationCheck(load: () => unknown): ReadinessCheck {
  let status: CheckStatus | undefined;
  return {
    name: 'configuration',
    run: () => {
      if (status === undefined) {
        try {
          load();
          status = 'ok';
        } catch {
          status = 'invalid';
        }
      }
      return status;
    },
  };
}

/**
 * Whether a table call's failure still proves the service answered: the table not created yet (the service graph
 * creates the tables on the first invocation) is reachable storage; a refused credential is 'denied'.
 */
export function tableFailureStatus(err: unknown): CheckStatus {
  if (!(err instanceof RestError) || err.statusCode === undefined) return 'unreachable';
  if (err.statusCode === 404) return 'ok';
  if (err.statusCode === 401 || err.statusCode === 403) return 'denied';
  return 'unreachable';
}

/** The storage check: `probe` makes one cheap table call; any answer but those of {@link tableFailureStatus} is 'ok'. */
export function storageCheck(probe: (signal: AbortSignal) => Promise<unknown>): ReadinessCheck {
  return {
    name: 'storage',
    failure: 'unreachable',
    run: async (signal) => {
      try {
        await probe(signal);
        return 'ok';
      } catch (err) {
        return tableFailureStatus(err);
      }
    },
  };
}

/** A partition key no row has (TwinGuard's keys are shard numbers and device ids), so the query reads nothing. */
const PROBE_PARTITION = '~readyz';

/**
 * One query of the latest-posture table (the table the read API serves from) for a partition no row has: one
 * storage transaction, no entity read, and only the rights the read API needs anyway (table data read). The SDK's
 * own retry is off (createTableClient) and the per-try timeout is the probe's.
 */
export function latestTableProbe(config: Config, timeoutMs: number): (signal: AbortSignal) => Promise<unknown> {
  const access = config.storage.access;
  const settings: TableClientSettings =
    access.kind === 'connectionString'
      ? { connectionString: access.connectionString }
      : { endpoint: access.tableEndpoint, credential: new DefaultAzureCredential() };
  const table = createTableClient(settings, config.storage.latestTable, { timeoutMs });
  const filter = odata`PartitionKey eq ${PROBE_PARTITION}`;
  return (signal) =>
    table
      .listEntities({ queryOptions: { filter, select: ['PartitionKey'] }, abortSignal: signal })
      .byPage({ maxPageSize: 1 })
      .next();
}

/**
 * The standalone host's readiness: its lifecycle (starting → serving → draining), the checks above, and a watch on
 * each Event Hubs consumer.
 *
 * A consumer's fatal receive error is read from its logger: host/event-consumer.ts logs at error level, with fields,
 * only when the event hub or consumer group is missing ("nothing is processed until it exists"); what a function
 * logs through its InvocationContext reaches that logger without fields (host/log-handler.ts), so it is not
 * mistaken for one. A consumer in that state stays not ready until the host restarts.
 */
export class HostReadiness {
  private state: 'starting' | 'serving' | 'draining' = 'starting';
  /** One flag per Event Hubs consumer: it reported a fatal receive error. */
  private readonly consumersFailed: boolean[] = [];
  private readonly readiness: Readiness;

  constructor(options: { env: Record<string, string | undefined>; timeoutMs?: number; cacheMs?: number; now?: () => number }) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
    let config: Config | undefined;
    const load = (): Config => (config ??= loadConfig(options.env));
    let probe: ((signal: AbortSignal) => Promise<unknown>) | undefined;
    const configured = configurationCheck(load);
    this.readiness = new Readiness({
      lifecycle: () => (this.state === 'serving' ? 'ok' : this.state),
      timeoutMs,
      cacheMs: options.cacheMs,
      now: options.now,
      checks: [
        configured,
        {
          name: 'storage',
          run: async (signal) => {
            if ((await configured.run(signal)) !== 'ok') return 'skipped';
            return storageCheck((probe ??= latestTableProbe(load(), timeoutMs))).run(signal);
          },
          failure: 'unreachable',
        },
        {
          name: 'events',
          // Started: the lifecycle is 'serving' only once every consumer has subscribed.
          run: () => (this.consumersFailed.some(Boolean) ? 'failed' : 'ok'),
        },
      ],
    });
  }

  /** The logger to give one Event Hubs consumer; registers the consumer with the `events` check. */
  consumerLogger(logger: Logger): Logger {
    const index = this.consumersFailed.push(false) - 1;
    return {
      ...logger,
      error: (message: string, fields?: LogFields) => {
        if (fields !== undefined) this.consumersFailed[index] = true;
        logger.error(message, fields);
      },
    };
  }

  /** Everything has started: the consumers are subscribed, the HTTP routes, timers and queues serve. */
  serving(): void {
    if (this.state === 'starting') this.state = 'serving';
  }

  /** Stop has begun: 503 from the next probe on, while in-flight work drains. */
  draining(): void {
    this.state = 'draining';
  }

  /** For HttpHostOptions.probes (host/health-routes.ts). */
  readonly probes: HealthProbes = {
    // Liveness: answering at all is the proof; it stays 200 while draining, until the process exits.
    healthz: () => Promise.resolve(),
    readyz: () => this.readiness.evaluate(),
  };
}

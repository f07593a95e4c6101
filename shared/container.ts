/**
 * Composition root of a worker: the configuration is read once, the service graph (shared/composition) is built
 * once on first use and shared by every function, and each function asks for the narrow view it uses. The graph
 * module is loaded lazily so a cold start does not load every Azure SDK. Whoever hosts the functions closes it:
 * `app.hook.appTerminate` under Azure Functions (shared/triggers/register-functions.ts), the standalone host's stop.
 */
import type { Config } from './config/config';
import { loadConfig } from './config/load-config';
import { setLogLevel } from './log-level';
import type { OperatorApiServices, SweepApiServices } from './composition/api-services-of';
import type { EventServices } from './composition/event-services';
import type { ServiceGraph } from './composition/service-graph';
import type { PostureReader } from './services/posture-queries';
import type { StormServices } from './services/storm/storm-services';
import type { SweepServices } from './services/sweep/sweep-services';
import type { AlertDispatchServices } from './services/alerts/dispatch-alerts';
import type { MitigationsApiServices } from './services/mitigations/mitigations-api';
import type { MitigationAuditStore } from './ports/mitigation-audit';

let configuration: Config | undefined;
let graph: Promise<ServiceGraph> | undefined;

/** The worker's configuration, read and validated on first use (ConfigError lists every problem). */
export function getConfig(): Config {
  if (!configuration) {
    configuration = loadConfig(process.env);
    setLogLevel(configuration.logLevel);
  }
  return configuration;
}

/** The worker's service graph, built once; a failed build is retried on the next invocation. */
export function getServiceGraph(): Promise<ServiceGraph> {
  graph ??= import('./composition/service-graph')
    .then((module) => module.buildServiceGraph(getConfig()))
    .catch((err: unknown) => {
      graph = undefined;
      throw err;
    });
  return graph;
}

/** The event path's view: registry, posture store, dead letters, processing settings. */
export async function getEventServices(): Promise<EventServices> {
  const [built, views] = await Promise.all([getServiceGraph(), import('./composition/event-services')]);
  return views.eventServicesOf(built);
}

/**
 * The read API's view: posture reads that always go to the store (never a writer's cached row), retried within
 * API_RETRY_BUDGET_MS so a storage outage is answered 503 in seconds instead of holding the request.
 */
export async function getPostureReader(): Promise<{ posture: PostureReader }> {
  const [built, views] = await Promise.all([getServiceGraph(), import('./composition/api-services-of')]);
  return views.postureReaderOf(built);
}

/** The sweep's HTTP functions' view (runs, findings, suppressions, starting a sweep), retried within API_RETRY_BUDGET_MS. */
export async function getSweepApiServices(): Promise<SweepApiServices> {
  const [built, views] = await Promise.all([getServiceGraph(), import('./composition/api-services-of')]);
  return views.sweepApiServicesOf(built);
}

/** The operator reads (overview, sweep list, dead letters), retried within API_RETRY_BUDGET_MS. */
export async function getOperatorApiServices(): Promise<OperatorApiServices> {
  const [built, views] = await Promise.all([getServiceGraph(), import('./composition/api-services-of')]);
  return views.operatorApiServicesOf(built);
}

/** The compliance sweep's view (its timer and queue functions); fails when AzureWebJobsStorage is not set. */
export async function getSweepServices(): Promise<SweepServices> {
  const [built, views] = await Promise.all([getServiceGraph(), import('./composition/sweep-services-of')]);
  return views.sweepServicesOf(built);
}

/** The registration-storm import timer's view (pending rows, import jobs, posture). */
export async function getStormServices(): Promise<StormServices> {
  const [built, views] = await Promise.all([getServiceGraph(), import('./composition/storm-services-of')]);
  return views.stormServicesOf(built);
}

/** POST /api/mitigations and the audit read: registry writes within the sweep's budget, stores within API_RETRY_BUDGET_MS. */
export async function getMitigationsApiServices(): Promise<MitigationsApiServices & { auditReader: MitigationAuditStore }> {
  const [built, views] = await Promise.all([getServiceGraph(), import('./composition/response-services-of')]);
  return views.mitigationsApiServicesOf(built);
}

/** The alert dispatcher's view; undefined when ALERT_SINK=none. */
export async function getAlertDispatchServices(): Promise<Omit<AlertDispatchServices, 'logger'> | undefined> {
  // Without a sink the timer has nothing to do: it must not build the graph (and load the SDKs) every 30 s for that.
  if (getConfig().alerts.sink.kind === 'none') return undefined;
  const [built, views] = await Promise.all([getServiceGraph(), import('./composition/response-services-of')]);
  return views.alertDispatchServicesOf(built);
}

/** Closes the graph if one was built; the next use builds a new one. */
export async function closeServices(): Promise<void> {
  const current = graph;
  graph = undefined;
  configuration = undefined;
  if (!current) return;
  const built = await current.catch(() => undefined);
  await built?.close();
}

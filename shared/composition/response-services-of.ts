/** The mitigation API's and the alert dispatcher's views of the service graph. */
import { silentLogger } from '../logger';
import type { MitigationAuditStore } from '../ports/mitigation-audit';
import type { AlertDispatchServices } from '../services/alerts/dispatch-alerts';
import type { MitigationsApiServices } from '../services/mitigations/mitigations-api';
import type { ServiceGraph } from './service-graph';

export function mitigationsApiServicesOf(graph: ServiceGraph): MitigationsApiServices & { auditReader: MitigationAuditStore } {
  return { ...graph.responses.api, sweeps: graph.api.sweeps, now: graph.now, logger: silentLogger, auditReader: graph.responses.api.audit };
}

/** Undefined when ALERT_SINK=none: the dispatcher then has nothing to do. */
export function alertDispatchServicesOf(graph: ServiceGraph): Omit<AlertDispatchServices, 'logger'> | undefined {
  const sink = graph.responses.sink();
  if (!sink) return undefined;
  return {
    outbox: graph.responses.outbox,
    sink,
    sweeps: graph.sweeps,
    source: graph.responses.source,
    complianceDropPoints: graph.config.alerts.complianceDropPoints,
    maxAttempts: graph.config.alerts.maxAttempts,
    now: graph.now,
  };
}

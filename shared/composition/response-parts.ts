/**
 * The parts behind mitigations and compliance alerts, built with the service graph from its clients: the registry
 * writes of mitigations (held to the sweep's registry budget), the audit and outbox tables (with the event path's and
 * the API's retry budgets), and the configured alert sink, built on first use (the queue sink needs AzureWebJobsStorage).
 */
import type { TableClient } from '@azure/data-tables';
import type { Registry } from 'azure-iothub';
import { EventGridAlertSink } from '../adapters/event-grid-alert-sink';
import { IotHubDeviceMitigations } from '../adapters/iothub-device-mitigations';
import { QueueAlertSink } from '../adapters/queue-alert-sink';
import { createQueueClient } from '../adapters/storage-clients';
import { TableAlertOutbox } from '../adapters/table-alert-outbox';
import { TableMitigationAudit } from '../adapters/table-mitigation-audit';
import { WebhookAlertSink } from '../adapters/webhook-alert-sink';
import type { Config } from '../config/config';
import { alertSource } from '../domain/alerts/cloud-event';
import type { Logger } from '../logger';
import type { AlertOutbox } from '../ports/alert-outbox';
import type { AlertSink } from '../ports/alert-sink';
import type { AlertRecorder } from '../services/alerts/alert-recorder';
import type { MitigationServices } from '../services/mitigations/mitigation-services';

export interface ResponseParts {
  /** For the sweep: stores retried within REGISTRY_RETRY_BUDGET_MS. */
  sweep: MitigationServices;
  /** For POST /api/mitigations: the same, stores retried within API_RETRY_BUDGET_MS. */
  api: MitigationServices;
  outbox: AlertOutbox;
  /** Absent when ALERT_SINK=none. */
  alerts?: AlertRecorder;
  source: string;
  /** The configured sink; undefined when ALERT_SINK=none. @throws when its account is not configured. */
  sink(): AlertSink | undefined;
}

function sinkFor(config: Config): AlertSink | undefined {
  const sink = config.alerts.sink;
  const timeoutMs = config.outboundTimeoutMs;
  switch (sink.kind) {
    case 'none':
      return undefined;
    case 'webhook':
      return new WebhookAlertSink({ url: sink.url, secret: sink.secret, timeoutMs });
    case 'eventGrid':
      return new EventGridAlertSink({ endpoint: sink.endpoint, key: sink.key, timeoutMs });
    case 'queue': {
      const connectionString = config.hostStorage?.connectionString;
      if (connectionString === undefined) throw new Error('ALERT_SINK=queue needs AzureWebJobsStorage');
      return new QueueAlertSink(createQueueClient(connectionString, sink.queueName, { timeoutMs }), timeoutMs);
    }
  }
}

export function responsePartsFor(
  config: Config,
  sdk: Registry,
  tables: { audit: TableClient; outbox: TableClient },
  registry: { takeOperation: () => Promise<void>; logger: Logger },
  logger: Logger,
): ResponseParts {
  // The registry's own logger counts throttles on the sweep's meter, as the sweep's registry calls are counted.
  const devices = new IotHubDeviceMitigations(sdk, {
    retryBudgetMs: config.registryRetryBudgetMs,
    logger: registry.logger,
    beforeCall: registry.takeOperation,
  });
  const settings = {
    rules: config.mitigations.rules,
    allowDisruptive: config.mitigations.allowDisruptive,
    quarantineTag: config.mitigations.quarantineTag,
    moduleId: config.securityModule.moduleId,
  };
  const source = alertSource(config.iotHub.access.hostName);
  const outbox = new TableAlertOutbox(tables.outbox, { retryBudgetMs: config.registryRetryBudgetMs, logger });
  const apiOutbox = new TableAlertOutbox(tables.outbox, { retryBudgetMs: config.apiRetryBudgetMs, logger });
  const enabled = config.alerts.sink.kind !== 'none';
  const alerts = enabled ? { outbox, source } : undefined;
  let sink: AlertSink | undefined;
  return {
    sweep: {
      devices,
      audit: new TableMitigationAudit(tables.audit, { retryBudgetMs: config.registryRetryBudgetMs, logger }),
      ...(alerts ? { alerts } : {}),
      settings,
    },
    api: {
      devices,
      audit: new TableMitigationAudit(tables.audit, { retryBudgetMs: config.apiRetryBudgetMs, logger }),
      ...(enabled ? { alerts: { outbox: apiOutbox, source } } : {}),
      settings,
    },
    outbox,
    ...(alerts ? { alerts } : {}),
    source,
    sink: () => (sink ??= sinkFor(config)),
  };
}

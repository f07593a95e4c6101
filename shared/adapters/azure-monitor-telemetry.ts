/**
 * Starts the Azure Monitor OpenTelemetry distro (`useAzureMonitor`, @azure/monitor-opentelemetry) with the
 * APPLICATIONINSIGHTS_CONNECTION_STRING and returns the Telemetry port over the providers it registered: metrics go
 * to `customMetrics`, log records to `traces` (attributes as customDimensions), outgoing HTTP and Azure SDK calls to
 * `dependencies`. Loaded only through a dynamic import (shared/composition/telemetry.ts), so a worker without the
 * setting never loads OpenTelemetry.
 */
import type { Telemetry } from '../ports/telemetry';
import type { TraceBinder } from '../telemetry/invocation-trace';

export interface AzureMonitorTelemetryOptions {
  connectionString: string;
  /** Metric export interval (distro default 60 s). */
  metricExportIntervalMs?: number;
  /** Keep unsent telemetry on disk for retry (distro default on); tests turn it off. */
  disableOfflineStorage?: boolean;
}

export interface StartedTelemetry {
  telemetry: Telemetry;
  /** Runs a handler inside the trace a W3C traceparent names (shared/telemetry/invocation-trace.ts). */
  bindTraceContext: TraceBinder;
  shutdown(): Promise<void>;
}

interface Flushable {
  forceFlush?: () => Promise<void>;
  getDelegate?: () => Flushable;
}

async function forceFlush(provider: unknown): Promise<void> {
  const candidate = provider as Flushable;
  const target = typeof candidate.forceFlush === 'function' ? candidate : candidate.getDelegate?.();
  await target?.forceFlush?.();
}

export async function startAzureMonitorTelemetry(options: AzureMonitorTelemetryOptions): Promise<StartedTelemetry> {
  const [monitor, api, logsApi, adapter] = await Promise.all([
    import('@azure/monitor-opentelemetry'),
    import('@opentelemetry/api'),
    import('@opentelemetry/api-logs'),
    import('./otel-telemetry'),
  ]);
  monitor.useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString: options.connectionString,
      ...(options.disableOfflineStorage ? { disableOfflineStorage: true } : {}),
    },
    enableLiveMetrics: false,
    instrumentationOptions: {
      http: { enabled: true },
      azureSdk: { enabled: true },
      mongoDb: { enabled: false },
      mySql: { enabled: false },
      postgreSql: { enabled: false },
      redis: { enabled: false },
      redis4: { enabled: false },
      bunyan: { enabled: false },
      winston: { enabled: false },
    },
    ...(options.metricExportIntervalMs === undefined ? {} : { metricExportIntervalMillis: options.metricExportIntervalMs }),
  });
  const flushAll = async (): Promise<void> => {
    await Promise.allSettled([
      forceFlush(api.metrics.getMeterProvider()),
      forceFlush(logsApi.logs.getLoggerProvider()),
      forceFlush(api.trace.getTracerProvider()),
    ]);
  };
  const telemetry = new adapter.OpenTelemetryTelemetry(api.metrics.getMeter('twinguard'), logsApi.logs.getLogger('twinguard'), flushAll);
  const bindTraceContext: TraceBinder = (handler, traceParent, traceState) =>
    api.context.bind(
      api.propagation.extract(api.context.active(), { traceparent: traceParent, ...(traceState ? { tracestate: traceState } : {}) }),
      handler,
    );
  return {
    telemetry,
    bindTraceContext,
    async shutdown() {
      await telemetry.flush();
      await monitor.shutdownAzureMonitor().catch(() => undefined);
    },
  };
}

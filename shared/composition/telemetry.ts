/**
 * Starts the worker's telemetry from the configuration, once per process: with APPLICATIONINSIGHTS_CONNECTION_STRING
 * the Azure Monitor adapter is imported (dynamically: without the setting no OpenTelemetry module is ever loaded) and
 * added as a sink of shared/telemetry/telemetry-hub.ts. The distro registers process-wide providers, so a rebuilt
 * service graph reuses the running one; closing the graph only flushes it.
 */
import type { Config } from '../config/config';
import { workerLogger } from '../worker-logger';
import { errorMessage } from '../errors';
import { addTelemetrySink, flushTelemetry, setLogRecordExport } from '../telemetry/telemetry-hub';
import { logLinesShippedByHost, shouldExportLogRecords } from '../telemetry/log-record-export';
import { setInvocationTraceBinder } from '../telemetry/invocation-trace';

let started: Promise<(() => Promise<void>) | undefined> | undefined;

/** Starts Application Insights telemetry when configured; a failure to start is logged, never fatal. */
export function startConfiguredTelemetry(config: Config): Promise<void> {
  const connectionString = config.telemetry.applicationInsightsConnectionString;
  if (connectionString === undefined) return Promise.resolve();
  setLogRecordExport(shouldExportLogRecords(config.telemetry.logRecords, logLinesShippedByHost()));
  started ??= import('../adapters/azure-monitor-telemetry')
    .then(async (adapter) => {
      const running = await adapter.startAzureMonitorTelemetry({ connectionString });
      const remove = addTelemetrySink(running.telemetry);
      setInvocationTraceBinder(running.bindTraceContext);
      return async () => {
        remove();
        setInvocationTraceBinder(undefined);
        await running.shutdown();
      };
    })
    .catch((err: unknown) => {
      workerLogger.warn('telemetry to Application Insights could not be started', { error: errorMessage(err) });
      return undefined;
    });
  return started.then(() => undefined);
}

/** Sends what telemetry has buffered (the graph's close, the Functions worker's terminate). */
export function flushConfiguredTelemetry(): Promise<void> {
  return flushTelemetry();
}

/** Stops the Application Insights telemetry of this process (tests; the next start begins anew). */
export async function stopConfiguredTelemetry(): Promise<void> {
  const current = started;
  started = undefined;
  const stop = await current;
  await stop?.();
}

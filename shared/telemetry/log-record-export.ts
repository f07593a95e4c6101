/**
 * Whether TwinGuard's telemetry exports log records (Application Insights `traces`) as well as metrics.
 *
 * Under the Azure Functions host every `context.log` line already reaches Application Insights as a trace, with the
 * invocation id (the host's own logger, "Monitor executions in Azure Functions",
 * https://learn.microsoft.com/azure/azure-functions/functions-monitoring); the worker exporting the same record
 * again would store and bill every line twice. The standalone host's lines go to its console only, so there the
 * worker's export is the one copy. `TELEMETRY_LOG_RECORDS=on` forces the structured copy (device id and every field
 * as customDimensions) for operators who lower the host's `Function` log category in host.json instead.
 */
export type LogRecordExportMode = 'auto' | 'on' | 'off';

export const LOG_RECORD_EXPORT_MODES: readonly LogRecordExportMode[] = ['auto', 'on', 'off'];

let hostShipsLogLines = true;

/** The standalone host says so at start: its log lines stay on its console, nothing ships them. */
export function declareLogLinesStayLocal(): void {
  hostShipsLogLines = false;
}

/** True unless the standalone host declared otherwise: the Functions host forwards each line. */
export function logLinesShippedByHost(): boolean {
  return hostShipsLogLines;
}

/** The decision itself: `auto` exports only where no host ships the lines already. */
export function shouldExportLogRecords(mode: LogRecordExportMode, shippedByHost: boolean): boolean {
  if (mode === 'on') return true;
  if (mode === 'off') return false;
  return !shippedByHost;
}

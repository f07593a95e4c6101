import type { LogLevel } from '../log-level';
import { logsAt } from '../log-level';
import { redactSecrets, type LogFields, type Logger } from '../logger';
import { exportLogRecord, hasTelemetrySinks, recordMetricsOf } from '../telemetry/telemetry-hub';

/** The part of an Azure Functions InvocationContext (or any host context) that logging needs. */
export interface LogSink {
  debug(...args: unknown[]): void;
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  /** InvocationContext's; carried as an attribute of every telemetry record of the invocation. */
  readonly invocationId?: string;
  readonly functionName?: string;
}

function format(message: string, fields?: LogFields): string {
  if (!fields || Object.keys(fields).length === 0) return redactSecrets(message);
  return redactSecrets(`${message} ${JSON.stringify(fields)}`);
}

/**
 * Adapts a host logging context to the domain Logger: one line per message, fields as JSON so Application Insights
 * keeps them searchable, secrets redacted on the way out, and LOG_LEVEL (shared/log-level.ts) applied when a line is
 * written, so every function filters alike. When telemetry is on (shared/telemetry/telemetry-hub.ts) each record
 * also yields its metrics (whatever LOG_LEVEL) and, at the level that writes it, a log record whose attributes are
 * its fields plus the invocation id (scrubbed there).
 */
export function loggerFor(sink: LogSink, baseFields: LogFields = {}): Logger {
  const merged = (fields?: LogFields): LogFields => ({ ...baseFields, ...fields });
  const identity: LogFields = {};
  if (typeof sink.invocationId === 'string') identity['invocationId'] = sink.invocationId;
  if (typeof sink.functionName === 'string') identity['functionName'] = sink.functionName;
  const write = (level: LogLevel, line: (text: string) => void, message: string, fields?: LogFields): void => {
    const all = merged(fields);
    const writes = level === 'error' || logsAt(level);
    if (hasTelemetrySinks()) {
      recordMetricsOf(message, all);
      if (writes) exportLogRecord(level, message, { ...identity, ...all });
    }
    if (writes) line(format(message, all));
  };
  return {
    debug: (message, fields) => write('debug', (text) => sink.debug(text), message, fields),
    info: (message, fields) => write('info', (text) => sink.log(text), message, fields),
    warn: (message, fields) => write('warn', (text) => sink.warn(text), message, fields),
    error: (message, fields) => write('error', (text) => sink.error(text), message, fields),
  };
}

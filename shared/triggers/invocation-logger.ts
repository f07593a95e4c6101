import { logsAt } from '../log-level';
import { redactSecrets, type LogFields, type Logger } from '../logger';

/** The part of an Azure Functions InvocationContext (or any host context) that logging needs. */
export interface LogSink {
  debug(...args: unknown[]): void;
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

function format(message: string, fields?: LogFields): string {
  if (!fields || Object.keys(fields).length === 0) return redactSecrets(message);
  return redactSecrets(`${message} ${JSON.stringify(fields)}`);
}

/**
 * Adapts a host logging context to the domain Logger: one line per message, fields as JSON so Application Insights
 * keeps them searchable, secrets redacted on the way out, and LOG_LEVEL (shared/log-level.ts) applied when a line is
 * written, so every function filters alike.
 */
export function loggerFor(sink: LogSink, baseFields: LogFields = {}): Logger {
  const merged = (fields?: LogFields): LogFields => ({ ...baseFields, ...fields });
  return {
    debug: (message, fields) => {
      if (logsAt('debug')) sink.debug(format(message, merged(fields)));
    },
    info: (message, fields) => {
      if (logsAt('info')) sink.log(format(message, merged(fields)));
    },
    warn: (message, fields) => {
      if (logsAt('warn')) sink.warn(format(message, merged(fields)));
    },
    error: (message, fields) => sink.error(format(message, merged(fields))),
  };
}

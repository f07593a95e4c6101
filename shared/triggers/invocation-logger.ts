import { redactSecrets, type LogFields, type Logger } from '../logger';

/** The part of an Azure Functions InvocationContext (or any host context) that logging needs. */
export interface LogSink {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

function format(message: string, fields?: LogFields): string {
  if (!fields || Object.keys(fields).length === 0) return redactSecrets(message);
  return redactSecrets(`${message} ${JSON.stringify(fields)}`);
}

/**
 * Adapts a host logging context to the domain Logger, dropping what LOG_LEVEL filters out: one line per message, fields as JSON so
 * Application Insights keeps them searchable, secrets redacted on the way out.
 */
export function loggerFor(sink: LogSink, baseFields: LogFields = {}, level: 'error' | 'warn' | 'info' | 'debug' = 'info'): Logger {
  const merged = (fields?: LogFields): LogFields => ({ ...baseFields, ...fields });
  const quiet = (): void => undefined;
  return {
    info: level === 'info' || level === 'debug' ? (message, fields) => sink.log(format(message, merged(fields))) : quiet,
    warn: level === 'error' ? quiet : (message, fields) => sink.warn(format(message, merged(fields))),
    error: (message, fields) => sink.error(format(message, merged(fields))),
  };
}

import { logsAt, type LogLevel } from '../shared/log-level';
import { redactSecrets, type LogFields, type Logger } from '../shared/logger';

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/** Readable one-line logs for a terminal: `HH:MM:SS level message key=value …`, LOG_LEVEL applied, secrets redacted. */
export function consoleLogger(options: { quiet?: (message: string) => boolean } = {}): Logger {
  const line = (level: string, threshold: LogLevel, message: string, fields?: LogFields): void => {
    if (!logsAt(threshold) || options.quiet?.(message)) return;
    const time = new Date().toISOString().slice(11, 19);
    const rendered =
      fields && Object.keys(fields).length > 0
        ? ` ${Object.entries(fields)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => `${k}=${formatValue(v)}`)
            .join(' ')}`
        : '';
    const text = redactSecrets(`${time} ${level} ${message}${rendered}`);
    if (level === 'ERROR') console.error(text);
    else console.log(text);
  };
  return {
    debug: (message, fields) => line('debug', 'debug', message, fields),
    info: (message, fields) => line('info ', 'info', message, fields),
    warn: (message, fields) => line('WARN ', 'warn', message, fields),
    error: (message, fields) => line('ERROR', 'error', message, fields),
  };
}

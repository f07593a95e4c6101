/**
 * The logger of work that belongs to no invocation (the adapters' retries, the service graph): console lines, which
 * the Functions worker forwards to the host's log and the standalone host's terminal shows, with LOG_LEVEL applied
 * and secrets redacted. When telemetry is on, each written line is also a log record (scrubbed attributes); its
 * metrics are taken before the rate limiter drops lines (shared/composition/service-graph.ts, metricsTap).
 */
import { logsAt, type LogLevel } from './log-level';
import { redactSecrets, type LogFields, type Logger } from './logger';
import { exportLogRecord } from './telemetry/telemetry-hub';

function line(message: string, fields?: LogFields): string {
  return redactSecrets(fields && Object.keys(fields).length > 0 ? `${message} ${JSON.stringify(fields)}` : message);
}

function written(level: LogLevel, message: string, fields?: LogFields): string {
  exportLogRecord(level, message, fields);
  return line(message, fields);
}

/* eslint-disable no-console -- the one place outside an invocation where shared/ writes a log line: the console is the worker's log */
export const workerLogger: Logger = {
  debug: (message, fields) => {
    if (logsAt('debug')) console.debug(written('debug', message, fields));
  },
  info: (message, fields) => {
    if (logsAt('info')) console.info(written('info', message, fields));
  },
  warn: (message, fields) => {
    if (logsAt('warn')) console.warn(written('warn', message, fields));
  },
  error: (message, fields) => console.error(written('error', message, fields)),
};
/* eslint-enable no-console */

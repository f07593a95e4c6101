/**
 * The logger of work that belongs to no invocation (the adapters' retries, the service graph): console lines, which
 * the Functions worker forwards to the host's log and the standalone host's terminal shows, with LOG_LEVEL applied
 * and secrets redacted.
 */
import { logsAt } from './log-level';
import { redactSecrets, type LogFields, type Logger } from './logger';

function line(message: string, fields?: LogFields): string {
  return redactSecrets(fields && Object.keys(fields).length > 0 ? `${message} ${JSON.stringify(fields)}` : message);
}

/* eslint-disable no-console -- the one place outside an invocation where shared/ writes a log line: the console is the worker's log */
export const workerLogger: Logger = {
  debug: (message, fields) => {
    if (logsAt('debug')) console.debug(line(message, fields));
  },
  info: (message, fields) => {
    if (logsAt('info')) console.info(line(message, fields));
  },
  warn: (message, fields) => {
    if (logsAt('warn')) console.warn(line(message, fields));
  },
  error: (message, fields) => console.error(line(message, fields)),
};
/* eslint-enable no-console */

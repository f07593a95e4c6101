import type { LogHandler } from '@azure/functions';
import type { Logger } from '../shared/logger';

/**
 * Routes what a handler logs through its InvocationContext to the host's logger, as the Functions
 * host routes it to its own log: errors and warnings always, information unless `quietInfo`
 * (HTTP requests log one line each, which would drown a terminal), never trace or debug.
 */
export function logHandlerFor(logger: Logger, options: { quietInfo?: boolean } = {}): LogHandler {
  return (level, ...args) => {
    const line = args.map((a: unknown) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
    if (level === 'error' || level === 'critical') logger.error(line);
    else if (level === 'warning') logger.warn(line);
    else if (level === 'information' && !options.quietInfo) logger.info(line);
    else if (level === 'debug' || level === 'trace') logger.debug(line);
  };
}

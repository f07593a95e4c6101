/**
 * A logger that lets through at most one WARN line per message and operation per interval, so a throttling storm or an
 * outage shows up in the log as a steady trickle instead of a flood. The line that does get through says how many
 * were held back since the previous one (`suppressed`). Other levels pass through untouched.
 */
import type { LogFields, Logger } from './logger';

export interface RateLimitedLoggerOptions {
  /** Default 10,000 ms. */
  intervalMs?: number;
  now?: () => number;
}

/** Distinct message/operation pairs remembered; far above what the adapters use, it only bounds a misuse. */
const MAX_KEYS = 1000;

export function rateLimitedLogger(inner: Logger, options: RateLimitedLoggerOptions = {}): Logger {
  const intervalMs = options.intervalMs ?? 10_000;
  const now = options.now ?? Date.now;
  const seen = new Map<string, { lastAt: number; suppressed: number }>();

  const warn = (message: string, fields?: LogFields): void => {
    const operation = fields?.['operation'];
    const key = `${message}\u0000${typeof operation === 'string' ? operation : ''}`;
    const at = now();
    const entry = seen.get(key);
    if (entry && at - entry.lastAt < intervalMs) {
      entry.suppressed += 1;
      return;
    }
    if (!entry && seen.size >= MAX_KEYS) seen.clear();
    const suppressed = entry?.suppressed ?? 0;
    seen.set(key, { lastAt: at, suppressed: 0 });
    inner.warn(message, suppressed > 0 ? { ...fields, suppressed } : fields);
  };

  return {
    debug: (message, fields) => inner.debug(message, fields),
    info: (message, fields) => inner.info(message, fields),
    warn,
    error: (message, fields) => inner.error(message, fields),
  };
}

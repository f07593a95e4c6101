/**
 * A Logger decorator that takes each record's metrics (shared/telemetry/metrics-from-log.ts) and passes the record on.
 * The service graph puts it in front of the rate limiter, so a retry storm is counted in full even though only a
 * trickle of its lines is written.
 */
import type { Logger } from '../logger';
import { recordMetricsOf } from './telemetry-hub';

export function metricsTap(inner: Logger): Logger {
  return {
    debug: (message, fields) => {
      recordMetricsOf(message, fields);
      inner.debug(message, fields);
    },
    info: (message, fields) => {
      recordMetricsOf(message, fields);
      inner.info(message, fields);
    },
    warn: (message, fields) => {
      recordMetricsOf(message, fields);
      inner.warn(message, fields);
    },
    error: (message, fields) => {
      recordMetricsOf(message, fields);
      inner.error(message, fields);
    },
  };
}

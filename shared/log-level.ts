/**
 * The worker's LOG_LEVEL, one value every logger consults at the time it logs: the functions' invocation loggers,
 * the worker logger of the adapters and the standalone host's console logger. Set from the validated configuration
 * by whoever loads it (shared/container.ts, host/cli.ts); `info` until then.
 */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const RANK: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };

let current: LogLevel = 'info';

export function setLogLevel(level: LogLevel): void {
  current = level;
}

export function currentLogLevel(): LogLevel {
  return current;
}

/** Whether a line at `level` passes the current LOG_LEVEL. */
export function logsAt(level: LogLevel): boolean {
  return RANK[level] <= RANK[current];
}

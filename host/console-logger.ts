import { errorMessage } from '../shared/errors';
import { logsAt, type LogLevel } from '../shared/log-level';
import { redactSecrets, type LogFields, type Logger } from '../shared/logger';

export type LogFormat = 'text' | 'json';

/**
 * STANDALONE_LOG_FORMAT, read by host/cli.ts: `text` for a terminal, `json` for a container's log collector (one
 * JSON object per line). Only the standalone host's console reads it, like the other STANDALONE_ settings.
 */
export const LOG_FORMAT_SETTING = {
  name: 'STANDALONE_LOG_FORMAT',
  default: 'text',
  description:
    'Console log lines of the standalone host: text (HH:MM:SS level message key=value) or json (one object per line: time, level, message, fields) for container log collectors.',
} as const;

export function readLogFormat(env: Record<string, string | undefined>): LogFormat {
  const value = env[LOG_FORMAT_SETTING.name]?.trim().toLowerCase() || LOG_FORMAT_SETTING.default;
  if (value !== 'text' && value !== 'json') throw new Error(`${LOG_FORMAT_SETTING.name} must be text or json`);
  return value;
}

export interface ConsoleLoggerOptions {
  /** Lines whose message this returns true for are dropped (the demo's per-batch summaries). */
  quiet?: (message: string) => boolean;
  /** Default text. */
  format?: LogFormat;
  /** Where a finished line goes (default: console.error for errors, console.log otherwise). */
  write?: (line: string, level: LogLevel) => void;
  now?: () => Date;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return formatValue(errorMessage(value));
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return '[unserializable]';
  }
}

const SECRET_FIELD = /^(SharedAccessKey|AccountKey|SharedAccessSignature|sig)$/i;

/**
 * A field value as JSON can carry it, with every string redacted: strings are redacted one by one (never the
 * serialized line, where cutting a secret could also cut an escape and break the JSON); an Error becomes its message,
 * a bigint its digits, a cycle '[circular]'.
 */
function jsonSafe(value: unknown, seen: Set<object>): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return redactSecrets(errorMessage(value));
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value !== 'object' || value === null) return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => jsonSafe(item, seen) ?? null);
    const out: Record<string, unknown> = {};
    for (const [key, nested] of Object.entries(value)) {
      // A field named like a key is what `key=value` text would have redacted.
      const safe = SECRET_FIELD.test(key) ? '***' : jsonSafe(nested, seen);
      if (safe !== undefined) out[key] = safe;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/**
 * A function's log line arrives as one string, `message {"field":…}` (shared/triggers/invocation-logger.ts formats it
 * so Application Insights keeps the fields searchable; host/log-handler.ts passes it on). For a JSON line the fields
 * are lifted back out, so a collector can query them; a line whose tail is not a JSON object stays as it is.
 */
function liftFields(message: string): { message: string; fields?: Record<string, unknown> } {
  if (!message.endsWith('}')) return { message };
  for (let at = message.indexOf(' {'); at >= 0; at = message.indexOf(' {', at + 1)) {
    try {
      const parsed: unknown = JSON.parse(message.slice(at + 1));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        return { message: message.slice(0, at), fields: parsed as Record<string, unknown> };
    } catch {
      // not the start of the fields; try the next ' {'
    }
  }
  return { message };
}

const TEXT_LEVEL: Readonly<Record<LogLevel, string>> = { debug: 'debug', info: 'info ', warn: 'WARN ', error: 'ERROR' };

/**
 * The standalone host's console: LOG_LEVEL applied (shared/log-level.ts, read at each line), secrets redacted.
 * - text: `HH:MM:SS level message key=value …`, readable in a terminal;
 * - json: `{"time":"<ISO 8601>","level":"info","message":"…","fields":{…}}` per line (`fields` only when there are
 *   some, a function's fields lifted out of its message), for container log collectors.
 */
export function consoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const format = options.format ?? 'text';
  const now = options.now ?? (() => new Date());
  const write =
    options.write ??
    ((line: string, level: LogLevel): void => {
      if (level === 'error') console.error(line);
      else console.log(line);
    });
  const line = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (!logsAt(level) || options.quiet?.(message)) return;
    const defined = fields ? Object.entries(fields).filter(([, v]) => v !== undefined) : [];
    if (format === 'json') {
      const lifted = defined.length > 0 ? { message, fields: Object.fromEntries(defined) } : liftFields(message);
      const record: Record<string, unknown> = { time: now().toISOString(), level, message: redactSecrets(lifted.message) };
      if (lifted.fields !== undefined) record['fields'] = jsonSafe(lifted.fields, new Set());
      write(JSON.stringify(record), level);
      return;
    }
    const rendered = defined.length > 0 ? ` ${defined.map(([k, v]) => `${k}=${formatValue(v)}`).join(' ')}` : '';
    write(redactSecrets(`${now().toISOString().slice(11, 19)} ${TEXT_LEVEL[level]} ${message}${rendered}`), level);
  };
  return {
    debug: (message, fields) => line('debug', message, fields),
    info: (message, fields) => line('info', message, fields),
    warn: (message, fields) => line('warn', message, fields),
    error: (message, fields) => line('error', message, fields),
  };
}

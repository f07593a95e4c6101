/**
 * The Storage Queue trigger's host.json settings (`extensions.queues`), read by the standalone host so it polls as
 * the Functions host does with the same file, including Functions' app-setting overrides
 * (`AzureFunctionsJobHost__extensions__queues__batchSize=1`, keys case-insensitive). Supported: batchSize (1–32,
 * Functions default 16), maxDequeueCount (≥ 1, default 5), maxPollingInterval (ms or a TimeSpan "hh:mm:ss", ≥ 100 ms)
 * and visibilityTimeout (the delay before a failed message is retried, TimeSpan, default 0). Defaults from
 * Microsoft.Azure.WebJobs.Host.QueuesOptions ("BatchSize … Must be in range within 1 and 32. The default is 16").
 */
import type { QueuePollerOptions } from './queue-poller';

type Env = Record<string, string | undefined>;

const OVERRIDE_PREFIX = 'azurefunctionsjobhost__extensions__queues__';

/** `hh:mm:ss[.fff]` or `d.hh:mm:ss` → ms; undefined when it is not one. */
function timeSpanMs(text: string): number | undefined {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(text.trim());
  if (!match) return undefined;
  const [, days = '0', hours = '0', minutes = '0', seconds = '0'] = match;
  return Math.round(((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(seconds) * 1000);
}

function durationMs(value: unknown, numbersAreMs: boolean): number | undefined {
  if (typeof value === 'number') return numbersAreMs ? value : undefined;
  // A bare digit string is ambiguous (.NET would read "2000" as 2,000 days): only a TimeSpan is accepted.
  return typeof value === 'string' ? timeSpanMs(value) : undefined;
}

/**
 * QueuePoller options from host.json's `extensions.queues` and the environment's overrides. @throws Error naming the
 * setting when a value is present but invalid (a host that silently polled differently from Functions would hide it).
 */
export function queueOptionsFromHostJson(hostJson: unknown, env: Env): QueuePollerOptions {
  const section = (hostJson as { extensions?: { queues?: Record<string, unknown> } } | undefined)?.extensions?.queues ?? {};
  const values = new Map<string, unknown>(Object.entries(section).map(([key, value]) => [key.toLowerCase(), value]));
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && name.toLowerCase().startsWith(OVERRIDE_PREFIX))
      values.set(name.slice(OVERRIDE_PREFIX.length).toLowerCase(), value);
  }
  const problems: string[] = [];
  const options: QueuePollerOptions = {};
  const integer = (key: string, min: number, max: number): number | undefined => {
    const raw = values.get(key.toLowerCase());
    if (raw === undefined) return undefined;
    const parsed = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (Number.isInteger(parsed) && parsed >= min && parsed <= max) return parsed;
    problems.push(`extensions.queues.${key} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return undefined;
  };
  const duration = (key: string, numbersAreMs: boolean, min: number): number | undefined => {
    const raw = values.get(key.toLowerCase());
    if (raw === undefined) return undefined;
    const ms = durationMs(raw, numbersAreMs);
    if (ms !== undefined && ms >= min) return ms;
    problems.push(`extensions.queues.${key} must be a duration (a TimeSpan such as "00:00:30"), got ${JSON.stringify(raw)}`);
    return undefined;
  };
  const batchSize = integer('batchSize', 1, 32);
  if (batchSize !== undefined) options.batchSize = batchSize;
  const maxDequeueCount = integer('maxDequeueCount', 1, 1000);
  if (maxDequeueCount !== undefined) options.maxDequeueCount = maxDequeueCount;
  // Functions reads a bare number here as milliseconds (the v1 host.json form) and a string as a TimeSpan.
  const maxPollMs = duration('maxPollingInterval', true, 100);
  if (maxPollMs !== undefined) options.maxPollMs = maxPollMs;
  const retryMs = duration('visibilityTimeout', false, 0);
  if (retryMs !== undefined) options.retryVisibilityTimeoutSeconds = Math.round(retryMs / 1000);
  if (problems.length > 0) throw new Error(`host.json queue settings are invalid:\n- ${problems.join('\n- ')}`);
  return options;
}

/**
 * Turns a log record's fields into telemetry attributes that can leave the process: no field whose name says it holds
 * a secret (key, connection string, token, SAS, password, credential), no key material inside a value (the SDKs'
 * error messages sometimes echo a connection string or a SAS URL), nested values as bounded JSON.
 */
import { redactSecrets, type LogFields } from '../logger';
import type { LogAttributes } from '../ports/telemetry';

/** A field name that is, or is part of, a secret's name: its value is never exported, whatever it holds. */
const SECRET_NAME = /key|secret|passw|pwd|token|connection|credential|signature|sas|authori[sz]ation|cookie|^sig$|^code$/i;

/** Key material the log redaction does not cover, besides what redactSecrets does. */
const EXTRA_PATTERNS: readonly RegExp[] = [
  /(InstrumentationKey|ApplicationId|AccessKey|x-functions-key|[?&]code)=([^;&\s"',]+)/gi,
  /(Bearer\s+)([A-Za-z0-9._~+/=-]+)/g,
];

/** Application Insights keeps at most 8192 characters of a custom dimension. */
const MAX_VALUE_LENGTH = 8192;
const MAX_ATTRIBUTES = 64;
const MAX_DEPTH = 4;

export function scrubText(text: string): string {
  let out = redactSecrets(text);
  for (const pattern of EXTRA_PATTERNS) out = out.replace(pattern, (_match, name: string) => `${name}${name.endsWith(' ') ? '' : '='}***`);
  return out.length > MAX_VALUE_LENGTH ? `${out.slice(0, MAX_VALUE_LENGTH - 1)}…` : out;
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** A nested value with secret-named keys removed, for JSON. */
function withoutSecrets(value: unknown, depth: number): unknown {
  if (Array.isArray(value)) return depth >= MAX_DEPTH ? '[…]' : value.slice(0, 100).map((item) => withoutSecrets(item, depth + 1));
  if (typeof value === 'object' && value !== null) {
    if (value instanceof Error) return value.message;
    if (depth >= MAX_DEPTH) return '{…}';
    const out: Record<string, unknown> = {};
    for (const [key, nested] of Object.entries(value)) if (!isSecretName(key)) out[key] = withoutSecrets(nested, depth + 1);
    return out;
  }
  return value;
}

function attributeValue(value: unknown): string | number | boolean | undefined {
  switch (typeof value) {
    case 'string':
      return scrubText(value);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'object':
      if (value === null) return undefined;
      return scrubText(JSON.stringify(withoutSecrets(value, 0)) ?? '');
    default:
      return undefined;
  }
}

export function scrubAttributes(fields: LogFields): LogAttributes {
  const out: Record<string, string | number | boolean> = {};
  let count = 0;
  for (const [key, value] of Object.entries(fields)) {
    if (count >= MAX_ATTRIBUTES) break;
    if (isSecretName(key)) continue;
    const scrubbed = attributeValue(value);
    if (scrubbed === undefined) continue;
    out[key] = scrubbed;
    count += 1;
  }
  return out;
}

/** Connection strings (`Key=value;…`): reading their parts, and showing them with every secret part masked. */
import { redactSecrets } from '../logger';

/** `Key=value;…` with case-insensitive keys. Values are never echoed by callers. */
export function parseConnectionString(text: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const segment of text.split(';')) {
    const equals = segment.indexOf('=');
    if (equals <= 0) continue;
    parts.set(segment.slice(0, equals).trim().toLowerCase(), segment.slice(equals + 1).trim());
  }
  return parts;
}

/** The required keys that are absent or empty. */
export function missingParts(parts: Map<string, string>, required: readonly string[]): string[] {
  return required.filter((key) => !parts.get(key.toLowerCase()));
}

/** Connection-string parts that identify a resource without granting access; everything else is masked. */
const PUBLIC_CONNECTION_PARTS = new Set([
  'hostname',
  'sharedaccesskeyname',
  'endpoint',
  'entitypath',
  'accountname',
  'defaultendpointsprotocol',
  'endpointsuffix',
  'tableendpoint',
  'blobendpoint',
  'queueendpoint',
  'fileendpoint',
  'usedevelopmentstorage',
]);

/** Allow-list rather than deny-list: a malformed or unfamiliar secret is masked whole, never shown. */
export function redactConnectionString(text: string): string {
  const masked = text.split(';').map((segment) => {
    if (segment.trim() === '') return segment;
    const equals = segment.indexOf('=');
    if (equals <= 0) return '***';
    const key = segment.slice(0, equals).trim();
    if (PUBLIC_CONNECTION_PARTS.has(key.toLowerCase())) return segment;
    // A "key" that is not a word is probably key material itself (base64 ends in '=').
    return /^[A-Za-z]+$/.test(key) ? `${key}=***` : '***';
  });
  return redactSecrets(masked.join(';'));
}

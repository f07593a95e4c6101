/**
 * The narrow logging interface domain services see. Fields are structured; messages never carry
 * secrets (connection strings and keys are redacted at the edges, see redactSecrets).
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const SECRET_PATTERNS: RegExp[] = [
  /(SharedAccessKey|AccountKey|SharedAccessSignature|sig)=([^;&\s"']+)/gi,
  /(SharedAccessSignature\s+)([^\s"']+)/g,
];

/** Removes key material from text (error messages from SDKs sometimes echo connection strings). */
export function redactSecrets(text: string): string {
  // Every pattern needs one of these; most log lines have neither, so skip the regular expressions.
  if (!text.includes('=') && !text.includes('SharedAccessSignature')) return text;
  let out = text;
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, (_m, name: string) => `${name}${name.endsWith(' ') ? '' : '='}***`);
  return out;
}

export const silentLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

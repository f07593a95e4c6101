/** Reading loosely typed Table entity properties back into domain values. */

/** The property when it is a string. */
export function stringValue(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A DateTime property (a Date from the SDK, or an ISO string) as ISO 8601. */
export function isoString(value: unknown): string | undefined {
  return value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : undefined;
}

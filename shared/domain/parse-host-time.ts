/**
 * ISO 8601 date-time with optional fraction (any number of digits: .NET writes 7) and optional zone.
 * Parsed by hand with Date.UTC: a zone-less .NET DateTime from the host is UTC, and Date.parse would
 * read it as local time.
 */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:(Z)|([+-])(\d{2}):(\d{2}))?$/;

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function parseIsoDateTime(text: string): number | undefined {
  const match = ISO_DATE_TIME.exec(text);
  if (!match) return undefined;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const hour = Number(match[4]);
  const minute = Number(match[5]);
  const second = match[6] === undefined ? 0 : Number(match[6]);
  const fraction = match[7];
  const daysInMonth = month === 2 && !isLeapYear(year) ? 28 : (DAYS_IN_MONTH[month - 1] ?? 0);
  if (day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = fraction === undefined ? 0 : Number(fraction.length >= 3 ? fraction.slice(0, 3) : fraction.padEnd(3, '0'));
  let utc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Date.UTC maps years 0–99 to 1900–1999.
  if (year < 100) utc = new Date(utc).setUTCFullYear(year);
  if (match[9] === undefined) return utc;
  const offset = (Number(match[10]) * 60 + Number(match[11])) * 60000;
  return match[9] === '-' ? utc + offset : utc - offset;
}

/** Accepts ISO strings with or without zone (no zone = UTC, as the host means it), epoch milliseconds and Dates. */
export function parseHostTime(value: unknown): Date | undefined {
  let time: number | undefined;
  if (value instanceof Date) time = value.getTime();
  else if (typeof value === 'number') time = value;
  else if (typeof value === 'string') time = parseIsoDateTime(value);
  return time !== undefined && Number.isFinite(time) ? new Date(time) : undefined;
}

/** The timestamp IoT Hub uses for "never" (connection times, empty metadata). */
export const NEVER = '0001-01-01T00:00:00Z';

/** ISO 8601 with 7 fractional digits, as IoT Hub writes times (JS only has ms precision). */
export function hubTimestamp(date: Date): string {
  return `${date.toISOString().slice(0, 23)}0000Z`;
}

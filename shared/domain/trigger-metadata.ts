/** Reading `context.triggerMetadata` of an Event Hubs trigger: a loosely typed record, per-event values in arrays. */

export type UnknownRecord = Record<string, unknown>;

export function isRecord(value: unknown): value is UnknownRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** The event's value: `singleKey` for a single-event invocation, else entry `index` of the `arrayKey` array. */
export function arrayEntry(metadata: UnknownRecord, arrayKey: string, singleKey: string, index: number, single: boolean): unknown {
  if (single) return metadata[singleKey];
  const array = metadata[arrayKey];
  return Array.isArray(array) ? array[index] : undefined;
}

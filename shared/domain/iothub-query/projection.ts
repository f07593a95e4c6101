/** What a SELECT returns per row: the whole twin, named fields, or a count. */
import type { ValueGetter } from './compile-path';

export interface ProjectedField {
  /** Output property name: the alias, else the last path segment (as IoT Hub/Cosmos DB name projected paths). */
  name: string;
  get: ValueGetter;
}

export type Projection = { kind: 'all' } | { kind: 'fields'; fields: ProjectedField[] } | { kind: 'count'; name: string };

/** Builds the row IoT Hub returns for one twin under `projection` (never called for COUNT). */
export function projectRow(projection: Projection, twin: Record<string, unknown>): unknown {
  if (projection.kind !== 'fields') return twin;
  const row: Record<string, unknown> = {};
  for (const field of projection.fields) {
    const value = field.get(twin);
    if (value !== undefined) row[field.name] = value;
  }
  return row;
}

/**
 * How the registry stores an identity: one twin document already in wire shape (so GET and query pages
 * serialize it directly) plus a few identity-only fields. The entry is also the identity's query slot.
 */
import type { QuerySlot } from '../../shared/domain/iothub-query/execute-query-page';
import type { JsonObject } from '../../shared/domain/types';
import type { TwinDocument } from '../hub-events';

/** Twin document as stored: the wire shape, mutated in place only at the top level. */
export type StoredTwin = TwinDocument & JsonObject & { properties: { desired: JsonObject; reported: JsonObject } };

export interface EntryBase extends QuerySlot {
  seq: number;
  deleted: boolean;
  twin: StoredTwin;
  generationId: string;
  primaryKey: string | null;
  secondaryKey: string | null;
  connectionStateUpdatedTime: string;
}

export interface DeviceEntry extends EntryBase {
  statusReason: string | null;
  statusUpdatedTime: string;
  modules: Map<string, ModuleEntry>;
}

export interface ModuleEntry extends EntryBase {
  device: DeviceEntry;
  managedBy: string | null;
}

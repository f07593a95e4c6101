/** The serializable form of one device and its modules (persistence.ts), and its conversion to and from entries. */
import type { JsonObject } from '../../shared/domain/types';
import type { DeviceEntry, ModuleEntry, StoredTwin } from './registry-entry';

/** Serializable form of one device and its modules (persistence.ts). */
export interface DeviceSnapshot {
  seq: number;
  twin: JsonObject;
  generationId: string;
  primaryKey: string | null;
  secondaryKey: string | null;
  connectionStateUpdatedTime: string;
  statusReason: string | null;
  statusUpdatedTime: string;
  modules: Array<{
    seq: number;
    twin: JsonObject;
    generationId: string;
    primaryKey: string | null;
    secondaryKey: string | null;
    connectionStateUpdatedTime: string;
    managedBy: string | null;
  }>;
}

export function toDeviceSnapshot(entry: DeviceEntry): DeviceSnapshot {
  return {
    seq: entry.seq,
    twin: entry.twin,
    generationId: entry.generationId,
    primaryKey: entry.primaryKey,
    secondaryKey: entry.secondaryKey,
    connectionStateUpdatedTime: entry.connectionStateUpdatedTime,
    statusReason: entry.statusReason,
    statusUpdatedTime: entry.statusUpdatedTime,
    modules: [...entry.modules.values()].map((module) => ({
      seq: module.seq,
      twin: module.twin,
      generationId: module.generationId,
      primaryKey: module.primaryKey,
      secondaryKey: module.secondaryKey,
      connectionStateUpdatedTime: module.connectionStateUpdatedTime,
      managedBy: module.managedBy,
    })),
  };
}

/** The live entries of a saved device: the device, with its modules both in `device.modules` and in `modules`. */
export function fromDeviceSnapshot(snapshot: DeviceSnapshot): { device: DeviceEntry; modules: ModuleEntry[] } {
  const device: DeviceEntry = {
    seq: snapshot.seq,
    deleted: false,
    twin: snapshot.twin as StoredTwin,
    generationId: snapshot.generationId,
    primaryKey: snapshot.primaryKey,
    secondaryKey: snapshot.secondaryKey,
    connectionStateUpdatedTime: snapshot.connectionStateUpdatedTime,
    statusReason: snapshot.statusReason,
    statusUpdatedTime: snapshot.statusUpdatedTime,
    modules: new Map(),
  };
  const modules: ModuleEntry[] = [];
  for (const saved of snapshot.modules) {
    const module: ModuleEntry = { ...saved, deleted: false, twin: saved.twin as StoredTwin, device };
    device.modules.set(module.twin.moduleId ?? '', module);
    modules.push(module);
  }
  return { device, modules };
}

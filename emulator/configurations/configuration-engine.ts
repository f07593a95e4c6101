/**
 * Applies automatic configurations to twins, as IoT Hub does: right after a configuration is created, updated or
 * deleted, and on a re-evaluation cycle (here every `evaluationIntervalMs`, default 5 s; IoT Hub documents "run for
 * the first time shortly after the configuration is created and then at five minute intervals",
 * learn.microsoft.com/azure/iot-hub/iot-hub-automatic-device-management). Per twin the highest-priority targeting
 * configuration wins (ties: the most recently created; shared/domain/configurations/winning-configuration.ts) and
 * writes its desired content as a normal twin update, with its twin-change notification. When a twin stops being
 * targeted by the configuration that was applied, that configuration's settings are removed and the next winner's
 * applied ("Modify a configuration" on the same page); a deleted configuration's settings stay until another
 * configuration applies ("Delete a configuration": "any device twins take on their next highest priority
 * configuration"). Each targeted twin carries `configurations.{id}.status` `Targeted` / `Applied`, which the
 * `appliedCount` system metric query reads. Metrics (system and custom) are recomputed on every evaluation.
 */
import { removalPatchOf } from '../../shared/domain/configurations/configuration-content';
import { targetsTwin } from '../../shared/domain/configurations/configuration-target';
import {
  rankConfigurations,
  type AutomaticConfiguration,
  type RankedConfiguration,
} from '../../shared/domain/configurations/winning-configuration';
import { isJsonObject } from '../../shared/domain/twin-patch';
import type { JsonObject } from '../../shared/domain/types';
import { HubError } from '../registry/hub-error';
import type { HubRegistry } from '../registry/hub-registry';
import type { ConfigurationRecord } from './configuration-record';
import type { ConfigurationStore } from './configuration-store';

export interface ConfigurationEngineOptions {
  /** Re-evaluation period (default 5,000 ms; IoT Hub: 5 minutes). 0 turns the cycle off (evaluate on changes only). */
  evaluationIntervalMs?: number;
}

const METRIC_PAGE = 10_000;

export function automaticConfigurationOf(record: ConfigurationRecord): AutomaticConfiguration {
  return {
    id: record.id,
    priority: record.priority,
    createdTimeUtc: record.createdTimeUtc,
    targetCondition: record.targetCondition,
    content: record.content,
  };
}

/**
 * Deep merge of desired patches, `overlay` winning. Where `base` removes a path (null) that `overlay` writes an
 * object to, the keys the twin holds there and `overlay` does not write are removed too, so one merge patch both
 * takes the old settings out and puts the new ones in.
 */
function overlayPatch(base: JsonObject, overlay: JsonObject, current: unknown): JsonObject {
  const out: JsonObject = { ...base };
  const held = isJsonObject(current) ? current : {};
  for (const [key, value] of Object.entries(overlay)) {
    const under = out[key];
    if (isJsonObject(under) && isJsonObject(value)) out[key] = overlayPatch(under, value, held[key]);
    else if (under === null && isJsonObject(value) && isJsonObject(held[key])) out[key] = replacing(held[key], value);
    else out[key] = value;
  }
  return out;
}

/** The patch that turns `current` into exactly `next`. */
function replacing(current: JsonObject, next: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(current)) if (!key.startsWith('$') && !(key in next)) out[key] = null;
  for (const [key, value] of Object.entries(next)) {
    const held = current[key];
    out[key] = isJsonObject(held) && isJsonObject(value) ? replacing(held, value) : value;
  }
  return out;
}

function appliedIdOf(twin: Record<string, unknown>): string | undefined {
  const statuses = twin['configurations'];
  if (!isJsonObject(statuses)) return undefined;
  return Object.keys(statuses).find((id) => {
    const entry = statuses[id];
    return isJsonObject(entry) && entry['status'] === 'Applied';
  });
}

function sameStatuses(current: unknown, next: JsonObject): boolean {
  return JSON.stringify(isJsonObject(current) ? current : {}) === JSON.stringify(next);
}

export class ConfigurationEngine {
  private timer: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;
  /** Passes completed; tests wait on it instead of sleeping. */
  evaluations = 0;
  /** Whether a twin may still carry a `configurations` status (true until a pass proves otherwise, e.g. after a restore). */
  private statusesLeft = true;

  constructor(
    private readonly registry: HubRegistry,
    readonly store: ConfigurationStore,
    options: ConfigurationEngineOptions = {},
  ) {
    this.intervalMs = options.evaluationIntervalMs ?? 5_000;
  }

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => this.evaluate(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One full pass over every twin: apply winners, remove what stopped applying, refresh the metrics. */
  evaluate(): void {
    const records = this.store.list();
    // With no configuration and no status left on any twin there is nothing to do: skip the walk over every twin.
    if (records.length === 0 && !this.statusesLeft) {
      this.evaluations++;
      return;
    }
    this.statusesLeft = false;
    const byId = new Map(records.map((record) => [record.id, record]));
    const { ranked } = rankConfigurations(records.map(automaticConfigurationOf));
    const targeted = new Map<string, number>();
    const applied = new Map<string, number>();
    for (const collection of ['devices', 'devices.modules'] as const) {
      for (const slot of this.registry.slots(collection)) {
        if (slot.deleted) continue;
        this.evaluateTwin(slot.twin, ranked, byId, targeted, applied);
      }
    }
    for (const record of records) {
      record.targetedCount = targeted.get(record.id) ?? 0;
      record.appliedCount = applied.get(record.id) ?? 0;
      record.metricResults = Object.fromEntries(Object.entries(record.metricQueries).map(([name, query]) => [name, this.countRows(query)]));
    }
    this.evaluations++;
  }

  private evaluateTwin(
    twin: Record<string, unknown>,
    ranked: readonly RankedConfiguration[],
    byId: ReadonlyMap<string, ConfigurationRecord>,
    targeted: Map<string, number>,
    applied: Map<string, number>,
  ): void {
    const deviceId = twin['deviceId'] as string;
    const moduleId = typeof twin['moduleId'] === 'string' ? twin['moduleId'] : undefined;
    const kind = moduleId === undefined ? 'device' : 'module';
    const targeting = ranked.filter((candidate) => candidate.kind === kind && targetsTwin(candidate.target, twin));
    const winner = targeting[0];
    const previousId = appliedIdOf(twin);
    let appliedId = previousId !== undefined && byId.has(previousId) ? previousId : undefined;
    if (winner && winner.configuration.id !== previousId) {
      const previous = previousId === undefined ? undefined : byId.get(previousId);
      appliedId = this.write(deviceId, moduleId, previous, winner.desired) ? winner.configuration.id : appliedId;
    } else if (!winner && previousId !== undefined) {
      const previous = byId.get(previousId);
      if (previous) this.write(deviceId, moduleId, previous, {});
      appliedId = undefined;
    }
    const statuses: JsonObject = {};
    for (const candidate of targeting) {
      const id = candidate.configuration.id;
      targeted.set(id, (targeted.get(id) ?? 0) + 1);
      statuses[id] = { status: id === appliedId ? 'Applied' : 'Targeted' };
    }
    if (appliedId !== undefined) {
      applied.set(appliedId, (applied.get(appliedId) ?? 0) + 1);
      // Still applied while it targets; an applied configuration that no longer targets was just taken out above.
      if (!(appliedId in statuses)) statuses[appliedId] = { status: 'Applied' };
    }
    if (Object.keys(statuses).length > 0) this.statusesLeft = true;
    if (!sameStatuses(twin['configurations'], statuses)) this.registry.setConfigurationStatus(deviceId, moduleId, statuses);
  }

  /** Takes `previous`'s settings out and writes `desired` over them in one twin update. False when the hub refused. */
  private write(deviceId: string, moduleId: string | undefined, previous: ConfigurationRecord | undefined, desired: JsonObject): boolean {
    const section = previous?.content.moduleContent ?? previous?.content.deviceContent;
    const current = (this.registry.findTwin(deviceId, moduleId)?.['properties'] as { desired?: unknown } | undefined)?.desired;
    const patch = overlayPatch(section ? removalPatchOf(section) : {}, desired, current);
    if (Object.keys(patch).length === 0) return true;
    try {
      this.registry.updateTwin(deviceId, moduleId, { properties: { desired: patch } });
      return true;
    } catch (error) {
      // A twin the content does not fit (size, depth) stays Targeted, as a failed application does on the hub.
      if (error instanceof HubError) return false;
      throw error;
    }
  }

  private countRows(query: string): number {
    let rows = 0;
    let token: string | undefined;
    try {
      do {
        const page = this.registry.query(query, METRIC_PAGE, token);
        rows += page.items.length;
        token = page.continuationToken;
      } while (token !== undefined);
    } catch {
      return 0;
    }
    return rows;
  }
}

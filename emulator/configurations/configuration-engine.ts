/**
 * Applies automatic configurations to twins, as IoT Hub does: right after a configuration is created, updated or
 * deleted, and on a re-evaluation cycle (here every `evaluationIntervalMs`, default 5 s, but at least 20 × the last
 * pass so a large fleet never keeps a core busy; IoT Hub documents "run for
 * the first time shortly after the configuration is created and then at five minute intervals",
 * learn.microsoft.com/azure/iot-hub/iot-hub-automatic-device-management). Per twin the highest-priority targeting
 * configuration wins (ties: the most recently created; shared/domain/configurations/winning-configuration.ts) and
 * writes its desired content as a normal twin update, with its twin-change notification. When a twin stops being
 * targeted by the configuration that was applied, that configuration's settings are removed and the next winner's
 * applied ("Modify a configuration" on the same page); a deleted configuration's settings stay until another
 * configuration applies ("Delete a configuration": "any device twins take on their next highest priority
 * configuration"). Each targeted twin carries `configurations.{id}.status` `Targeted` / `Applied`, which the
 * `appliedCount` system metric query reads. Edge deployments (`modulesContent`) target IoT Edge device twins and
 * apply as applyConfigurationContentOnDevice does (apply-configuration-content.ts), the winner alone (layered
 * deployments are not told apart). Metrics (system and custom) are recomputed on every evaluation.
 */
import { removalPatchOf } from '../../shared/domain/configurations/configuration-content';
import { parseConfigurationTarget, targetsTwin, type ConfigurationTarget } from '../../shared/domain/configurations/configuration-target';
import {
  rankConfigurations,
  type AutomaticConfiguration,
  type RankedConfiguration,
} from '../../shared/domain/configurations/winning-configuration';
import { isJsonObject } from '../../shared/domain/twin-patch';
import type { JsonObject } from '../../shared/domain/types';
import { HubError } from '../registry/hub-error';
import { applyConfigurationContent } from './apply-configuration-content';
import { overlayPatch } from './overlay-patch';
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

function appliedIdsOf(twin: Record<string, unknown>): string[] {
  const statuses = twin['configurations'];
  if (!isJsonObject(statuses)) return [];
  return Object.keys(statuses).filter((id) => {
    const entry = statuses[id];
    return isJsonObject(entry) && entry['status'] === 'Applied';
  });
}

function isEdgeTwin(twin: Record<string, unknown>): boolean {
  const capabilities = twin['capabilities'];
  return isJsonObject(capabilities) && capabilities['iotEdge'] === true;
}

interface RankedDeployment {
  record: ConfigurationRecord;
  target: ConfigurationTarget;
}

/** Edge deployments (`modulesContent`) in the order they win: priority, then the most recent creation. */
function rankDeployments(records: readonly ConfigurationRecord[]): RankedDeployment[] {
  const deployments: RankedDeployment[] = [];
  for (const record of records) {
    if (record.kind !== 'edge') continue;
    try {
      deployments.push({ record, target: parseConfigurationTarget(record.targetCondition) });
    } catch {
      // Validated on PUT; a condition the language stopped accepting targets nothing.
    }
  }
  return deployments.sort(
    (a, b) => b.record.priority - a.record.priority || Date.parse(b.record.createdTimeUtc) - Date.parse(a.record.createdTimeUtc),
  );
}

interface Pass {
  ranked: RankedConfiguration[];
  desired: ReadonlyMap<string, JsonObject>;
  deployments: RankedDeployment[];
  byId: ReadonlyMap<string, ConfigurationRecord>;
  targeted: Map<string, number>;
  applied: Map<string, number>;
}

function sameStatuses(current: unknown, next: JsonObject): boolean {
  const held = isJsonObject(current) ? current : {};
  const ids = Object.keys(next);
  if (Object.keys(held).length !== ids.length) return false;
  return ids.every((id) => {
    const entry = held[id];
    return isJsonObject(entry) && entry['status'] === (next[id] as { status: string }).status;
  });
}

export class ConfigurationEngine {
  private timer: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;
  /** Passes completed; tests wait on it instead of sleeping. */
  evaluations = 0;
  /** Whether a twin may still carry a `configurations` status (see {@link ConfigurationEngine.noteRestoredTwins}). */
  private statusesLeft = false;
  /** Milliseconds the last full pass took: the cycle waits at least 20 times that, so passes stay under 5 % of a core. */
  private lastPassMs = 0;

  constructor(
    private readonly registry: HubRegistry,
    readonly store: ConfigurationStore,
    options: ConfigurationEngineOptions = {},
  ) {
    this.intervalMs = options.evaluationIntervalMs ?? 5_000;
  }

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.schedule();
  }

  /** Twins were restored from a state file and may carry statuses of configurations since deleted. */
  noteRestoredTwins(): void {
    this.statusesLeft = true;
  }

  private schedule(): void {
    this.timer = setTimeout(
      () => {
        this.evaluate();
        this.schedule();
      },
      Math.max(this.intervalMs, this.lastPassMs * 20),
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
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
    const started = performance.now();
    const byId = new Map(records.map((record) => [record.id, record]));
    const ranked = rankConfigurations(records.map(automaticConfigurationOf)).ranked;
    const pass: Pass = {
      ranked,
      desired: new Map(ranked.map((candidate) => [candidate.configuration.id, candidate.desired])),
      deployments: rankDeployments(records),
      byId,
      targeted: new Map(),
      applied: new Map(),
    };
    for (const collection of ['devices', 'devices.modules'] as const) {
      for (const slot of this.registry.slots(collection)) {
        if (!slot.deleted) this.evaluateTwin(slot.twin, pass);
      }
    }
    for (const record of records) {
      record.targetedCount = pass.targeted.get(record.id) ?? 0;
      record.appliedCount = pass.applied.get(record.id) ?? 0;
      record.metricResults = Object.fromEntries(Object.entries(record.metricQueries).map(([name, query]) => [name, this.countRows(query)]));
    }
    this.lastPassMs = performance.now() - started;
    this.evaluations++;
  }

  private evaluateTwin(twin: Record<string, unknown>, pass: Pass): void {
    const deviceId = twin['deviceId'] as string;
    const moduleId = typeof twin['moduleId'] === 'string' ? twin['moduleId'] : undefined;
    const kind = moduleId === undefined ? 'device' : 'module';
    const targeting: string[] = [];
    for (const candidate of pass.ranked) {
      if (candidate.kind === kind && targetsTwin(candidate.target, twin)) targeting.push(candidate.configuration.id);
    }
    const deployments: string[] = [];
    if (kind === 'device' && pass.deployments.length > 0 && isEdgeTwin(twin)) {
      for (const deployment of pass.deployments) if (targetsTwin(deployment.target, twin)) deployments.push(deployment.record.id);
    }
    // Most twins of a large hub are targeted by nothing and carry nothing: leave them without allocating.
    if (targeting.length === 0 && deployments.length === 0 && twin['configurations'] === undefined) return;

    const previous = appliedIdsOf(twin);
    const statuses: JsonObject = {};
    this.track(pass, statuses, previous, kind, targeting, (winnerId, previousId) =>
      this.write(deviceId, moduleId, previousId === undefined ? undefined : pass.byId.get(previousId), pass.desired.get(winnerId) ?? {}),
    );
    if (kind === 'device' && isEdgeTwin(twin)) {
      // Edge deployments: a device that stops matching keeps its modules as they are ("Modify a deployment",
      // learn.microsoft.com/azure/iot-edge/module-deployment-monitoring), so nothing is removed.
      this.track(
        pass,
        statuses,
        previous,
        'edge',
        deployments,
        (winnerId) => winnerId === '' || this.deploy(deviceId, pass.byId.get(winnerId)),
      );
    }
    if (Object.keys(statuses).length > 0) this.statusesLeft = true;
    if (!sameStatuses(twin['configurations'], statuses)) this.registry.setConfigurationStatus(deviceId, moduleId, statuses);
  }

  /**
   * One kind of configuration on one twin: `apply(winner, previous)` writes a new winner over the previous one, and
   * `apply('', previous)` takes the previous one out when nothing targets the twin any more. Adds the statuses.
   */
  private track(
    pass: Pass,
    statuses: JsonObject,
    previous: readonly string[],
    kind: string,
    targeting: readonly string[],
    apply: (winnerId: string, previousId?: string) => boolean,
  ): void {
    const previousId = previous.find((id) => pass.byId.get(id)?.kind === kind);
    const winnerId = targeting[0];
    let appliedId = previousId;
    if (winnerId !== undefined && winnerId !== previousId) {
      if (apply(winnerId, previousId)) appliedId = winnerId;
    } else if (winnerId === undefined && previousId !== undefined) {
      apply('', previousId);
      appliedId = undefined;
    }
    for (const id of targeting) {
      pass.targeted.set(id, (pass.targeted.get(id) ?? 0) + 1);
      statuses[id] = { status: id === appliedId ? 'Applied' : 'Targeted' };
    }
    if (appliedId !== undefined) {
      pass.applied.set(appliedId, (pass.applied.get(appliedId) ?? 0) + 1);
      statuses[appliedId] = { status: 'Applied' };
    }
  }

  /** Applies an Edge deployment's modulesContent to the device's module twins. False when the hub refused. */
  private deploy(deviceId: string, record: ConfigurationRecord | undefined): boolean {
    if (!record?.content.modulesContent) return false;
    try {
      applyConfigurationContent(this.registry, deviceId, { modulesContent: record.content.modulesContent });
      return true;
    } catch (error) {
      if (error instanceof HubError) return false;
      throw error;
    }
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

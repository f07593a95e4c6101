import { derivePosture } from '../../domain/posture';
import { SWEEP_HISTORY_PARTITION } from '../../domain/table-keys';
import { sectionLastUpdated, sectionVersion, stripMetadata } from '../../domain/twin-patch';
import type { HistoryEntry, LatestPosture, PostureFinding } from '../../domain/types';
import type { StoredLatest } from '../../ports/posture-store';
import type { SweepRun } from '../../ports/sweep-store';
import type { Evaluated } from './evaluated';
import type { SweepServices } from './sweep-services';

const MAX_LATEST_CONFLICTS = 5;

function sameFindings(left: PostureFinding[] | undefined, right: PostureFinding[]): boolean {
  return left !== undefined && JSON.stringify(left) === JSON.stringify(right);
}

function postureFromSweep(run: SweepRun, item: Evaluated, moduleId: string): LatestPosture {
  const module = item.module;
  const base = {
    deviceId: item.device.deviceId,
    moduleId,
    modulePresent: module !== undefined,
    deviceDeleted: false,
    updatedAt: run.startedAt,
  };
  if (!module) return derivePosture(base);
  const optional: Partial<LatestPosture> = { desired: stripMetadata(module.desired), reported: stripMetadata(module.reported) };
  const desiredVersion = sectionVersion(module.desired);
  const reportedVersion = sectionVersion(module.reported);
  const reportedLastUpdated = sectionLastUpdated(module.reported);
  if (desiredVersion !== undefined) optional.desiredVersion = desiredVersion;
  if (reportedVersion !== undefined) optional.reportedVersion = reportedVersion;
  if (reportedLastUpdated !== undefined) optional.reportedLastUpdated = reportedLastUpdated;
  if (module.authType) optional.authType = module.authType;
  return derivePosture({ ...base, ...optional });
}

/**
 * Puts the sweep's findings on the device's latest posture when they changed, and a history row when its
 * compliance flipped (or a device is first assessed non-compliant). Returns whether compliance changed.
 */
export async function recordPosture(run: SweepRun, item: Evaluated, services: SweepServices): Promise<boolean> {
  const findings: PostureFinding[] = item.verdict.findings.map(({ ruleId, severity, status, message }) => ({
    ruleId,
    severity,
    status,
    message,
  }));
  const compliant = item.verdict.compliant;
  for (let attempt = 0; attempt < MAX_LATEST_CONFLICTS; attempt++) {
    const stored: StoredLatest | undefined = await services.posture.getLatest(item.device.deviceId);
    const previous = stored?.posture.compliant;
    if (stored && previous === compliant && sameFindings(stored.posture.findings, findings)) return false;
    const base = stored ? stored.posture : postureFromSweep(run, item, services.settings.rules.moduleId);
    const next: LatestPosture = { ...base, findings, compliant, lastSweepId: run.sweepId };
    const flipped = previous !== undefined ? previous !== compliant : !compliant;
    if (flipped) await services.posture.appendHistory([complianceEntry(run, next, previous)]);
    if ((await services.posture.writeLatest(next, stored?.etag)) === 'written') return flipped;
  }
  services.logger.warn('latest posture kept changing during the sweep; findings not recorded on it', { deviceId: item.device.deviceId });
  return false;
}

function complianceEntry(run: SweepRun, next: LatestPosture, previous: boolean | undefined): HistoryEntry {
  const word = (value: boolean | undefined): string => (value === undefined ? 'unassessed' : value ? 'compliant' : 'non-compliant');
  const violations = (next.findings ?? []).filter((finding) => finding.status === 'violation').map((finding) => finding.ruleId);
  const entry: HistoryEntry = {
    deviceId: next.deviceId,
    at: new Date(run.startedAt),
    partitionId: SWEEP_HISTORY_PARTITION,
    // One compliance row per device per sweep: the time (sweep start) already makes it unique.
    sequenceNumber: 0,
    kind: 'complianceChanged',
    moduleId: next.moduleId,
    summary: `sweep ${run.sweepId}: ${word(previous)} → ${word(next.compliant)}${violations.length ? ` (${violations.join(', ')})` : ''}`,
    change: { sweepId: run.sweepId, compliant: next.compliant ?? null, findings: (next.findings ?? []).map((finding) => ({ ...finding })) },
    posture: {
      modulePresent: next.modulePresent,
      configurationState: next.configurationState,
      driftedKeys: [...next.driftedKeys],
      invalidFields: [...next.invalidFields],
    },
  };
  if (next.agentState !== undefined) entry.posture.agentState = next.agentState;
  if (next.authType !== undefined) entry.posture.authType = next.authType;
  return entry;
}

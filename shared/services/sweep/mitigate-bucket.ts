/**
 * The sweep's mitigations for one bucket, after its repairs: per in-scope device the actions SWEEP_MITIGATION_RULES
 * maps its violations to (suppressed findings never count), applied through applyMitigations (idempotent, budgeted,
 * audited as `sweep`, only recorded under dryRun), counted as `<action>:<result>` among the repairs and put on the
 * finding rows of the rules that called for them.
 */
import { planMitigations } from '../../domain/mitigations/mitigation-rules';
import { countRepair, type SweepCounters } from '../../domain/sweep-summary';
import type { FindingRecord, SweepRun } from '../../ports/sweep-store';
import { applyMitigations, type AppliedMitigation, type MitigationTarget } from '../mitigations/apply-mitigations';
import type { Evaluated } from './evaluated';
import type { SweepServices } from './sweep-services';

export async function mitigateBucket(
  run: SweepRun,
  evaluated: readonly Evaluated[],
  counters: SweepCounters,
  services: SweepServices,
): Promise<Map<string, AppliedMitigation[]>> {
  const byDevice = new Map<string, AppliedMitigation[]>();
  const mitigations = services.mitigations;
  if (!mitigations || mitigations.settings.rules.size === 0) return byDevice;
  const targets: MitigationTarget[] = [];
  for (const item of evaluated) {
    const planned = planMitigations(item.verdict.findings, mitigations.settings.rules);
    if (planned.length === 0) continue;
    const violations = item.verdict.findings
      .filter((finding) => finding.status === 'violation')
      .map(({ ruleId, severity, message }) => ({ ruleId, severity, message }));
    targets.push({ deviceId: item.device.deviceId, planned, violations });
  }
  if (targets.length === 0) return byDevice;
  const context = {
    sweepId: run.sweepId,
    requestId: run.sweepId,
    who: 'sweep',
    source: 'sweep' as const,
    dryRun: run.dryRun,
    at: new Date(run.startedAt),
  };
  const applied = await applyMitigations(targets, context, mitigations, {
    concurrency: services.settings.writeConcurrency,
    logger: services.logger,
  });
  for (const item of applied) {
    countRepair(counters, item.action, item.result);
    byDevice.set(item.deviceId, [...(byDevice.get(item.deviceId) ?? []), item]);
  }
  return byDevice;
}

/** Puts each applied mitigation on the violation rows of the rules that called for it. */
export function attachMitigations(rows: readonly FindingRecord[], applied: ReadonlyMap<string, readonly AppliedMitigation[]>): void {
  if (applied.size === 0) return;
  for (const row of rows) {
    if (row.status !== 'violation') continue;
    const forRow = (applied.get(row.deviceId) ?? []).filter((item) => item.ruleIds.includes(row.ruleId));
    if (forRow.length > 0) row.mitigations = forRow.map(({ action, result }) => ({ action, result }));
  }
}

import { mapWithConcurrency } from '../../concurrency';
import { evaluateDevice, scopeOf, verdictFor, type ActiveSuppression } from '../../domain/compliance-rules';
import { managingConfiguration } from '../../domain/configurations/managing-configuration';
import { rankConfigurations } from '../../domain/configurations/winning-configuration';
import { bucketRange } from '../../domain/sweep-plan';
import { countDevice, emptyCounters, type SweepCounters } from '../../domain/sweep-summary';
import type { FindingRecord, ShardState, SweepRun } from '../../ports/sweep-store';
import { diffMeter } from './diff-meter';
import type { Evaluated } from './evaluated';
import { readBucket } from './read-bucket';
import { recordPosture } from './record-posture';
import { repairBucket } from './repair-bucket';
import { attachMitigations, mitigateBucket } from './mitigate-bucket';
import { recordComplianceAlerts } from '../alerts/record-compliance-alerts';
import type { SweepServices } from './sweep-services';

/** One bucket: read, evaluate, repair, write findings and postures. Returns what it adds to the counters. */
export async function processBucket(
  run: SweepRun,
  shard: ShardState,
  bucket: number,
  suppressions: readonly ActiveSuppression[],
  services: SweepServices,
): Promise<SweepCounters> {
  const plan = run.plan as NonNullable<SweepRun['plan']>;
  const before = services.meter.snapshot();
  const settings = services.settings;
  const runStart = new Date(run.startedAt);
  const { devices, modules } = await readBucket(bucketRange(plan.splits, bucket), services);
  const configurations = services.configurations
    ? await services.configurations.forSweep(run.sweepId)
    : rankConfigurations(await services.registry.listConfigurations()).ranked;

  const counters = emptyCounters();
  const evaluated: Evaluated[] = [];
  for (const device of devices) {
    const scope = scopeOf(device, settings);
    if (scope !== 'inScope') {
      countDevice(counters, scope);
      continue;
    }
    const module = modules.get(device.deviceId);
    // A missing module is judged as the twin it would be when created, so a configuration that will manage it is known.
    const managedBy = managingConfiguration(
      configurations,
      module ? { ...module, authenticationType: module.authType } : { deviceId: device.deviceId, moduleId: settings.rules.moduleId },
    );
    if (module && managedBy) module.managedBy = managedBy;
    const verdict = verdictFor(device, evaluateDevice(device, module, settings.rules, runStart), suppressions, settings.repairRules);
    countDevice(counters, scope, verdict);
    evaluated.push({ device, module, verdict, repairResults: new Map(), ...(managedBy ? { managedBy } : {}) });
  }

  await repairBucket(run, `${String(shard.shard).padStart(3, '0')}-${String(bucket).padStart(6, '0')}`, evaluated, counters, services);
  const mitigated = await mitigateBucket(run, evaluated, counters, services);
  // Before findings and postures are written: the outbox is filled from the same previous state on every redo.
  if (services.alerts) await recordComplianceAlerts(run, evaluated, services.posture, services.alerts, services.now());

  const rows: FindingRecord[] = [];
  for (const item of evaluated) {
    for (const finding of item.verdict.findings) {
      const record: FindingRecord = {
        sweepId: run.sweepId,
        shard: shard.shard,
        bucket,
        deviceId: item.device.deviceId,
        ruleId: finding.ruleId,
        severity: finding.severity,
        status: finding.status,
        message: finding.message,
      };
      if (finding.suppressionId) record.suppressionId = finding.suppressionId;
      if (item.managedBy) record.managedBy = item.managedBy.configurationId;
      const action =
        finding.ruleId === 'module-missing' ? 'createModule' : finding.ruleId === 'baseline-not-applied' ? 'applyBaseline' : undefined;
      const result = action && item.repairResults.get(action);
      if (action && result) Object.assign(record, { repairAction: action, repairResult: result });
      rows.push(record);
    }
  }
  attachMitigations(rows, mitigated);
  await services.sweeps.writeFindings(rows);

  const changed = await mapWithConcurrency(evaluated, settings.writeConcurrency, (item) => recordPosture(run, item, services));
  counters.complianceChanged = changed.filter(Boolean).length;
  counters.buckets = 1;
  const cost = diffMeter(before, services.meter.snapshot());
  counters.queries += cost.queries;
  counters.registryOperations += cost.operations;
  counters.throttles += cost.throttles;
  return counters;
}

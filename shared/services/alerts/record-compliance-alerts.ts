/**
 * The sweep's compliance alerts for one bucket: each device's verdict against the verdict recorded on its latest
 * posture before this sweep (read in one batch), turned into CloudEvents in the outbox. Called before the findings and
 * postures are written, so a bucket redone after a crash compares against the same previous state and produces the
 * same event ids; a bucket redone after the postures were written finds no change and adds nothing (its events are
 * already in the outbox).
 */
import { ALERT_EVENT_TYPES, buildCloudEvent, type AlertEventType } from '../../domain/alerts/cloud-event';
import { deviceChange, type DeviceChange } from '../../domain/alerts/compliance-changes';
import type { RuleId } from '../../domain/compliance-rules';
import type { OutboxEntry } from '../../ports/alert-outbox';
import type { SweepRun } from '../../ports/sweep-store';
import type { PostureStore } from '../../ports/posture-store';
import type { Evaluated } from '../sweep/evaluated';
import type { AlertRecorder } from './alert-recorder';
import { outboxEntry } from './outbox-sequence';

const TYPE_OF: Record<DeviceChange['kind'], AlertEventType> = {
  nonCompliant: ALERT_EVENT_TYPES.deviceNonCompliant,
  recovered: ALERT_EVENT_TYPES.deviceRecovered,
  ruleFired: ALERT_EVENT_TYPES.deviceRuleFired,
};

export async function recordComplianceAlerts(
  run: SweepRun,
  evaluated: readonly Evaluated[],
  posture: Pick<PostureStore, 'getLatestMany'>,
  alerts: AlertRecorder,
  now: Date,
): Promise<number> {
  if (evaluated.length === 0) return 0;
  const latest = await posture.getLatestMany(evaluated.map((item) => item.device.deviceId));
  const entries: OutboxEntry[] = [];
  for (const item of evaluated) {
    const stored = latest.get(item.device.deviceId)?.posture;
    // Already recorded by this sweep (a redone bucket after its postures were written): nothing new to say.
    if (stored?.lastSweepId === run.sweepId) continue;
    const violations = item.verdict.findings.filter((finding) => finding.status === 'violation');
    const previous =
      stored?.compliant === undefined
        ? undefined
        : {
            compliant: stored.compliant,
            violations: (stored.findings ?? [])
              .filter((finding) => finding.status === 'violation')
              .map((finding) => finding.ruleId as RuleId),
          };
    const change = deviceChange(previous, { compliant: item.verdict.compliant, violations: violations.map((finding) => finding.ruleId) });
    if (!change) continue;
    const data: Record<string, unknown> = {
      deviceId: item.device.deviceId,
      sweepId: run.sweepId,
      change: change.kind,
      compliant: item.verdict.compliant,
      previousCompliant: previous?.compliant ?? null,
      violations: violations.map(({ ruleId, severity, message }) => ({ ruleId, severity, message })),
    };
    if (change.kind === 'ruleFired') data['newRules'] = change.newRules;
    const event = buildCloudEvent({
      idParts: [run.sweepId, item.device.deviceId],
      source: alerts.source,
      type: TYPE_OF[change.kind],
      subject: item.device.deviceId,
      time: new Date(run.startedAt),
      data,
    });
    entries.push(outboxEntry(event, 1));
  }
  return entries.length === 0 ? 0 : alerts.outbox.add(entries, now);
}

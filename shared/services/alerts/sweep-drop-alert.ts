/**
 * The sweep-wide alert: the latest completed sweep's compliant share against the one before it. Checked by every
 * dispatch, so it needs no hook in the sweep's completion; the event's key comes from the sweep id, so checking the
 * same sweep again adds nothing (sent rows are kept 7 days, far longer than the day a sweep is considered for).
 */
import { ALERT_EVENT_TYPES, buildCloudEvent } from '../../domain/alerts/cloud-event';
import { complianceDrop } from '../../domain/alerts/compliance-changes';
import type { SweepStore } from '../../ports/sweep-store';
import type { AlertRecorder } from './alert-recorder';
import { outboxEntry } from './outbox-sequence';

const CONSIDERED_FOR_MS = 24 * 3_600_000;

export async function recordSweepDropAlert(
  sweeps: Pick<SweepStore, 'listRecentRuns'>,
  alerts: AlertRecorder,
  thresholdPoints: number,
  now: Date,
): Promise<boolean> {
  const [latest, previous] = await sweeps.listRecentRuns(2);
  if (!latest?.summary || !previous?.summary || !latest.completedAt) return false;
  if (now.getTime() - Date.parse(latest.completedAt) > CONSIDERED_FOR_MS) return false;
  const drop = complianceDrop(previous.summary.compliantShare, latest.summary.compliantShare, thresholdPoints);
  if (drop === undefined) return false;
  const percent = (share: number): number => Math.round(share * 10_000) / 100;
  const event = buildCloudEvent({
    idParts: [latest.sweepId],
    source: alerts.source,
    type: ALERT_EVENT_TYPES.sweepComplianceDropped,
    subject: `sweeps/${latest.sweepId}`,
    time: new Date(latest.completedAt),
    data: {
      sweepId: latest.sweepId,
      previousSweepId: previous.sweepId,
      compliantPercent: percent(latest.summary.compliantShare),
      previousCompliantPercent: percent(previous.summary.compliantShare),
      dropPoints: drop,
      thresholdPoints,
      devicesEvaluated: latest.summary.counters.evaluated,
    },
  });
  return (await alerts.outbox.add([outboxEntry(event, 0)], now)) > 0;
}

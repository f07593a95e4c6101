/**
 * Applies planned mitigations to devices, for the sweep and for POST /api/mitigations alike: in action order per
 * device, each idempotent (the adapter reads before it writes; notify's event id is derived from the sweep and the
 * device), `dryRun` recording what would be done, disruptive actions only when opted in, and one audit entry per
 * device and action. Throttling and outages propagate (the sweep redoes the bucket, the API answers 503); anything
 * else is recorded as `failed` and the rest goes on.
 */
import { mapWithConcurrency } from '../../concurrency';
import { ALERT_EVENT_TYPES, buildCloudEvent } from '../../domain/alerts/cloud-event';
import type { Finding } from '../../domain/compliance-rules';
import { DISRUPTIVE_ACTIONS, type MitigationAction, type PlannedMitigation } from '../../domain/mitigations/mitigation-rules';
import { classifyServiceError, errorMessage, isRetryable } from '../../errors';
import type { Logger } from '../../logger';
import type { MitigationAuditEntry } from '../../ports/mitigation-audit';
import { outboxEntry } from '../alerts/outbox-sequence';
import type { MitigationServices } from './mitigation-services';

export interface MitigationTarget {
  deviceId: string;
  planned: PlannedMitigation[];
  /** The device's violations, carried by a notify event. */
  violations: Pick<Finding, 'ruleId' | 'severity' | 'message'>[];
}

export interface MitigationContext {
  sweepId: string;
  /** The sweep id, or the API request's invocation id. */
  requestId: string;
  who: string;
  source: 'sweep' | 'api';
  dryRun: boolean;
  /** When: the sweep's start (so a redone bucket audits alike), or the request's time. */
  at: Date;
}

export interface AppliedMitigation {
  deviceId: string;
  action: MitigationAction;
  result: string;
  ruleIds: string[];
}

async function applyOne(
  target: MitigationTarget,
  planned: PlannedMitigation,
  context: MitigationContext,
  services: MitigationServices,
): Promise<string> {
  if (DISRUPTIVE_ACTIONS.has(planned.action) && !services.settings.allowDisruptive) return 'notAllowed';
  if (context.dryRun) return 'dryRun';
  switch (planned.action) {
    case 'notify': {
      if (!services.alerts) return 'noSink';
      const event = buildCloudEvent({
        idParts: [context.sweepId, target.deviceId],
        source: services.alerts.source,
        type: ALERT_EVENT_TYPES.mitigationNotify,
        subject: target.deviceId,
        time: context.at,
        data: { deviceId: target.deviceId, sweepId: context.sweepId, ruleIds: planned.ruleIds, violations: target.violations },
      });
      return (await services.alerts.outbox.add([outboxEntry(event, 2)], context.at)) > 0 ? 'applied' : 'alreadyApplied';
    }
    case 'quarantine':
      return services.devices.quarantine(target.deviceId, services.settings.quarantineTag);
    case 'disableModule':
      return services.devices.disableModule(target.deviceId, services.settings.moduleId);
    case 'disableDevice':
      return services.devices.disableDevice(target.deviceId, `TwinGuard mitigation: ${planned.ruleIds.join(', ')}`);
  }
}

export async function applyMitigations(
  targets: readonly MitigationTarget[],
  context: MitigationContext,
  services: MitigationServices,
  options: { concurrency: number; logger: Logger },
): Promise<AppliedMitigation[]> {
  const perDevice = await mapWithConcurrency(targets, options.concurrency, async (target) => {
    const applied: AppliedMitigation[] = [];
    for (const planned of target.planned) {
      let result: string;
      try {
        result = await applyOne(target, planned, context, services);
      } catch (error) {
        if (isRetryable(classifyServiceError(error))) throw error;
        options.logger.warn('mitigation failed', { deviceId: target.deviceId, action: planned.action, error: errorMessage(error) });
        result = 'failed';
      }
      applied.push({ deviceId: target.deviceId, action: planned.action, result, ruleIds: planned.ruleIds });
    }
    return applied;
  });
  const applied = perDevice.flat();
  const entries: MitigationAuditEntry[] = applied.map((item) => ({
    at: context.at.toISOString(),
    who: context.who,
    source: context.source,
    requestId: context.requestId,
    sweepId: context.sweepId,
    deviceId: item.deviceId,
    action: item.action,
    result: item.result,
    ruleIds: item.ruleIds,
    dryRun: context.dryRun,
  }));
  if (entries.length > 0) await services.audit.record(entries);
  return applied;
}

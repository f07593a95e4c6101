import type { InvocationContext, Timer, TimerFunctionOptions } from '@azure/functions';
import { getAlertDispatchServices } from '../shared/container';
import { dispatchAlerts, type AlertDispatchServices } from '../shared/services/alerts/dispatch-alerts';
import { loggerFor } from '../shared/triggers/invocation-logger';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** Every 30 s: alerts reach their sink within about a minute, and a storm of changes leaves in batches. */
export const ALERT_DISPATCH_SCHEDULE = '*/30 * * * * *';

/** Timer: delivers the alert outbox to the configured sink (nothing to do with ALERT_SINK=none). */
export function makeAlertsDispatchHandler(services: () => Promise<Omit<AlertDispatchServices, 'logger'> | undefined>) {
  return async function alertsDispatchTimer(_timer: Timer, context: InvocationContext): Promise<void> {
    const deps = await services();
    if (!deps) return;
    const logger = loggerFor(context);
    const result = await dispatchAlerts({ ...deps, logger });
    // The metrics twinguard.alerts.* are read off this line (shared/telemetry/metrics-from-log.ts).
    if (result.sent + result.retried + result.deadLettered > 0) logger.info('alerts dispatched', { sink: deps.sink.kind, ...result });
  };
}

export const alertsDispatchOptions: TimerFunctionOptions = {
  schedule: ALERT_DISPATCH_SCHEDULE,
  handler: makeAlertsDispatchHandler(getAlertDispatchServices),
};

export const registrations: FunctionRegistration[] = [{ kind: 'timer', name: 'alerts-dispatch', options: alertsDispatchOptions }];

registerFunctions(registrations);

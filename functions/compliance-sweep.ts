import type { InvocationContext, Timer, TimerFunctionOptions } from '@azure/functions';
import { complianceTriggerBinding } from '../shared/config/trigger-bindings';
import { getSweepServices } from '../shared/container';
import { newSweepId, startSweep } from '../shared/services/sweep/start-sweep';
import type { SweepServices } from '../shared/services/sweep/sweep-services';
import { loggerFor } from '../shared/triggers/invocation-logger';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

export const COMPLIANCE_SWEEP_FUNCTION = 'compliance-sweep';

/**
 * Timer: starts one sweep per schedule occurrence. The id comes from the minute it fired, so a timer that fires
 * twice (restart, past-due catch-up on another instance) starts one sweep, not two.
 */
export function makeComplianceSweepTimerHandler(services: () => Promise<Pick<SweepServices, 'sweeps' | 'queue' | 'now'>>) {
  return async function complianceSweepTimer(_timer: Timer, context: InvocationContext): Promise<void> {
    const deps = await services();
    const at = deps.now();
    const sweepId = newSweepId(new Date(Math.floor(at.getTime() / 60_000) * 60_000), 'sched');
    const { created } = await startSweep({ sweepId, trigger: 'schedule', dryRun: false }, deps);
    loggerFor(context).info('compliance sweep scheduled', { sweepId, created });
  };
}

export const complianceSweepTimerOptions: TimerFunctionOptions = {
  schedule: complianceTriggerBinding(process.env).schedule,
  handler: makeComplianceSweepTimerHandler(getSweepServices),
};

export const registrations: FunctionRegistration[] = [
  { kind: 'timer', name: COMPLIANCE_SWEEP_FUNCTION, options: complianceSweepTimerOptions },
];

registerFunctions(registrations);

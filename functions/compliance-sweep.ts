import type { InvocationContext, Timer, TimerFunctionOptions } from '@azure/functions';
import { complianceTriggerBinding } from '../shared/config/trigger-bindings';
import { getSweepServices } from '../shared/container';
import { errorMessage } from '../shared/errors';
import { failStalledRuns } from '../shared/services/sweep/fail-stalled-runs';
import { newSweepId, startSweep } from '../shared/services/sweep/start-sweep';
import type { SweepServices } from '../shared/services/sweep/sweep-services';
import { loggerFor } from '../shared/triggers/invocation-logger';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

export const COMPLIANCE_SWEEP_FUNCTION = 'compliance-sweep';

/**
 * Timer: starts one sweep per schedule occurrence. The id comes from the minute it fired, so a timer that fires
 * twice (restart, past-due catch-up on another instance) starts one sweep, not two. Before that, runs that stalled
 * (their message lost on its last delivery) are ended as failed; whether earlier runs failed, stalled or still run,
 * the new sweep starts.
 */
export function makeComplianceSweepTimerHandler(services: () => Promise<Pick<SweepServices, 'sweeps' | 'queue' | 'now'>>) {
  return async function complianceSweepTimer(_timer: Timer, context: InvocationContext): Promise<void> {
    const deps = await services();
    const logger = loggerFor(context);
    try {
      const stalled = await failStalledRuns({ ...deps, logger });
      if (stalled.length > 0) logger.warn('stalled compliance sweeps ended as failed', { sweepIds: stalled });
    } catch (error) {
      logger.warn('could not check for stalled compliance sweeps', { error: errorMessage(error) });
    }
    const at = deps.now();
    const sweepId = newSweepId(new Date(Math.floor(at.getTime() / 60_000) * 60_000), 'sched');
    const { created } = await startSweep({ sweepId, trigger: 'schedule', dryRun: false }, deps);
    logger.info('compliance sweep scheduled', { sweepId, created });
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

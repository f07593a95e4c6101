import type { InvocationContext, Timer, TimerFunctionOptions } from '@azure/functions';
import { getStormServices } from '../shared/container';
import { drainRegistrationStorm, type StormDrainReport } from '../shared/services/storm/drain-registration-storm';
import type { StormServices } from '../shared/services/storm/storm-services';
import { loggerFor } from '../shared/triggers/invocation-logger';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

export const REGISTRATION_STORM_IMPORT_FUNCTION = 'registration-storm-import';

/**
 * Every 10 seconds: one cheap table read while nothing is pending; during a storm it moves the hub's one storm import
 * job along (claim, stage, submit or adopt, poll, record outcomes). Often enough that a job's end reaches the devices'
 * posture within seconds; the job row makes overlapping invocations (several standalone hosts) harmless.
 */
export const REGISTRATION_STORM_IMPORT_SCHEDULE = '*/10 * * * * *';

export function makeRegistrationStormImportHandler(services: () => Promise<StormServices>) {
  return async function registrationStormImport(_timer: Timer, context: InvocationContext): Promise<StormDrainReport> {
    const logger = loggerFor(context);
    const report = await drainRegistrationStorm({ ...(await services()), logger });
    if (report.step !== 'idle') logger.info('registration storm import step', { ...report });
    return report;
  };
}

export const registrationStormImportOptions: TimerFunctionOptions = {
  schedule: REGISTRATION_STORM_IMPORT_SCHEDULE,
  handler: makeRegistrationStormImportHandler(getStormServices),
};

export const registrations: FunctionRegistration[] = [
  { kind: 'timer', name: REGISTRATION_STORM_IMPORT_FUNCTION, options: registrationStormImportOptions },
];

registerFunctions(registrations);

import { InvocationContext, type Timer, type TimerHandler } from '@azure/functions';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { Env } from '../shared/config/environment';
import { nextOccurrence, parseSchedule, ScheduleSyntaxError, type Schedule } from '../shared/domain/ncrontab';
import { logHandlerFor } from './log-handler';

/** WEBSITE_TIME_ZONE values that name UTC itself (Windows id `UTC`, IANA `Etc/UTC` and its aliases). */
const UTC_ZONES = new Set(['utc', 'etc/utc', 'uct', 'etc/uct', 'universal', 'etc/universal', 'zulu', 'etc/zulu', 'gmt', 'etc/gmt']);

/**
 * The standalone host evaluates schedules in UTC only (shared/domain/ncrontab.ts says why). Azure would read a
 * WEBSITE_TIME_ZONE as local time on Windows and Linux Premium/Dedicated plans, so running with one set here
 * would fire at other instants than Azure: refuse to start instead. TZ is ignored (it does not move schedules).
 */
export function assertSchedulesInUtc(env: Env): void {
  const zone = env['WEBSITE_TIME_ZONE']?.trim();
  if (zone && !UTC_ZONES.has(zone.toLowerCase()))
    throw new Error(
      `WEBSITE_TIME_ZONE is "${zone}", but timer schedules are evaluated in UTC here (and Flex Consumption does not support WEBSITE_TIME_ZONE): remove it and write COMPLIANCE_SWEEP_SCHEDULE in UTC`,
    );
}

export interface TimerRoute {
  functionName: string;
  /** NCRONTAB expression, already resolved from its app setting. */
  schedule: string;
  runOnStartup?: boolean;
  handler: TimerHandler;
}

/**
 * Runs timer functions on their NCRONTAB schedules (UTC), one execution at a time per function as
 * the Functions timer trigger does: a run still going when the next occurrence comes is not
 * overlapped; the occurrence is marked past due instead.
 */
export class TimerScheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;
  private invocations = 0;

  constructor(
    private readonly routes: TimerRoute[],
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {
    // Report a bad schedule at start, not at first fire, naming the function (Azure fails indexing the same way).
    for (const route of routes) {
      try {
        parseSchedule(route.schedule);
      } catch (error) {
        if (!(error instanceof ScheduleSyntaxError)) throw error;
        throw new Error(`timer function ${route.functionName}: the schedule is not a valid NCRONTAB expression: ${error.message}`);
      }
    }
  }

  start(): void {
    for (const route of this.routes) {
      const schedule = parseSchedule(route.schedule);
      if (route.runOnStartup) void this.fire(route, schedule, undefined, false);
      this.arm(route, schedule, undefined);
    }
  }

  private arm(route: TimerRoute, schedule: Schedule, last: Date | undefined): void {
    if (this.stopped) return;
    const due = nextOccurrence(schedule, this.now());
    // setTimeout holds at most ~24.8 days; re-arm in steps for longer waits.
    const delay = Math.min(due.getTime() - this.now().getTime(), 2 ** 31 - 1);
    const timer = setTimeout(
      () => {
        if (this.now() < due) return this.arm(route, schedule, last);
        const pastDue = this.running.has(route.functionName);
        if (!pastDue) void this.fire(route, schedule, last, false);
        else this.logger.warn('timer occurrence skipped: the previous run is still going', { functionName: route.functionName });
        this.arm(route, schedule, due);
      },
      Math.max(delay, 0),
    );
    timer.unref?.();
    this.timers.set(route.functionName, timer);
  }

  private async fire(route: TimerRoute, schedule: Schedule, last: Date | undefined, isPastDue: boolean): Promise<void> {
    const now = this.now();
    const timer: Timer = {
      isPastDue,
      // The timer extension's CronSchedule.AdjustForDST is always true (irrelevant in UTC, reported as Azure does).
      schedule: { adjustForDST: true },
      scheduleStatus: {
        last: (last ?? now).toISOString(),
        next: nextOccurrence(schedule, now).toISOString(),
        lastUpdated: now.toISOString(),
      },
    };
    const context = new InvocationContext({
      invocationId: `standalone-timer-${process.pid}-${++this.invocations}`,
      functionName: route.functionName,
      logHandler: logHandlerFor(this.logger),
    });
    const run = (async () => {
      try {
        await route.handler(timer, context);
      } catch (err) {
        this.logger.error('timer function failed', { functionName: route.functionName, error: errorMessage(err) });
      }
    })();
    this.running.set(route.functionName, run);
    await run;
    this.running.delete(route.functionName);
  }

  /** Stops scheduling and waits for running executions to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    await Promise.allSettled([...this.running.values()]);
  }
}

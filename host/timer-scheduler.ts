import { InvocationContext, type Timer, type TimerHandler } from '@azure/functions';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { nextOccurrence, parseSchedule, type Schedule } from '../shared/domain/ncrontab';
import { logHandlerFor } from './log-handler';

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
    for (const route of routes) parseSchedule(route.schedule); // report a bad schedule at start, not at first fire
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
      schedule: { adjustForDST: false },
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

import type { SweepServices } from './sweep-services';

/**
 * The time budget of one step invocation (SWEEP_SHARD_TIME_BUDGET_SECONDS), on the services' clock. Callers do at
 * least one unit of work before asking, so a budget shorter than one unit (0 in tests) still makes progress.
 */
export interface TimeBudget {
  readonly startedMs: number;
  spent(): boolean;
}

export function timeBudget(services: Pick<SweepServices, 'now' | 'settings'>, startedMs: number = services.now().getTime()): TimeBudget {
  return {
    startedMs,
    spent: () => services.now().getTime() - startedMs >= services.settings.shardTimeBudgetMs,
  };
}

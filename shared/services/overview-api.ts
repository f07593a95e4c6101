/** GET /api/overview: the fleet's figures from the last completed sweep, the trend, the run in progress and dead letters waiting. */
import { RULE_IDS } from '../domain/rule-ids';
import { compliantShare } from '../domain/sweep-summary';
import type { DeadLetterReader } from '../ports/dead-letter-store';
import type { SweepRun, SweepStore } from '../ports/sweep-store';
import { badRequest, type ApiResult } from './api-result';

/** Dead letters are counted up to this many (then shown as "at least"): counting reads keys, 1,000 a page. */
export const DEAD_LETTER_COUNT_CAP = 10_000;
export const DEFAULT_OVERVIEW_TREND = 30;
export const MAX_OVERVIEW_TREND = 100;

const ACTIVE_STATUSES = ['planning', 'running', 'importing'] as const;

function ruleCount(run: SweepRun, ruleId: string): { violations: number; suppressed: number } {
  return run.summary?.counters.rules[ruleId] ?? { violations: 0, suppressed: 0 };
}

/** The figures of one completed run, as the dashboard shows them. */
export function fleetFigures(run: SweepRun): Record<string, unknown> {
  const counters = run.summary?.counters;
  if (!counters) return {};
  const missing = ruleCount(run, 'module-missing');
  const failed = ruleCount(run, 'agent-failed');
  const stale = ruleCount(run, 'agent-stale');
  return {
    devices: {
      known: counters.devicesSeen,
      evaluated: counters.evaluated,
      outOfScope: counters.outOfScopeEdge + counters.outOfScopeCondition,
      // Evaluated devices without a module-missing finding (suppressed or not) have their security module.
      covered: counters.evaluated - missing.violations - missing.suppressed,
      withoutModule: missing.violations + missing.suppressed,
      compliant: counters.compliant,
      nonCompliant: counters.nonCompliant,
      compliantShare: compliantShare(counters),
    },
    rules: RULE_IDS.map((ruleId) => ({ ruleId, ...ruleCount(run, ruleId) })),
    agents: {
      failed: failed.violations + failed.suppressed,
      staleOrNeverReported: stale.violations + stale.suppressed,
    },
  };
}

function sweepFacts(run: SweepRun): Record<string, unknown> {
  return {
    sweepId: run.sweepId,
    trigger: run.trigger,
    dryRun: run.dryRun,
    status: run.status,
    startedAt: run.startedAt,
    completedAt: run.completedAt ?? null,
    durationMs: run.summary?.durationMs ?? null,
    throttles: run.summary?.counters.throttles ?? 0,
    queries: run.summary?.counters.queries ?? 0,
  };
}

/** `trend` (1–100, default 30): how many completed sweeps the trend covers, newest first. */
export async function getOverview(
  trendText: string | undefined,
  services: { sweeps: SweepStore; deadLetters: DeadLetterReader },
): Promise<ApiResult> {
  const trend = trendText === undefined || trendText === '' ? DEFAULT_OVERVIEW_TREND : Number(trendText);
  if (!Number.isInteger(trend) || trend < 1 || trend > MAX_OVERVIEW_TREND)
    return badRequest(`trend must be an integer from 1 to ${MAX_OVERVIEW_TREND}`);
  const [runs, active, deadLetters] = await Promise.all([
    services.sweeps.listRecentRuns(trend),
    services.sweeps.listRuns({ statuses: ACTIVE_STATUSES, limit: 10 }),
    services.deadLetters.count(DEAD_LETTER_COUNT_CAP),
  ]);
  const latest = runs[0];
  const running = active.map(({ value }) => value).sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1))[0];
  return {
    status: 200,
    body: {
      latestSweep: latest ? sweepFacts(latest) : null,
      ...(latest ? fleetFigures(latest) : { devices: null, rules: [], agents: null }),
      deadLetters: { waiting: deadLetters.count, atLeast: deadLetters.capped },
      runningSweep: running
        ? { sweepId: running.sweepId, status: running.status, dryRun: running.dryRun, startedAt: running.startedAt }
        : null,
      trend: runs.map((run) => ({
        sweepId: run.sweepId,
        startedAt: run.startedAt,
        dryRun: run.dryRun,
        evaluated: run.summary?.counters.evaluated ?? 0,
        compliant: run.summary?.counters.compliant ?? 0,
        compliantShare: run.summary ? compliantShare(run.summary.counters) : null,
      })),
    },
  };
}

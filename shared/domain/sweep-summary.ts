/**
 * Sweep counters: what one bucket adds, what a shard accumulates and what the run sums up. Plain JSON so they
 * persist on shard rows as they are; adding is the only operation, so per-bucket deltas commute.
 */
import type { DeviceVerdict, Scope } from './compliance-rules';
import { RULE_IDS } from './rule-ids';

export interface SweepCounters {
  devicesSeen: number;
  evaluated: number;
  outOfScopeEdge: number;
  outOfScopeCondition: number;
  compliant: number;
  nonCompliant: number;
  /** Per rule id: findings reported as violations and as suppressed. */
  rules: Record<string, { violations: number; suppressed: number }>;
  /** `<action>:<result>` → count, e.g. `createModule:created`, `applyBaseline:dryRun`. */
  repairs: Record<string, number>;
  queries: number;
  registryOperations: number;
  throttles: number;
  buckets: number;
  complianceChanged: number;
}

export function emptyCounters(): SweepCounters {
  return {
    devicesSeen: 0,
    evaluated: 0,
    outOfScopeEdge: 0,
    outOfScopeCondition: 0,
    compliant: 0,
    nonCompliant: 0,
    rules: Object.fromEntries(RULE_IDS.map((id) => [id, { violations: 0, suppressed: 0 }])),
    repairs: {},
    queries: 0,
    registryOperations: 0,
    throttles: 0,
    buckets: 0,
    complianceChanged: 0,
  };
}

/** `into += delta`, in place; returns `into`. */
export function addCounters(into: SweepCounters, delta: SweepCounters): SweepCounters {
  const numeric = [
    'devicesSeen',
    'evaluated',
    'outOfScopeEdge',
    'outOfScopeCondition',
    'compliant',
    'nonCompliant',
    'queries',
    'registryOperations',
    'throttles',
    'buckets',
    'complianceChanged',
  ] as const;
  for (const key of numeric) into[key] += delta[key];
  for (const [ruleId, counts] of Object.entries(delta.rules)) {
    const target = (into.rules[ruleId] ??= { violations: 0, suppressed: 0 });
    target.violations += counts.violations;
    target.suppressed += counts.suppressed;
  }
  for (const [key, count] of Object.entries(delta.repairs)) into.repairs[key] = (into.repairs[key] ?? 0) + count;
  return into;
}

/** Counts one device of a bucket. */
export function countDevice(counters: SweepCounters, scope: Scope, verdict?: DeviceVerdict): void {
  counters.devicesSeen += 1;
  if (scope === 'edge') counters.outOfScopeEdge += 1;
  else if (scope === 'condition') counters.outOfScopeCondition += 1;
  if (!verdict) return;
  counters.evaluated += 1;
  if (verdict.compliant) counters.compliant += 1;
  else counters.nonCompliant += 1;
  for (const finding of verdict.findings) {
    const target = (counters.rules[finding.ruleId] ??= { violations: 0, suppressed: 0 });
    if (finding.status === 'violation') target.violations += 1;
    else target.suppressed += 1;
  }
}

export function countRepair(counters: SweepCounters, action: string, result: string): void {
  const key = `${action}:${result}`;
  counters.repairs[key] = (counters.repairs[key] ?? 0) + 1;
}

/** Share of evaluated devices without violations, 0–1 (1 when nothing was evaluated). */
export function compliantShare(counters: SweepCounters): number {
  return counters.evaluated === 0 ? 1 : counters.compliant / counters.evaluated;
}

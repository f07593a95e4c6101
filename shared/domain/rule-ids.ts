/**
 * The sweep's rule ids and what settings may say about them, apart from the rules themselves: configuration
 * validation and the read APIs need the names at start-up, not the evaluation code behind them (cold import).
 */
export const RULE_IDS = [
  'module-missing',
  'identity-disabled',
  'configuration-drift',
  'agent-failed',
  'baseline-not-applied',
  'agent-stale',
  'module-inactive',
  'module-auth-weak',
] as const;

export type RuleId = (typeof RULE_IDS)[number];

export type Severity = 'critical' | 'high' | 'medium' | 'low';

/** Rules with an automatic repair; SWEEP_REPAIR_RULES may name only these. */
export const REPAIRABLE_RULES: readonly RuleId[] = ['module-missing', 'baseline-not-applied'];

/**
 * When a device's compliance is worth an alert, and when a sweep's is: pure comparisons of what was recorded before
 * (the latest posture's last verdict) with what the sweep just found.
 */
import type { RuleId } from '../compliance-rules';

export interface ComplianceState {
  /** Undefined: never assessed by a sweep. */
  compliant?: boolean;
  /** Rule ids reported as violations (suppressed findings excluded). */
  violations: readonly RuleId[];
}

export type DeviceChange =
  { kind: 'nonCompliant'; violations: RuleId[] } | { kind: 'recovered' } | { kind: 'ruleFired'; newRules: RuleId[]; violations: RuleId[] };

/**
 * A device that becomes non-compliant (from compliant or from never assessed), one that recovers, and one that stays
 * non-compliant while a rule it did not violate before fires. A first assessment that is compliant is not a change.
 */
export function deviceChange(previous: ComplianceState | undefined, next: ComplianceState): DeviceChange | undefined {
  const nextViolations = [...new Set(next.violations)].sort();
  if (next.compliant === true) return previous?.compliant === false ? { kind: 'recovered' } : undefined;
  if (previous?.compliant !== false) return { kind: 'nonCompliant', violations: nextViolations };
  const before = new Set(previous.violations);
  const newRules = nextViolations.filter((rule) => !before.has(rule));
  return newRules.length > 0 ? { kind: 'ruleFired', newRules, violations: nextViolations } : undefined;
}

/**
 * Points (0–100) the compliant share fell from the previous sweep to this one when that is more than `thresholdPoints`;
 * undefined otherwise. Shares are 0–1 as the sweep summary holds them.
 */
export function complianceDrop(previousShare: number, currentShare: number, thresholdPoints: number): number | undefined {
  // Rounded to a hundredth of a point so 0.1 + 0.2-style float noise never decides an alert.
  const drop = Math.round((previousShare - currentShare) * 10_000) / 100;
  return drop > thresholdPoints ? drop : undefined;
}

/**
 * Mitigations beyond repair, modelled on AWS IoT Device Defender's mitigation actions: which actions a sweep (or an
 * operator through the API) applies to a device for the rules it violates. Pure: parsing SWEEP_MITIGATION_RULES and
 * planning the actions of one device from its findings. Suppressed findings never mitigate (as Device Defender
 * never mitigates suppressed findings).
 */
import type { DeviceFinding } from '../compliance-rules';
import { RULE_IDS, type RuleId } from '../rule-ids';

export const MITIGATION_ACTIONS = ['notify', 'quarantine', 'disableModule', 'disableDevice'] as const;

export type MitigationAction = (typeof MITIGATION_ACTIONS)[number];

/** Actions that cut a device or its agent off the hub: applied only with MITIGATION_ALLOW_DISRUPTIVE=true. */
export const DISRUPTIVE_ACTIONS: ReadonlySet<MitigationAction> = new Set<MitigationAction>(['disableModule', 'disableDevice']);

/** Rule id (or `*`, every rule) → actions, in the order MITIGATION_ACTIONS lists them. */
export type MitigationRules = ReadonlyMap<RuleId | '*', readonly MitigationAction[]>;

export function isMitigationAction(text: string): text is MitigationAction {
  return (MITIGATION_ACTIONS as readonly string[]).includes(text);
}

function inActionOrder(actions: Iterable<MitigationAction>): MitigationAction[] {
  const chosen = new Set(actions);
  return MITIGATION_ACTIONS.filter((action) => chosen.has(action));
}

/**
 * Parses `rule:action+action,rule:action` (e.g. `agent-failed:quarantine+notify,*:notify`); empty or `none` is no
 * mitigation. Returns every problem found, each naming the offending part, so the configuration reports them at once.
 */
export function parseMitigationRules(text: string, allowDisruptive: boolean): { rules: MitigationRules; problems: string[] } {
  const rules = new Map<RuleId | '*', MitigationAction[]>();
  const problems: string[] = [];
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'none') return { rules, problems };
  for (const part of trimmed.split(',').map((entry) => entry.trim())) {
    if (part === '') continue;
    const colon = part.indexOf(':');
    const rule = (colon < 0 ? part : part.slice(0, colon)).trim();
    const actionText = colon < 0 ? '' : part.slice(colon + 1);
    if (rule !== '*' && !(RULE_IDS as readonly string[]).includes(rule)) {
      problems.push(`"${rule}" is not a rule id or * (rules: ${RULE_IDS.join(', ')})`);
      continue;
    }
    const actions = actionText
      .split('+')
      .map((action) => action.trim())
      .filter((action) => action !== '');
    if (actions.length === 0) problems.push(`"${part}" names no action (rule:action+action)`);
    const known: MitigationAction[] = [];
    for (const action of actions) {
      if (!isMitigationAction(action)) problems.push(`"${action}" is not a mitigation action (${MITIGATION_ACTIONS.join(', ')})`);
      else if (DISRUPTIVE_ACTIONS.has(action) && !allowDisruptive)
        problems.push(`"${action}" is disruptive and needs MITIGATION_ALLOW_DISRUPTIVE=true`);
      else known.push(action);
    }
    const key = rule as RuleId | '*';
    rules.set(key, inActionOrder([...(rules.get(key) ?? []), ...known]));
  }
  return { rules, problems };
}

/** One action due for a device, with the violated rules that call for it. */
export interface PlannedMitigation {
  action: MitigationAction;
  ruleIds: RuleId[];
}

/**
 * The actions due for one device: the union over its violations (never its suppressed findings) of the actions
 * mapped to the rule and to `*`, each once, in MITIGATION_ACTIONS order. `only` narrows to chosen actions (API).
 */
export function planMitigations(
  findings: readonly Pick<DeviceFinding, 'ruleId' | 'status'>[],
  rules: MitigationRules,
  only?: ReadonlySet<MitigationAction>,
): PlannedMitigation[] {
  const byAction = new Map<MitigationAction, RuleId[]>();
  for (const finding of findings) {
    if (finding.status !== 'violation') continue;
    for (const action of [...(rules.get(finding.ruleId) ?? []), ...(rules.get('*') ?? [])]) {
      if (only && !only.has(action)) continue;
      const ruleIds = byAction.get(action) ?? [];
      if (!ruleIds.includes(finding.ruleId)) ruleIds.push(finding.ruleId);
      byAction.set(action, ruleIds);
    }
  }
  return inActionOrder(byAction.keys()).map((action) => ({ action, ruleIds: byAction.get(action) ?? [] }));
}

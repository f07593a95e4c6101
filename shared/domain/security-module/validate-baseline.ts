import { isJsonObject } from '../twin-patch';
import type { JsonObject, SecurityAgentSchema } from '../types';
import { agentSchemaFor } from './agent-schema';
import { isLegacyConfigKey, isWrappedValue, legacyKeysIn, unwrapLegacyValue } from './legacy-configuration';
import { LEGACY_CONFIG_KEYS } from './module-ids';
import { jsonTypeOf, LEGACY_RULES, MICRO_AGENT_RULES, type ValueRule } from './setting-catalogue';

export type BaselineValidation = { ok: true; baseline: JsonObject; schema: SecurityAgentSchema } | { ok: false; problems: string[] };

/**
 * Validates the SECURITY_MODULE_BASELINE setting (its JSON text, or the already parsed value) for the configured
 * security module. Every problem is listed, one line each naming the key, because the baseline is written into
 * every device's twin: a typo or an out-of-range value would silently misconfigure or stop the whole fleet's agents
 * (the legacy agent refuses to start on a configuration that fails its schema). `{}` is valid: create the module,
 * set nothing.
 */
export function validateBaseline(value: unknown, moduleId: string): BaselineValidation {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value) as unknown;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { ok: false, problems: [`SECURITY_MODULE_BASELINE is not valid JSON — ${reason}`] };
    }
  }
  if (!isJsonObject(parsed)) {
    return { ok: false, problems: [`SECURITY_MODULE_BASELINE must be a JSON object of desired properties, not ${jsonTypeOf(parsed)}`] };
  }

  const schema = agentSchemaFor(moduleId, parsed);
  const problems = schema === 'legacy' ? legacyBaselineProblems(parsed, moduleId) : microAgentBaselineProblems(parsed, moduleId);
  return problems.length === 0 ? { ok: true, baseline: parsed, schema } : { ok: false, problems };
}

function microAgentBaselineProblems(baseline: JsonObject, moduleId: string): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(baseline)) {
    if (isLegacyConfigKey(key)) {
      problems.push(
        `${key}: legacy agent configuration cannot configure ${moduleId}, a micro-agent module — use the micro agent's flat settings`,
      );
      continue;
    }
    problems.push(...settingProblems(key, value, MICRO_AGENT_RULES, 'micro-agent setting'));
  }
  return problems;
}

function legacyBaselineProblems(baseline: JsonObject, moduleId: string): string[] {
  const problems: string[] = [];
  const presentKeys = legacyKeysIn(baseline);
  if (presentKeys.length > 1) {
    problems.push(`both legacy configuration keys are set (${LEGACY_CONFIG_KEYS.join(' and ')}) — use only one spelling`);
  }
  for (const [key, value] of Object.entries(baseline)) {
    if (isLegacyConfigKey(key)) {
      problems.push(...legacyConfigurationProblems(key, value));
    } else if (MICRO_AGENT_RULES.has(key)) {
      problems.push(
        `${key}: micro-agent setting cannot configure ${moduleId}, a legacy-agent module — put legacy settings under ${LEGACY_CONFIG_KEYS[0]}`,
      );
    } else {
      problems.push(`${key}: unknown key — a legacy-agent baseline holds only ${LEGACY_CONFIG_KEYS.join(' or ')}`);
    }
  }
  return problems;
}

function legacyConfigurationProblems(configKey: string, configuration: unknown): string[] {
  if (!isJsonObject(configuration)) return [`${configKey}: must be an object of agent settings, not ${jsonTypeOf(configuration)}`];
  const problems: string[] = [];
  for (const [setting, raw] of Object.entries(configuration)) {
    if (isJsonObject(raw) && !isWrappedValue(raw)) {
      problems.push(`${setting}: ${display(raw)} — a wrapped setting holds exactly one key, "value"`);
      continue;
    }
    problems.push(...settingProblems(setting, unwrapLegacyValue(raw), LEGACY_RULES, 'legacy-agent setting'));
  }
  return problems;
}

function settingProblems(key: string, value: unknown, rules: ReadonlyMap<string, ValueRule>, kind: string): string[] {
  const rule = rules.get(key);
  if (rule === undefined) {
    const suggestion = closestKey(key, [...rules.keys()]);
    return [`${key}: unknown ${kind}${suggestion === undefined ? '' : ` — did you mean ${suggestion}?`}`];
  }
  const reason = rule(value);
  return reason === undefined ? [] : [`${key}: ${display(value)} — ${reason}`];
}

/** The known key a typo most likely meant: a case-insensitive edit distance of at most 2, and only when unambiguous. */
function closestKey(key: string, known: readonly string[]): string | undefined {
  const lowerKey = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  let tie = false;
  for (const candidate of known) {
    const distance = editDistance(lowerKey, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
      tie = false;
    } else if (distance === bestDistance) {
      tie = true;
    }
  }
  return bestDistance <= 2 && !tie ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previousRow = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previousRow[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previousRow[j] as number) + 1, (row[j - 1] as number) + 1, substitution));
    }
    previousRow = row;
  }
  return previousRow[b.length] as number;
}

/** Strings are shown as written (the baseline author typed them that way); everything else as JSON. */
function display(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * An IoT Hub automatic configuration's `targetCondition`, parsed with the product's query language so the emulator
 * and TwinGuard decide "does this twin match" alike. Device configurations use a WHERE expression on device twins
 * (`tags.environment='prod'`), module configurations a whole clause on module twins
 * (`FROM devices.modules WHERE moduleId = 'x' AND …`); an empty condition targets nothing and `*` every device
 * (az iot hub configuration create: "Target condition for modules must start with 'from devices.modules where'",
 * https://learn.microsoft.com/cli/azure/iot/hub/configuration; the REST sample with `"targetCondition": ""` shows
 * `targetedCount` 0).
 */
import { ConditionSyntaxError } from '../iothub-query/condition-syntax-error';
import { parseQuery, QuerySyntaxError, type QueryCollection } from '../iothub-query/parse-query';
import { evaluateCondition, parseCondition, type TwinCondition } from '../iothub-query/twin-condition';

export interface ConfigurationTarget {
  readonly collection: QueryCollection;
  /** Absent with `matchesAll` false: targets nothing. */
  readonly condition?: TwinCondition;
  readonly matchesAll: boolean;
}

/** A target condition the query language cannot run, or of the wrong collection for the content. */
export class TargetConditionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetConditionError';
  }
}

const FROM_CLAUSE = /^\s*from\s/i;

/** @throws TargetConditionError */
export function parseConfigurationTarget(text: string | undefined): ConfigurationTarget {
  const trimmed = (text ?? '').trim();
  if (trimmed === '') return { collection: 'devices', matchesAll: false };
  if (trimmed === '*') return { collection: 'devices', matchesAll: true };
  try {
    if (FROM_CLAUSE.test(trimmed)) {
      const parsed = parseQuery(`SELECT * ${trimmed}`);
      if (parsed.top !== undefined) throw new TargetConditionError('targetCondition cannot use TOP');
      return parsed.condition
        ? { collection: parsed.collection, condition: parsed.condition, matchesAll: false }
        : { collection: parsed.collection, matchesAll: true };
    }
    return { collection: 'devices', condition: parseCondition(trimmed), matchesAll: false };
  } catch (error) {
    if (error instanceof QuerySyntaxError || error instanceof ConditionSyntaxError)
      throw new TargetConditionError(`targetCondition '${trimmed}' is invalid: ${error.message}`);
    throw error;
  }
}

/** Whether a twin (device twin for `devices`, module twin for `devices.modules`) is targeted. */
export function targetsTwin(target: ConfigurationTarget, twin: Record<string, unknown>): boolean {
  if (target.matchesAll) return true;
  return target.condition !== undefined && evaluateCondition(target.condition, twin);
}

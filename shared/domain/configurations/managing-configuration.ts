/**
 * TwinGuard's reading of IoT Hub automatic configurations for the security module: which module configuration
 * manages a module twin (the one IoT Hub applies there, shared/domain/configurations/winning-configuration.ts), and
 * which of its settings the twin's desired properties lack. Where a configuration manages the module, its content is
 * the module's baseline: TwinGuard never writes anything else there, because IoT Hub would take it out again on its
 * next evaluation.
 */
import { isJsonObject } from '../twin-patch';
import type { JsonObject } from '../types';
import { winningConfiguration, type RankedConfiguration } from './winning-configuration';

export interface ManagingConfiguration {
  configurationId: string;
  /** What the configuration writes to desired properties (its content's paths expanded). */
  desired: JsonObject;
}

/** The facts of a module a target condition can read, as a module twin document. */
export interface ModuleTwinFacts {
  deviceId: string;
  moduleId: string;
  status?: string;
  connectionState?: string;
  authenticationType?: string;
  tags?: JsonObject;
  desired?: JsonObject;
  reported?: JsonObject;
}

export function moduleTwinDocument(facts: ModuleTwinFacts): JsonObject {
  const twin: JsonObject = {
    deviceId: facts.deviceId,
    moduleId: facts.moduleId,
    properties: { desired: facts.desired ?? {}, reported: facts.reported ?? {} },
  };
  if (facts.status !== undefined) twin['status'] = facts.status;
  if (facts.connectionState !== undefined) twin['connectionState'] = facts.connectionState;
  if (facts.authenticationType !== undefined) twin['authenticationType'] = facts.authenticationType;
  if (facts.tags !== undefined) twin['tags'] = facts.tags;
  return twin;
}

/** The module configuration IoT Hub applies to this module twin, if any. */
export function managingConfiguration(ranked: readonly RankedConfiguration[], facts: ModuleTwinFacts): ManagingConfiguration | undefined {
  const winner = winningConfiguration(ranked, moduleTwinDocument(facts));
  return winner && { configurationId: winner.configuration.id, desired: winner.desired };
}

/**
 * Dotted paths of `content` that `desired` does not hold with the same value, sorted (`null` in content: the path
 * must be absent). Objects are compared key by key, so settings the configuration does not write are not its concern.
 */
export function contentNotApplied(desired: JsonObject, content: JsonObject, prefix = ''): string[] {
  const missing: string[] = [];
  for (const [key, value] of Object.entries(content)) {
    const path = `${prefix}${key}`;
    const held = Object.prototype.hasOwnProperty.call(desired, key) ? desired[key] : undefined;
    if (isJsonObject(value)) {
      if (isJsonObject(held)) missing.push(...contentNotApplied(held, value, `${path}.`));
      else missing.push(path);
    } else if (value === null ? held !== undefined && held !== null : !sameValue(held, value)) {
      missing.push(path);
    }
  }
  return missing.sort();
}

function sameValue(left: unknown, right: unknown): boolean {
  if (Array.isArray(left) && Array.isArray(right))
    return left.length === right.length && left.every((item, index) => sameValue(item, right[index]));
  return left === right;
}

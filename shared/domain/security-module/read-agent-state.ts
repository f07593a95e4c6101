import type { JsonObject } from '../types';

export const MICRO_AGENT_STATE_KEY = 'latest_state';
const MICRO_AGENT_INVALID_FIELDS_KEY = 'latest_invalid_fields';

/**
 * The micro agent's own verdict on its last configuration: `latest_state` and `latest_invalid_fields`. The field
 * list is read as an array of strings or a comma-separated string, since the reported shape is not documented.
 */
export function readAgentState(reported: JsonObject | undefined): { agentState?: string; invalidFields: string[] } {
  const state = reported?.[MICRO_AGENT_STATE_KEY];
  const rawFields = reported?.[MICRO_AGENT_INVALID_FIELDS_KEY];
  const candidates: unknown[] = Array.isArray(rawFields) ? rawFields : typeof rawFields === 'string' ? rawFields.split(',') : [];
  const invalidFields = candidates
    .filter((field): field is string => typeof field === 'string')
    .map((field) => field.trim())
    .filter((field) => field !== '');
  return typeof state === 'string' ? { agentState: state, invalidFields } : { invalidFields };
}

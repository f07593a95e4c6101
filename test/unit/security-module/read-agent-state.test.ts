import { readAgentState } from '../../../shared/domain/security-module/read-agent-state';
import type { JsonObject } from '../../../shared/domain/types';

describe('readAgentState', () => {
  it.each<[string, JsonObject | undefined, { agentState?: string; invalidFields: string[] }]>([
    ['no reported section', undefined, { invalidFields: [] }],
    ['success', { latest_state: 'success' }, { agentState: 'success', invalidFields: [] }],
    [
      'failed with an array',
      { latest_state: 'failed', latest_invalid_fields: ['Process_Mode', 'Login_UsePAM'] },
      { agentState: 'failed', invalidFields: ['Process_Mode', 'Login_UsePAM'] },
    ],
    [
      'failed with a comma string',
      { latest_state: 'failed', latest_invalid_fields: 'Process_Mode, Login_UsePAM,' },
      { agentState: 'failed', invalidFields: ['Process_Mode', 'Login_UsePAM'] },
    ],
    ['non-string entries dropped', { latest_invalid_fields: ['A', 3, null] }, { invalidFields: ['A'] }],
    ['non-string state ignored', { latest_state: 1 }, { invalidFields: [] }],
  ])('%s', (_name, reported, expected) => {
    expect(readAgentState(reported)).toStrictEqual(expected);
  });
});

import { LEGACY_CONFIG_KEYS } from '../../../shared/domain/security-module/module-ids';
import { agentSchemaFor } from '../../../shared/domain/security-module/agent-schema';
import type { JsonObject, SecurityAgentSchema } from '../../../shared/domain/types';

const [GITHUB_KEY, DOCS_KEY] = LEGACY_CONFIG_KEYS;

describe('agentSchemaFor', () => {
  it.each<[string, string, JsonObject | undefined, SecurityAgentSchema]>([
    ['micro agent module', 'DefenderIotMicroAgent', undefined, 'microAgent'],
    ['legacy module', 'azureiotsecurity', undefined, 'legacy'],
    ['legacy module with empty desired', 'azureiotsecurity', {}, 'legacy'],
    ['module ids are case-sensitive', 'AzureIoTSecurity', undefined, 'microAgent'],
    ['custom module, flat desired', 'SecurityAgent', { Process_Mode: 1 }, 'microAgent'],
    ['custom module, GitHub legacy key', 'SecurityAgent', { [GITHUB_KEY]: {} }, 'legacy'],
    ['custom module, docs legacy key', 'SecurityAgent', { [DOCS_KEY]: {} }, 'legacy'],
    ['the micro agent id wins over a stray legacy key', 'DefenderIotMicroAgent', { [GITHUB_KEY]: {} }, 'microAgent'],
  ])('%s', (_name, moduleId, desired, expected) => {
    expect(agentSchemaFor(moduleId, desired)).toBe(expected);
  });
});

import { LEGACY_CONFIG_KEYS, LEGACY_MODULE_ID, MICRO_AGENT_MODULE_ID } from '../../../shared/domain/security-module/module-ids';

describe('module ids', () => {
  it('are the exact documented spellings', () => {
    expect([MICRO_AGENT_MODULE_ID, LEGACY_MODULE_ID, ...LEGACY_CONFIG_KEYS]).toStrictEqual([
      'DefenderIotMicroAgent',
      'azureiotsecurity',
      'azureiot*com^securityAgentConfiguration^1*0*0',
      'ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration',
    ]);
  });
});

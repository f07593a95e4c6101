/**
 * Defender for IoT security module identities: the module ids of both agents and the legacy agent's
 * configuration object keys. Pure: no clock, no environment, no SDK types.
 */

/** Module identity of the Defender for IoT micro agent. Module ids are case-sensitive, so this exact spelling. */
export const MICRO_AGENT_MODULE_ID = 'DefenderIotMicroAgent';

/** Module identity of the legacy (C / C# / Edge) security agent. */
export const LEGACY_MODULE_ID = 'azureiotsecurity';

/**
 * The two spellings of the legacy agent's configuration object key in `desired`: the GitHub default twin uses the
 * first (flat values), the docs the second (values wrapped as `{"value": …}`). Both are in use, so both are read.
 */
export const LEGACY_CONFIG_KEYS = [
  'azureiot*com^securityAgentConfiguration^1*0*0',
  'ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration',
] as const;

export type LegacyConfigKey = (typeof LEGACY_CONFIG_KEYS)[number];

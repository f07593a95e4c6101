import type { JsonObject, SecurityAgentSchema } from '../types';
import { legacyKeysIn } from './legacy-configuration';
import { LEGACY_MODULE_ID, MICRO_AGENT_MODULE_ID } from './module-ids';

/**
 * Which configuration schema a security module twin is read with. The two well-known module ids decide by name;
 * a custom module id is legacy only when its desired section already holds a legacy configuration object, because
 * that object is the one thing that tells the schemas apart.
 */
export function agentSchemaFor(moduleId: string, desired?: JsonObject): SecurityAgentSchema {
  if (moduleId === LEGACY_MODULE_ID) return 'legacy';
  if (moduleId === MICRO_AGENT_MODULE_ID) return 'microAgent';
  return desired !== undefined && legacyKeysIn(desired).length > 0 ? 'legacy' : 'microAgent';
}

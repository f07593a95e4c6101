/** The hub's shared access policies: names, keys and the rights each grants. */
import { randomBytes } from 'node:crypto';

export type Permission = 'RegistryRead' | 'RegistryWrite' | 'ServiceConnect' | 'DeviceConnect';

/** A shared access policy of the emulated hub. */
export interface SharedAccessPolicy {
  keyName: string;
  primaryKey: string;
  secondaryKey: string;
  rights: readonly Permission[];
}

/** The built-in policies of a new IoT hub, with fresh random keys (or the given iothubowner key). */
export function defaultPolicies(ownerKey?: string): SharedAccessPolicy[] {
  const key = (): string => randomBytes(32).toString('base64');
  return [
    {
      keyName: 'iothubowner',
      primaryKey: ownerKey ?? key(),
      secondaryKey: key(),
      rights: ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'],
    },
    { keyName: 'service', primaryKey: key(), secondaryKey: key(), rights: ['ServiceConnect'] },
    { keyName: 'device', primaryKey: key(), secondaryKey: key(), rights: ['DeviceConnect'] },
    { keyName: 'registryRead', primaryKey: key(), secondaryKey: key(), rights: ['RegistryRead'] },
    { keyName: 'registryReadWrite', primaryKey: key(), secondaryKey: key(), rights: ['RegistryRead', 'RegistryWrite'] },
  ];
}

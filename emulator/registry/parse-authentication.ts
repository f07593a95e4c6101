import { AUTHENTICATION_TYPES, toAuthenticationType, type AuthenticationType } from '../../shared/domain/authentication-type';
import { HubError } from './hub-error';
import type { AuthenticationMechanism } from './identity-json';
import type { DeviceInput } from './identity-input';
import { generateSasKey } from './sas-key';

/** An identity's authentication as the registry stores it: keys on the entry, thumbprints on the twin. */
export interface ParsedAuthentication {
  type: AuthenticationType;
  primaryKey: string | null;
  secondaryKey: string | null;
  thumbprint: AuthenticationMechanism['x509Thumbprint'];
}

const NULL_THUMBPRINT = Object.freeze({ primaryThumbprint: null, secondaryThumbprint: null });

/**
 * Validates the `authentication` of a create or update. Empty SAS keys are generated, or on an update kept
 * from `previous`. @throws HubError(400 ArgumentInvalid).
 */
export function parseAuthentication(
  input: DeviceInput['authentication'],
  previous?: { primaryKey: string | null; secondaryKey: string | null },
): ParsedAuthentication {
  const requested = input?.type ?? 'sas';
  const type = toAuthenticationType(requested);
  if (type === undefined) {
    throw new HubError(
      400,
      'ArgumentInvalid',
      `authentication.type '${String(requested)}' is not one of ${AUTHENTICATION_TYPES.join(', ')}`,
    );
  }
  if (type === 'sas') {
    const keyOf = (key: unknown, fallback: string | null | undefined): string => {
      if (typeof key === 'string' && key.length > 0) {
        const raw = Buffer.from(key, 'base64');
        if (raw.length < 16 || raw.length > 64 || raw.toString('base64') !== key)
          throw new HubError(400, 'ArgumentInvalid', 'Symmetric keys must be base64 of 16 to 64 bytes');
        return key;
      }
      return fallback ?? generateSasKey();
    };
    return {
      type,
      primaryKey: keyOf(input?.symmetricKey?.primaryKey, previous?.primaryKey),
      secondaryKey: keyOf(input?.symmetricKey?.secondaryKey, previous?.secondaryKey),
      thumbprint: NULL_THUMBPRINT,
    };
  }
  if (type === 'selfSigned') {
    const primary = input?.x509Thumbprint?.primaryThumbprint ?? null;
    const secondary = input?.x509Thumbprint?.secondaryThumbprint ?? null;
    if (!primary && !secondary)
      throw new HubError(400, 'ArgumentInvalid', 'selfSigned authentication needs a primary or secondary thumbprint');
    return { type, primaryKey: null, secondaryKey: null, thumbprint: { primaryThumbprint: primary, secondaryThumbprint: secondary } };
  }
  return { type, primaryKey: null, secondaryKey: null, thumbprint: NULL_THUMBPRINT };
}

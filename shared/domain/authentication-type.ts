/**
 * IoT Hub's identity authentication types (`authentication.type` of a device or module identity, and
 * `authenticationType` in twins and query rows). The one list every reader of that field checks against.
 */
export const AUTHENTICATION_TYPES = ['sas', 'selfSigned', 'certificateAuthority', 'none'] as const;

export type AuthenticationType = (typeof AUTHENTICATION_TYPES)[number];

/** The value as an authentication type, or undefined when it is not one IoT Hub defines. */
export function toAuthenticationType(value: unknown): AuthenticationType | undefined {
  return AUTHENTICATION_TYPES.find((type) => type === value);
}

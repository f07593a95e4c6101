import { isLegalIdentityId } from '../../shared/domain/identifiers';
import { HubError } from './hub-error';

/** @throws HubError(400 ArgumentInvalid) when `id` is not a legal device/module ID. */
export function assertValidId(id: unknown, what: 'deviceId' | 'moduleId'): asserts id is string {
  if (typeof id !== 'string' || !isLegalIdentityId(id)) {
    throw new HubError(
      400,
      'ArgumentInvalid',
      `${what} is invalid: it must be 1-128 ASCII alphanumerics or - : . + % _ # * ? ! ( ) , = @ $ ' and the semicolon`,
    );
  }
}

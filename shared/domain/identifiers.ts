/**
 * IoT Hub device and module IDs: case-sensitive, 1–128 characters of ASCII alphanumerics and
 * `- : . + % _ # * ? ! ( ) , = @ ; $ '`. Several of these are special in URLs, Table keys and OData,
 * which is why every boundary that turns an ID into something else is tested with all of them.
 */
const LEGAL_ID = /^[A-Za-z0-9\-:.+%_#*?!(),=@;$']{1,128}$/;

export const LEGAL_ID_PUNCTUATION = "-:.+%_#*?!(),=@;$'";

export function isLegalIdentityId(id: string): boolean {
  return LEGAL_ID.test(id);
}

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

/** Longest sweep or suppression id the API accepts (TwinGuard's own are 16–26 characters). */
export const MAX_RESOURCE_ID_LENGTH = 100;

const RESOURCE_ID = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${MAX_RESOURCE_ID_LENGTH - 1}}$`);

/**
 * Sweep and suppression ids, which are Table keys as they are (sweep id = SweepRuns PartitionKey and the prefix of
 * SweepFindings partitions, suppression id = ComplianceSuppressions RowKey). TwinGuard generates
 * `sw-20261123T020000Z-sched` / `sw-…-a1b2c3` (newSweepId) and `sup-<12 hex>` (createSuppression): letters, digits
 * and `-`. Accepted: 1–100 ASCII letters, digits, `-`, `_`, `.`, starting with a letter or digit — every generated
 * id, and nothing Table storage rejects in a key (`/ \ # ?`, control characters, over 1 KiB) or that could name
 * another row kind (the recent-runs partition `~recent`). Anything else is answered 400 before storage is asked.
 */
export function isLegalResourceId(id: string): boolean {
  return RESOURCE_ID.test(id);
}

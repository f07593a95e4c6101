/**
 * Azure Storage naming rules, checked where a name is configured so a bad one fails at start rather than at the
 * first request. Sources: "Naming Queues and Metadata", "Naming and Referencing Containers, Blobs, and Metadata",
 * "Understanding the Table service data model" (learn.microsoft.com, Storage services REST reference).
 */

/**
 * Queue and blob container names: 3–63 characters, lower-case letters, digits and hyphens, starting and ending
 * with a letter or digit, no two hyphens in a row.
 */
const QUEUE_OR_CONTAINER_NAME = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

/** Table names: 3–63 letters and digits, starting with a letter; "tables" is reserved. */
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;

export function isQueueName(name: string): boolean {
  return QUEUE_OR_CONTAINER_NAME.test(name);
}

export function isContainerName(name: string): boolean {
  return QUEUE_OR_CONTAINER_NAME.test(name);
}

export function isTableName(name: string): boolean {
  return TABLE_NAME.test(name) && name.toLowerCase() !== 'tables';
}

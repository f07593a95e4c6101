/**
 * Construction of @azure/data-tables clients from settings; the only place that decides transport security, the
 * client-side retry policy (none: retryTransient is the one retry layer) and the per-attempt timeout.
 */
import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import { DEFAULT_OUTBOUND_TIMEOUT_MS, outboundTimeoutPolicy } from './outbound-timeout-policy';

export interface TableClientSettings {
  /** Storage connection string (shared key or SAS), including `UseDevelopmentStorage=true`. */
  connectionString?: string;
  /** Account table endpoint, e.g. `https://acct.table.core.windows.net`; used with `credential` (managed identity). */
  endpoint?: string;
  credential?: TokenCredential;
}

function targetsPlainHttp(settings: TableClientSettings): boolean {
  if (settings.endpoint !== undefined) return settings.endpoint.trim().toLowerCase().startsWith('http://');
  const connectionString = settings.connectionString ?? '';
  return /(^|;)\s*(UseDevelopmentStorage=true|DefaultEndpointsProtocol=http|TableEndpoint=http:\/\/)/i.test(connectionString);
}

export interface TableClientOptions {
  /** Per-attempt timeout (OUTBOUND_TIMEOUT_MS). Default 10,000 ms. */
  timeoutMs?: number;
}

/**
 * Creates a client for one table. Plain http is allowed only when the endpoint itself is http
 * (Azurite); production endpoints stay https-only. A connection string wins over endpoint+credential.
 * Throws (without echoing settings, which may carry keys) when neither is configured.
 *
 * The SDK's own retry is off: `retryOptions.maxRetries: 0` (core-client CommonClientOptions → core-rest-pipeline
 * PipelineRetryOptions; its retryPolicy stops once `retryCount >= maxRetries`, for the exponential, throttling and
 * system-error strategies alike, checked in @typespec/ts-http-runtime policies/retryPolicy.js). Left at its default
 * (3), every retryTransient attempt would be up to four requests with the SDK's own waits in between.
 */
export function createTableClient(settings: TableClientSettings, tableName: string, clientOptions: TableClientOptions = {}): TableClient {
  const options: TableServiceClientOptions = {
    allowInsecureConnection: targetsPlainHttp(settings),
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [
      { policy: outboundTimeoutPolicy(clientOptions.timeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS, `table ${tableName}`), position: 'perRetry' },
    ],
  };
  if (settings.connectionString) return TableClient.fromConnectionString(settings.connectionString, tableName, options);
  if (settings.endpoint) {
    const endpoint = settings.endpoint.replace(/\/+$/, '');
    return settings.credential
      ? new TableClient(endpoint, tableName, settings.credential, options)
      : new TableClient(endpoint, tableName, options);
  }
  throw new Error(`Table storage for table "${tableName}" is not configured: give a connection string, or an endpoint with a credential`);
}

/** Creates the tables if missing. Idempotent: the SDK treats 409 TableAlreadyExists as success. */
export async function ensureTables(clients: TableClient[]): Promise<void> {
  await Promise.all(clients.map((client) => client.createTable()));
}

/**
 * Largest string property we write, in UTF-16 code units. The service limit is 64 KiB per String
 * property, i.e. 32,768 code units; the margin keeps clear of it.
 */
export const MAX_STRING_PROPERTY_CHARS = 32_000;

/**
 * Splits `value` into columns `name`, `name1`, `name2`, … of at most {@link MAX_STRING_PROPERTY_CHARS}
 * each (never between the halves of a surrogate pair, which would corrupt both parts). Returns
 * undefined when it would need more than `maxParts` columns, so the caller decides how to degrade.
 */
export function splitStringProperty(name: string, value: string, maxParts: number): Record<string, string> | undefined {
  const columns: Record<string, string> = {};
  let start = 0;
  for (let part = 0; start < value.length || part === 0; part += 1) {
    if (part >= maxParts) return undefined;
    let end = Math.min(value.length, start + MAX_STRING_PROPERTY_CHARS);
    if (end < value.length && isHighSurrogate(value.charCodeAt(end - 1))) end -= 1;
    columns[part === 0 ? name : `${name}${part}`] = value.slice(start, end);
    start = end;
  }
  return columns;
}

/** Reassembles columns written by {@link splitStringProperty}; undefined when `name` is absent. */
export function joinStringProperty(entity: Record<string, unknown>, name: string): string | undefined {
  const first = entity[name];
  if (typeof first !== 'string') return undefined;
  let joined = first;
  for (let part = 1; ; part += 1) {
    const next = entity[`${name}${part}`];
    if (typeof next !== 'string') return joined;
    joined += next;
  }
}

/** Cuts `value` to at most `maxChars` UTF-16 code units without splitting a surrogate pair. */
export function truncateString(value: string, maxChars: number): string {
  if (value.length <= maxChars) return value;
  const end = isHighSurrogate(value.charCodeAt(maxChars - 1)) ? maxChars - 1 : maxChars;
  return value.slice(0, end);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * Rough wire size of an entity in a batch body (UTF-8 JSON), used to keep a transaction under the
 * service's 4 MiB payload limit. Strings are measured as JSON-escaped UTF-8; everything else as a
 * small constant, which over-estimates and is therefore safe.
 */
export function estimateEntityWireBytes(entity: Record<string, unknown>): number {
  let bytes = 256;
  for (const [key, value] of Object.entries(entity)) {
    bytes += key.length * 2 + 48;
    if (typeof value === 'string') bytes += Buffer.byteLength(JSON.stringify(value), 'utf8');
    else bytes += 40;
  }
  return bytes;
}

/** Entity-group transaction limits: ≤100 actions and <4 MiB, one PartitionKey (the service rejects otherwise). */
export const MAX_TRANSACTION_ACTIONS = 100;
export const MAX_TRANSACTION_BYTES = 3.5 * 1024 * 1024;

/**
 * Groups entities into valid transactions: one PartitionKey each, each RowKey at most once (the last
 * occurrence wins, as it would for sequential upserts), ≤100 entities and under the payload limit.
 */
export function planUpsertTransactions<E extends { partitionKey: string; rowKey: string }>(entities: readonly E[]): E[][] {
  const byPartition = new Map<string, Map<string, E>>();
  for (const entity of entities) {
    let rows = byPartition.get(entity.partitionKey);
    if (!rows) byPartition.set(entity.partitionKey, (rows = new Map<string, E>()));
    rows.delete(entity.rowKey);
    rows.set(entity.rowKey, entity);
  }
  return splitIntoTransactions(
    [...byPartition.values()].map((rows) => [...rows.values()]),
    estimateEntityWireBytes,
  );
}

/**
 * Splits groups of items that share a PartitionKey into transaction-sized chunks: ≤100 items and
 * under the payload limit each, in order. `bytesOf` estimates an item's share of the request.
 */
export function splitIntoTransactions<T>(groups: readonly (readonly T[])[], bytesOf: (item: T) => number): T[][] {
  const transactions: T[][] = [];
  for (const group of groups) {
    let current: T[] = [];
    let currentBytes = 0;
    for (const item of group) {
      const bytes = bytesOf(item);
      if (current.length > 0 && (current.length >= MAX_TRANSACTION_ACTIONS || currentBytes + bytes > MAX_TRANSACTION_BYTES)) {
        transactions.push(current);
        current = [];
        currentBytes = 0;
      }
      current.push(item);
      currentBytes += bytes;
    }
    if (current.length > 0) transactions.push(current);
  }
  return transactions;
}

/** Drops undefined-valued properties, which the service would otherwise receive as nulls or omit inconsistently. */
export function withoutUndefined<T extends Record<string, unknown>>(entity: T): T {
  for (const key of Object.keys(entity)) if (entity[key] === undefined) delete entity[key];
  return entity;
}

/** Reads an integer column written as Int32 (number) or Int64 (bigint). */
export function readInteger(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return undefined;
}

/** An integer for an Int32 column when it fits, otherwise Int64, so large values are not stored as Double. */
export function tableInteger(value: number | undefined): number | bigint | undefined {
  if (value === undefined) return undefined;
  return Number.isInteger(value) && value >= -2147483648 && value <= 2147483647 ? value : BigInt(Math.trunc(value));
}

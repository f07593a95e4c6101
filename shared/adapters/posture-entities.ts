/**
 * The posture tables' rows: how a LatestPosture and a HistoryEntry map to Azure Table entities and back.
 * Operators query both tables directly, so columns are readable and typed.
 *
 * Latest table — PartitionKey = shard `00`–`15` (postureShard(deviceId)), RowKey = encodeKeySegment(deviceId):
 * | column | EDM type | meaning |
 * |---|---|---|
 * | DeviceId | String | raw device ID (the RowKey is escaped: `%`, `#`, `?`, `/`, `\\` as %XX) |
 * | ModuleId | String | security module ID |
 * | ModulePresent, DeviceDeleted | Boolean | |
 * | AuthType | String | `sas` / `selfSigned` / `certificateAuthority` / `none` (absent when unknown) |
 * | TwinVersion, DesiredVersion, ReportedVersion | Int32 (Int64 beyond 2^31) | |
 * | ReportedLastUpdated | DateTime | reported `$metadata.$lastUpdated` (read back at millisecond precision) |
 * | ConfigurationState | String | `inSync` / `drifted` / `pending` / `unknown` |
 * | DriftedKeys, InvalidFields | String | JSON array, e.g. `["hub_resource_id"]` (keys may contain commas) |
 * | AgentState | String | micro agent `latest_state` |
 * | Provisioning | String | last provisioning outcome |
 * | UpdatedAt | DateTime | time of the newest event applied |
 * | DesiredJson, ReportedJson | String | JSON of the sections; beyond 32,000 characters continued in DesiredJson1, DesiredJson2, … (at most 8 columns each) |
 * | FindingsJson | String | JSON array of the last sweep's findings `[{ruleId, severity, status, message}]` (continued like DesiredJson) |
 * | LastSweepId | String | sweep that last changed FindingsJson / Compliant |
 * | Compliant | Boolean | no violation in the last sweep |
 * | SchemaVersion | Int32 | 2 |
 *
 * History table — PartitionKey = postureShard(deviceId), RowKey = `<encodeKeySegment(deviceId)>|<historyRowKey(at,
 * partitionId, sequenceNumber)>` (a device's rows contiguous, newest first; deterministic, so a replay overwrites):
 * | column | EDM type | meaning |
 * |---|---|---|
 * | DeviceId, ModuleId | String | raw IDs |
 * | At | DateTime | event time |
 * | Kind | String | HistoryKind |
 * | Summary | String | human-readable |
 * | PartitionId | String | Event Hubs partition |
 * | SequenceNumber | Int64 | query as `SequenceNumber ge 42L` |
 * | TwinVersion, ReportedVersion, DesiredVersion | Int32 (Int64 beyond 2^31) | |
 * | ChangeJson | String | the change as JSON (continued in ChangeJson1, … like DesiredJson) |
 * | ModulePresent | Boolean | posture after the entry |
 * | ConfigurationState, AgentState, AuthType | String | posture after the entry |
 * | DriftedKeys, InvalidFields | String | JSON arrays, posture after the entry |
 * | SchemaVersion | Int32 | 2 |
 */
import type { TableEntity } from '@azure/data-tables';

import { PermanentError } from '../errors';
import { historyKeys, latestKeys } from '../domain/table-keys';
import type { AuthenticationType } from '../domain/authentication-type';
import type {
  ConfigurationState,
  HistoryEntry,
  HistoryKind,
  JsonObject,
  LatestPosture,
  PostureFinding,
  ProvisioningStatus,
} from '../domain/types';
import { stringValue } from './entity-values';
import { joinStringProperty, readInteger, splitStringProperty, tableInteger, withoutUndefined } from './table-clients';

/** 2: rows sharded over 16 partitions (postureShard) instead of one partition per device. */
export const POSTURE_SCHEMA_VERSION = 2;
/** Columns per JSON section: 8 × 32,000 characters ≈ 500 KB as UTF-16, inside the 1 MiB entity limit. */
const MAX_JSON_PARTS = 8;

type Entity = TableEntity<Record<string, unknown>>;

function isoOrUndefined(value: unknown): string | undefined {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : undefined;
}

function dateColumn(iso: string | undefined): Date | undefined {
  if (iso === undefined) return undefined;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function stringArrayColumn(value: unknown): string[] {
  if (typeof value !== 'string' || value === '') return [];
  const parsed: unknown = JSON.parse(value);
  return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === 'string') : [];
}

function jsonColumns(name: string, value: JsonObject | undefined, deviceId: string): Record<string, string> {
  if (value === undefined) return {};
  const columns = splitStringProperty(name, JSON.stringify(value), MAX_JSON_PARTS);
  if (!columns) throw new PermanentError(`${name} for device ${deviceId} exceeds ${MAX_JSON_PARTS} columns of 32,000 characters`);
  return columns;
}

function parseJsonObject(text: string | undefined): JsonObject | undefined {
  if (text === undefined) return undefined;
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as JsonObject) : undefined;
}

function findingsColumns(findings: PostureFinding[], deviceId: string): Record<string, string> {
  const columns = splitStringProperty('FindingsJson', JSON.stringify(findings), MAX_JSON_PARTS);
  if (!columns) throw new PermanentError(`FindingsJson for device ${deviceId} exceeds ${MAX_JSON_PARTS} columns of 32,000 characters`);
  return columns;
}

function parseFindings(text: string | undefined): PostureFinding[] | undefined {
  if (text === undefined) return undefined;
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? (parsed as PostureFinding[]) : undefined;
}

/** Builds the latest-table entity for a posture (see the schema at the top of this file). */
export function toLatestEntity(posture: LatestPosture): Entity {
  return withoutUndefined<Entity>({
    ...latestKeys(posture.deviceId),
    DeviceId: posture.deviceId,
    ModuleId: posture.moduleId,
    ModulePresent: posture.modulePresent,
    DeviceDeleted: posture.deviceDeleted,
    AuthType: posture.authType,
    TwinVersion: tableInteger(posture.twinVersion),
    DesiredVersion: tableInteger(posture.desiredVersion),
    ReportedVersion: tableInteger(posture.reportedVersion),
    ReportedLastUpdated: dateColumn(posture.reportedLastUpdated),
    ConfigurationState: posture.configurationState,
    DriftedKeys: JSON.stringify(posture.driftedKeys),
    AgentState: posture.agentState,
    InvalidFields: JSON.stringify(posture.invalidFields),
    Provisioning: posture.provisioning,
    UpdatedAt: dateColumn(posture.updatedAt),
    ...jsonColumns('DesiredJson', posture.desired, posture.deviceId),
    ...jsonColumns('ReportedJson', posture.reported, posture.deviceId),
    ...(posture.findings === undefined ? {} : findingsColumns(posture.findings, posture.deviceId)),
    LastSweepId: posture.lastSweepId,
    Compliant: posture.compliant,
    SchemaVersion: POSTURE_SCHEMA_VERSION,
  });
}

/** Inverse of {@link toLatestEntity}. Dates come back at millisecond precision. */
export function fromLatestEntity(entity: Record<string, unknown>): LatestPosture {
  const posture: LatestPosture = {
    deviceId: stringValue(entity.DeviceId) ?? '',
    moduleId: stringValue(entity.ModuleId) ?? '',
    modulePresent: entity.ModulePresent === true,
    deviceDeleted: entity.DeviceDeleted === true,
    authType: stringValue(entity.AuthType) as AuthenticationType | undefined,
    twinVersion: readInteger(entity.TwinVersion),
    desired: parseJsonObject(joinStringProperty(entity, 'DesiredJson')),
    desiredVersion: readInteger(entity.DesiredVersion),
    reported: parseJsonObject(joinStringProperty(entity, 'ReportedJson')),
    reportedVersion: readInteger(entity.ReportedVersion),
    reportedLastUpdated: isoOrUndefined(entity.ReportedLastUpdated),
    configurationState: (stringValue(entity.ConfigurationState) ?? 'unknown') as ConfigurationState,
    driftedKeys: stringArrayColumn(entity.DriftedKeys),
    agentState: stringValue(entity.AgentState),
    invalidFields: stringArrayColumn(entity.InvalidFields),
    provisioning: stringValue(entity.Provisioning) as ProvisioningStatus | undefined,
    updatedAt: isoOrUndefined(entity.UpdatedAt) ?? '',
    findings: parseFindings(joinStringProperty(entity, 'FindingsJson')),
    lastSweepId: stringValue(entity.LastSweepId),
    compliant: typeof entity.Compliant === 'boolean' ? entity.Compliant : undefined,
  };
  return withoutUndefined(posture as unknown as Record<string, unknown>) as unknown as LatestPosture;
}

/** Builds the history-table entity for an entry (see the schema at the top of this file). */
export function toHistoryEntity(entry: HistoryEntry): Entity {
  return withoutUndefined<Entity>({
    ...historyKeys(entry.deviceId, entry.at, entry.partitionId, entry.sequenceNumber),
    DeviceId: entry.deviceId,
    At: entry.at,
    Kind: entry.kind,
    ModuleId: entry.moduleId,
    Summary: entry.summary,
    PartitionId: entry.partitionId,
    SequenceNumber: BigInt(entry.sequenceNumber),
    TwinVersion: tableInteger(entry.twinVersion),
    ReportedVersion: tableInteger(entry.reportedVersion),
    DesiredVersion: tableInteger(entry.desiredVersion),
    ...jsonColumns('ChangeJson', entry.change, entry.deviceId),
    ModulePresent: entry.posture.modulePresent,
    ConfigurationState: entry.posture.configurationState,
    DriftedKeys: JSON.stringify(entry.posture.driftedKeys),
    AgentState: entry.posture.agentState,
    InvalidFields: JSON.stringify(entry.posture.invalidFields),
    AuthType: entry.posture.authType,
    SchemaVersion: POSTURE_SCHEMA_VERSION,
  });
}

/** Inverse of {@link toHistoryEntity}. */
export function fromHistoryEntity(entity: Record<string, unknown>): HistoryEntry {
  const entry: HistoryEntry = {
    deviceId: stringValue(entity.DeviceId) ?? '',
    at: entity.At instanceof Date ? entity.At : new Date(NaN),
    partitionId: stringValue(entity.PartitionId) ?? '',
    sequenceNumber: readInteger(entity.SequenceNumber) ?? -1,
    kind: (stringValue(entity.Kind) ?? 'resynced') as HistoryKind,
    moduleId: stringValue(entity.ModuleId) ?? '',
    summary: stringValue(entity.Summary) ?? '',
    twinVersion: readInteger(entity.TwinVersion),
    reportedVersion: readInteger(entity.ReportedVersion),
    desiredVersion: readInteger(entity.DesiredVersion),
    change: parseJsonObject(joinStringProperty(entity, 'ChangeJson')),
    posture: withoutUndefined({
      modulePresent: entity.ModulePresent === true,
      configurationState: (stringValue(entity.ConfigurationState) ?? 'unknown') as ConfigurationState,
      driftedKeys: stringArrayColumn(entity.DriftedKeys),
      agentState: stringValue(entity.AgentState),
      invalidFields: stringArrayColumn(entity.InvalidFields),
      authType: stringValue(entity.AuthType) as AuthenticationType | undefined,
    }),
  };
  return withoutUndefined(entry as unknown as Record<string, unknown>) as unknown as HistoryEntry;
}

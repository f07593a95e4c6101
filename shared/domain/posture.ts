/**
 * Folds IoT Hub events into a device's latest security posture and its history rows.
 *
 * Twin-change notifications for reported properties are partial patches, and delivery is at least once and may
 * replay a batch, so every step is decided against what is already stored: section `$version`s order twin
 * changes, and the enqueued time of the newest applied event (`updatedAt`) orders lifecycle events, whose twin
 * versions restart after a module is deleted and re-created. Pure: time comes from the event.
 */
import type { ModuleTwin } from '../ports/device-registry';
import { toAuthenticationType } from './authentication-type';
import { compareConfiguration } from './security-module/compare-configuration';
import { agentSchemaFor } from './security-module/agent-schema';
import { readAgentState } from './security-module/read-agent-state';
import { isJsonObject, mergePatch, sectionLastUpdated, sectionVersion, stripMetadata } from './twin-patch';
import type { AuthenticationType } from './authentication-type';
import type { HistoryEntry, HistoryKind, HubEvent, JsonObject, LatestPosture, ProvisioningStatus } from './types';

export interface PostureContext {
  /** Module id of the security module twin being tracked; compared exactly, as IoT Hub module ids are case-sensitive. */
  securityModuleId: string;
}

export type PostureStep =
  /** Write `history` first, then `next`: a crash in between replays into 'alreadyApplied' with the row already there. */
  | { kind: 'applied'; next: LatestPosture; history: HistoryEntry }
  /** A replay or late duplicate (or a change with nothing posture-related): nothing to write. */
  | { kind: 'alreadyApplied' }
  /** The stored base cannot take this patch: read the module twin and call {@link postureFromTwin}. */
  | { kind: 'gap'; reason: string }
  /** About another module, the device twin, or a device creation: nothing to record here. */
  | { kind: 'notSecurityModule' };

/** The raw part of a posture; everything else is recomputed by {@link derivePosture}. */
export type PostureBase = Omit<LatestPosture, 'configurationState' | 'driftedKeys' | 'agentState' | 'invalidFields'>;

/**
 * Decides what one hub event does to the stored posture. Never reads anything: when the stored reported section is
 * not a sound base for a patch (none stored, a `$version` jump because IoT Hub coalesced notifications, or changes
 * to a module we saw deleted) it answers 'gap' and the caller resyncs from the twin.
 */
export function applyEvent(latest: LatestPosture | undefined, event: HubEvent, context: PostureContext): PostureStep {
  switch (event.kind) {
    case 'deviceCreated':
      // Provisioning records the device's posture itself (provisioningStep); the creation alone changes nothing.
      return { kind: 'notSecurityModule' };
    case 'deviceDeleted':
      return applyDeviceDeleted(latest, event, context);
    case 'moduleCreated':
      return event.moduleId === context.securityModuleId ? applyModuleCreated(latest, event, context) : { kind: 'notSecurityModule' };
    case 'moduleDeleted':
      return event.moduleId === context.securityModuleId ? applyModuleDeleted(latest, event, context) : { kind: 'notSecurityModule' };
    case 'twinChanged':
      if (event.moduleId !== context.securityModuleId) return { kind: 'notSecurityModule' };
      return event.opType === 'replaceTwin' ? applyTwinReplaced(latest, event, context) : applyTwinUpdated(latest, event);
  }
}

/**
 * The posture after a resync: the module twin read after a 'gap' is authoritative, so its sections and versions
 * replace what was stored (versions may even go down, after a re-create). `twin` undefined means the module is
 * gone; the last known sections are kept for forensics while the posture says the module is absent.
 */
export function postureFromTwin(
  latest: LatestPosture | undefined,
  twin: ModuleTwin | undefined,
  event: HubEvent,
  context: PostureContext,
): { next: LatestPosture; history: HistoryEntry } {
  const base = baseFrom(latest, event.deviceId, context, event);
  if (twin === undefined) {
    const next = derivePosture({ ...base, modulePresent: false });
    return { next, history: historyEntry(next, event, 'resynced', `resynced: module ${next.moduleId} not found`) };
  }
  const next = derivePosture(
    withSections(
      {
        ...base,
        modulePresent: true,
        deviceDeleted: false,
        twinVersion: twin.version,
        ...definedOnly({ authType: twin.authType ?? latest?.authType }),
      },
      twin.desired,
      twin.reported,
    ),
  );
  const summary = `resynced from twin v${twin.version}${sectionVersionsText(next)}`;
  return { next, history: historyEntry(next, event, 'resynced', summary, sectionsChange(next)) };
}

/**
 * Recomputes every derived field from the raw sections, so a stored posture never carries a verdict that
 * disagrees with its own data. An absent module (or a deleted device) has no configuration to judge: 'unknown'.
 */
export function derivePosture(base: PostureBase): LatestPosture {
  const posture = rawFields(base) as LatestPosture;
  if (!posture.modulePresent || posture.deviceDeleted) {
    posture.configurationState = 'unknown';
    posture.driftedKeys = [];
    posture.invalidFields = [];
    return posture;
  }
  const { state, driftedKeys } = compareConfiguration(posture.desired, posture.reported, agentSchemaFor(posture.moduleId, posture.desired));
  const { agentState, invalidFields } = readAgentState(posture.reported);
  posture.configurationState = state;
  posture.driftedKeys = driftedKeys;
  if (agentState !== undefined) posture.agentState = agentState;
  posture.invalidFields = invalidFields;
  return posture;
}

/**
 * Records a provisioning outcome (module created, already there, or why not) for `deviceId`. A module we did not
 * already know as present has an unknown twin, so its sections and versions are cleared: the next reported patch
 * then resyncs instead of merging onto a twin that no longer exists.
 */
export function provisioningStep(
  latest: LatestPosture | undefined,
  deviceId: string,
  status: ProvisioningStatus,
  event: HubEvent,
  context: PostureContext,
  detail?: JsonObject,
): { next: LatestPosture; history: HistoryEntry } {
  let base: PostureBase = { ...baseFrom(latest, deviceId, context, event), provisioning: status };
  const knownPresent = latest !== undefined && latest.modulePresent && !latest.deviceDeleted;
  switch (status) {
    case 'created':
    case 'alreadyPresent':
      base = knownPresent ? base : { ...withoutSections(base), modulePresent: true, deviceDeleted: false };
      break;
    case 'deviceNotFound':
      base = { ...base, modulePresent: false, deviceDeleted: true };
      break;
    case 'needsThumbprint':
    case 'skippedEdge':
    case 'skippedByCondition':
    case 'queuedForImport':
    case 'importFailed':
      break;
  }
  const next = derivePosture(base);
  return { next, history: historyEntry(next, event, 'provisioning', `provisioning: ${status}`, detail) };
}

// ---------------------------------------------------------------------------------------------------------------
// Lifecycle events

type EventOf<K extends HubEvent['kind']> = Extract<HubEvent, { kind: K }>;

function applyModuleCreated(latest: LatestPosture | undefined, event: EventOf<'moduleCreated'>, context: PostureContext): PostureStep {
  const twinVersion = numberField(event.twin, 'version');
  if (latest !== undefined && isRemoved(latest)) {
    // Versions restart after a re-create, so only time can tell this create from a replay of the one before the delete.
    if (isOlderThanStored(latest, event)) return { kind: 'alreadyApplied' };
  } else if (latest?.twinVersion !== undefined && twinVersion !== undefined && latest.twinVersion >= twinVersion) {
    return { kind: 'alreadyApplied' };
  }
  const properties = propertiesOf(event.twin);
  const base: PostureBase = {
    ...withoutSections(baseFrom(latest, event.deviceId, context, event)),
    modulePresent: true,
    deviceDeleted: false,
    ...definedOnly({ twinVersion, authType: authTypeOf(event.twin) ?? latest?.authType }),
  };
  const next = derivePosture(withSections(base, properties.desired, properties.reported));
  const summary = `module ${event.moduleId} created${twinVersion === undefined ? '' : ` (twin v${twinVersion})`}`;
  return { kind: 'applied', next, history: historyEntry(next, event, 'moduleCreated', summary, sectionsChange(next)) };
}

function applyModuleDeleted(latest: LatestPosture | undefined, event: EventOf<'moduleDeleted'>, context: PostureContext): PostureStep {
  if (latest !== undefined && (isOlderThanStored(latest, event) || (!latest.modulePresent && !isNewerThanStored(latest, event)))) {
    return { kind: 'alreadyApplied' };
  }
  // Sections stay for forensics (what was the agent doing when its module went away); derivePosture ignores them.
  const next = derivePosture({ ...baseFrom(latest, event.deviceId, context, event), modulePresent: false });
  return { kind: 'applied', next, history: historyEntry(next, event, 'moduleDeleted', `module ${event.moduleId} deleted`) };
}

function applyDeviceDeleted(latest: LatestPosture | undefined, event: EventOf<'deviceDeleted'>, context: PostureContext): PostureStep {
  if (latest !== undefined && (isOlderThanStored(latest, event) || (latest.deviceDeleted && !isNewerThanStored(latest, event)))) {
    return { kind: 'alreadyApplied' };
  }
  const next = derivePosture({ ...baseFrom(latest, event.deviceId, context, event), modulePresent: false, deviceDeleted: true });
  return { kind: 'applied', next, history: historyEntry(next, event, 'deviceDeleted', 'device deleted') };
}

// ---------------------------------------------------------------------------------------------------------------
// Twin changes

function applyTwinReplaced(latest: LatestPosture | undefined, event: EventOf<'twinChanged'>, context: PostureContext): PostureStep {
  const twinVersion = numberField(event.body, 'version');
  if (latest !== undefined) {
    if (isRemoved(latest)) {
      if (!isNewerThanStored(latest, event)) return { kind: 'alreadyApplied' };
    } else if (latest.twinVersion !== undefined && (twinVersion === undefined || twinVersion <= latest.twinVersion)) {
      return { kind: 'alreadyApplied' };
    }
  }
  const properties = propertiesOf(event.body);
  const base: PostureBase = {
    ...baseFrom(latest, event.deviceId, context, event),
    modulePresent: true,
    deviceDeleted: false,
    ...definedOnly({ twinVersion, authType: authTypeOf(event.body) ?? latest?.authType }),
  };
  // A replace cannot change reported properties, so a body without them keeps the stored reported section.
  const next = derivePosture(
    withSections(base, properties.desired ?? sectionFrom(latest, 'desired'), properties.reported ?? sectionFrom(latest, 'reported')),
  );
  const summary = `twin replaced${twinVersion === undefined ? '' : ` v${twinVersion}`}${sectionVersionsText(next)}`;
  return { kind: 'applied', next, history: historyEntry(next, event, 'twinReplaced', summary, sectionsChange(next)) };
}

function applyTwinUpdated(latest: LatestPosture | undefined, event: EventOf<'twinChanged'>): PostureStep {
  const properties = propertiesOf(event.body);
  if (properties.reported === undefined && properties.desired === undefined) {
    // Tags only: nothing that makes up the posture changed.
    return { kind: 'alreadyApplied' };
  }
  if (latest === undefined) return { kind: 'gap', reason: 'no stored posture for this device' };
  if (isRemoved(latest)) {
    if (!isNewerThanStored(latest, event)) return { kind: 'alreadyApplied' };
    return { kind: 'gap', reason: `module ${latest.moduleId} changed while recorded as absent: created or re-created since` };
  }

  let base: PostureBase = latest;
  const summaries: string[] = [];
  const changes: { reported?: JsonObject; desired?: JsonObject } = {};

  if (properties.reported !== undefined) {
    const patchVersion = sectionVersion(properties.reported);
    const storedVersion = latest.reportedVersion;
    if (storedVersion === undefined) return { kind: 'gap', reason: 'stored reported section has no $version: unknown base' };
    if (patchVersion === undefined) return { kind: 'gap', reason: 'reported patch without $version' };
    if (patchVersion > storedVersion + 1) {
      return { kind: 'gap', reason: `reported $version jumped from ${storedVersion} to ${patchVersion}: intermediate changes not seen` };
    }
    if (patchVersion > storedVersion) {
      const patch = stripMetadata(properties.reported);
      base = {
        ...base,
        reported: mergePatch(latest.reported ?? {}, patch),
        reportedVersion: patchVersion,
        ...definedOnly({ reportedLastUpdated: sectionLastUpdated(properties.reported) ?? latest.reportedLastUpdated }),
      };
      changes.reported = patch;
      summaries.push(reportedSummary(patchVersion, patch));
    }
  }

  if (properties.desired !== undefined) {
    const desiredVersion = sectionVersion(properties.desired);
    if (desiredVersion === undefined) return { kind: 'gap', reason: 'desired section without $version' };
    if (latest.desiredVersion === undefined || desiredVersion > latest.desiredVersion) {
      const desired = stripMetadata(properties.desired);
      base = { ...base, desired, desiredVersion };
      changes.desired = desired;
      summaries.push(`desired v${desiredVersion}: ${countText(Object.keys(desired).length, 'key')}`);
    }
  }

  if (changes.reported === undefined && changes.desired === undefined) return { kind: 'alreadyApplied' };

  const twinVersion = numberField(event.body, 'version');
  base = {
    ...base,
    updatedAt: laterIso(latest.updatedAt, event),
    ...definedOnly({ twinVersion: maxDefined(latest.twinVersion, twinVersion) }),
  };
  const next = derivePosture(base);
  const kind: HistoryKind = changes.reported !== undefined ? 'reportedChanged' : 'desiredChanged';
  // One section changed (the usual case): the change is that section; a coalesced body with both keeps both.
  const change = changes.desired === undefined ? changes.reported : changes.reported === undefined ? changes.desired : { ...changes };
  return { kind: 'applied', next, history: historyEntry(next, event, kind, summaries.join('; '), change) };
}

function reportedSummary(version: number, patch: JsonObject): string {
  if (!('latest_state' in patch)) return `reported v${version}: ${countText(Object.keys(patch).length, 'key')}`;
  const { agentState, invalidFields } = readAgentState(patch);
  const invalid = invalidFields.length === 0 ? '' : ` (invalid: ${invalidFields.join(', ')})`;
  return `reported v${version}: latest_state=${agentState ?? String(patch['latest_state'])}${invalid}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** The stored posture's raw part (or a fresh one), re-stamped with the event's time and the tracked module id. */
function baseFrom(latest: LatestPosture | undefined, deviceId: string, context: PostureContext, event: HubEvent): PostureBase {
  const updatedAt = latest === undefined ? event.position.enqueuedTime.toISOString() : laterIso(latest.updatedAt, event);
  if (latest === undefined) {
    return { deviceId, moduleId: context.securityModuleId, modulePresent: false, deviceDeleted: false, updatedAt };
  }
  return { ...rawFields(latest), deviceId, moduleId: context.securityModuleId, updatedAt };
}

function rawFields(posture: PostureBase): PostureBase {
  // Built field by field (no spreads): this runs once per event on the hot path.
  const raw: PostureBase = {
    deviceId: posture.deviceId,
    moduleId: posture.moduleId,
    modulePresent: posture.modulePresent,
    deviceDeleted: posture.deviceDeleted,
    updatedAt: posture.updatedAt,
  };
  if (posture.authType !== undefined) raw.authType = posture.authType;
  if (posture.twinVersion !== undefined) raw.twinVersion = posture.twinVersion;
  if (posture.desired !== undefined) raw.desired = posture.desired;
  if (posture.desiredVersion !== undefined) raw.desiredVersion = posture.desiredVersion;
  if (posture.reported !== undefined) raw.reported = posture.reported;
  if (posture.reportedVersion !== undefined) raw.reportedVersion = posture.reportedVersion;
  if (posture.reportedLastUpdated !== undefined) raw.reportedLastUpdated = posture.reportedLastUpdated;
  if (posture.provisioning !== undefined) raw.provisioning = posture.provisioning;
  // The sweep's verdict belongs to the sweep: events carry it forward untouched until the next sweep.
  if (posture.findings !== undefined) raw.findings = posture.findings;
  if (posture.lastSweepId !== undefined) raw.lastSweepId = posture.lastSweepId;
  if (posture.compliant !== undefined) raw.compliant = posture.compliant;
  return raw;
}

/** Forgets everything known about the twin's content, for a module whose twin is new or unknown. */
function withoutSections(base: PostureBase): PostureBase {
  const { twinVersion: _twinVersion, ...rest } = withoutSectionContent(base);
  return rest;
}

function withoutSectionContent(base: PostureBase): PostureBase {
  const { desired: _desired, desiredVersion: _desiredVersion, reported: _reported, ...rest } = base;
  const { reportedVersion: _reportedVersion, reportedLastUpdated: _reportedLastUpdated, ...withoutAny } = rest;
  return withoutAny;
}

/** Replaces both sections from full twin sections (with `$metadata`/`$version`); an absent section clears it. */
function withSections(base: PostureBase, desiredSection: unknown, reportedSection: unknown): PostureBase {
  return {
    ...withoutSectionContent(base),
    ...(isJsonObject(desiredSection)
      ? { desired: stripMetadata(desiredSection), ...definedOnly({ desiredVersion: sectionVersion(desiredSection) }) }
      : {}),
    ...(isJsonObject(reportedSection)
      ? {
          reported: stripMetadata(reportedSection),
          ...definedOnly({ reportedVersion: sectionVersion(reportedSection), reportedLastUpdated: sectionLastUpdated(reportedSection) }),
        }
      : {}),
  };
}

/** A stored section rebuilt with its version, so it can go back through withSections unchanged. */
function sectionFrom(latest: LatestPosture | undefined, section: 'desired' | 'reported'): JsonObject | undefined {
  const content = latest?.[section];
  if (content === undefined) return undefined;
  const version = section === 'desired' ? latest?.desiredVersion : latest?.reportedVersion;
  const lastUpdated = section === 'reported' ? latest?.reportedLastUpdated : undefined;
  return {
    ...content,
    ...definedOnly({ $version: version }),
    ...(lastUpdated === undefined ? {} : { $metadata: { $lastUpdated: lastUpdated } }),
  };
}

function propertiesOf(body: JsonObject): { desired?: JsonObject; reported?: JsonObject } {
  const properties = body['properties'];
  if (!isJsonObject(properties)) return {};
  const desired = properties['desired'];
  const reported = properties['reported'];
  return { ...(isJsonObject(desired) ? { desired } : {}), ...(isJsonObject(reported) ? { reported } : {}) };
}

function sectionsChange(posture: LatestPosture): JsonObject | undefined {
  const change = definedOnly({ desired: posture.desired, reported: posture.reported });
  return Object.keys(change).length === 0 ? undefined : change;
}

function sectionVersionsText(posture: LatestPosture): string {
  const parts = [
    posture.desiredVersion === undefined ? undefined : `desired v${posture.desiredVersion}`,
    posture.reportedVersion === undefined ? undefined : `reported v${posture.reportedVersion}`,
  ].filter((part): part is string => part !== undefined);
  return parts.length === 0 ? '' : `: ${parts.join(', ')}`;
}

function historyEntry(next: LatestPosture, event: HubEvent, kind: HistoryKind, summary: string, change?: JsonObject): HistoryEntry {
  return {
    deviceId: next.deviceId,
    at: event.position.enqueuedTime,
    partitionId: event.position.partitionId,
    sequenceNumber: event.position.sequenceNumber,
    kind,
    moduleId: next.moduleId,
    summary,
    ...definedOnly({ twinVersion: next.twinVersion, reportedVersion: next.reportedVersion, desiredVersion: next.desiredVersion, change }),
    posture: {
      modulePresent: next.modulePresent,
      configurationState: next.configurationState,
      driftedKeys: [...next.driftedKeys],
      invalidFields: [...next.invalidFields],
      ...definedOnly({ agentState: next.agentState, authType: next.authType }),
    },
  };
}

/** The module (or its device) was seen deleted: its stored versions no longer order anything that comes later. */
function isRemoved(latest: LatestPosture): boolean {
  return !latest.modulePresent || latest.deviceDeleted;
}

function isOlderThanStored(latest: LatestPosture, event: HubEvent): boolean {
  const stored = Date.parse(latest.updatedAt);
  return !Number.isNaN(stored) && event.position.enqueuedTime.getTime() < stored;
}

/**
 * Strictly later than the newest applied event. Equal times are not "newer": events in the same millisecond
 * cannot be ordered by time, and treating them as a replay writes nothing wrong.
 */
function isNewerThanStored(latest: LatestPosture, event: HubEvent): boolean {
  const stored = Date.parse(latest.updatedAt);
  return Number.isNaN(stored) || event.position.enqueuedTime.getTime() > stored;
}

function laterIso(storedIso: string, event: HubEvent): string {
  const stored = Date.parse(storedIso);
  const eventTime = event.position.enqueuedTime.getTime();
  return !Number.isNaN(stored) && stored > eventTime ? storedIso : event.position.enqueuedTime.toISOString();
}

function authTypeOf(body: JsonObject): AuthenticationType | undefined {
  return toAuthenticationType(body['authenticationType']);
}

function numberField(body: JsonObject, key: string): number | undefined {
  const value = body[key];
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

function maxDefined(left: number | undefined, right: number | undefined): number | undefined {
  if (left === undefined) return right;
  if (right === undefined) return left;
  return Math.max(left, right);
}

function countText(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Drops undefined values so stored records and test expectations never carry `key: undefined`. */
function definedOnly<T extends Record<string, unknown>>(fields: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const result: Record<string, unknown> = {};
  for (const key in fields) {
    const value = fields[key];
    if (value !== undefined) result[key] = value;
  }
  return result as { [K in keyof T]?: Exclude<T[K], undefined> };
}

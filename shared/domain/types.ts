/**
 * Domain types shared by decoding, posture derivation, the services and the storage adapters.
 * Pure data: no SDK types, no Dates read from a clock.
 */

/** Where an event sits in the Event Hub-compatible stream; unique per (partitionId, sequenceNumber). */
export interface EventPosition {
  partitionId: string;
  sequenceNumber: number;
  offset: string;
  /** Broker enqueued time (UTC). */
  enqueuedTime: Date;
}

import type { AuthenticationType } from './authentication-type';

interface EventBase {
  position: EventPosition;
  deviceId: string;
  hubName?: string;
  /** `operationTimestamp` application property; falls back to the enqueued time when absent. */
  operationTime: Date;
}

/** A JSON object as found in twin bodies. */
export type JsonObject = Record<string, unknown>;

export type HubEvent =
  | (EventBase & { kind: 'deviceCreated'; twin: JsonObject })
  | (EventBase & { kind: 'deviceDeleted'; twin: JsonObject })
  | (EventBase & { kind: 'moduleCreated'; moduleId: string; twin: JsonObject })
  | (EventBase & { kind: 'moduleDeleted'; moduleId: string; twin: JsonObject })
  | (EventBase & {
      kind: 'twinChanged';
      /** Absent for a device twin. */
      moduleId?: string;
      opType: 'updateTwin' | 'replaceTwin';
      /** The notification body: partial for updateTwin, whole twin for replaceTwin. */
      body: JsonObject;
    });

/** Non-actionable stream content: counted, never failed. */
export type SkippedCategory = 'telemetry' | 'connectionState' | 'digitalTwin' | 'jobLifecycle' | 'other';

export interface SkippedEvent {
  kind: 'skipped';
  category: SkippedCategory;
  position: EventPosition;
  deviceId?: string;
}

/** A notification that can never be processed; becomes a dead letter with its raw payload. */
export interface InvalidEvent {
  kind: 'invalid';
  reason: string;
  position: EventPosition;
  deviceId?: string;
  /** Raw payload as text (UTF-8, or base64 prefixed with `base64:` for binary), untruncated here. */
  raw: string;
  rawSize: number;
  source?: string;
  schema?: string;
}

export type DecodedEvent = HubEvent | SkippedEvent | InvalidEvent;

/**
 * Agent schema a security module twin is read with: the micro agent's flat desired properties, or the legacy agent's
 * `azureiot*com^securityAgentConfiguration^1*0*0` object (Defender for IoT "Configure a micro agent twin" and
 * "Security agent configuration" docs, learn.microsoft.com/azure/defender-for-iot/device-builders).
 */
export type SecurityAgentSchema = 'microAgent' | 'legacy';

export type ConfigurationState = 'inSync' | 'drifted' | 'pending' | 'unknown';

/**
 * `queuedForImport`: a registration storm deferred the module to an IoT Hub import job (shared/services/storm/);
 * `importFailed`: that job rejected the device's line (the history entry carries the error).
 */
export type ProvisioningStatus =
  | 'created'
  | 'alreadyPresent'
  | 'deviceNotFound'
  | 'needsThumbprint'
  | 'skippedEdge'
  | 'skippedByCondition'
  | 'queuedForImport'
  | 'importFailed';

/**
 * The device's latest security posture, one record per device. Everything derived is recomputable
 * from the raw twin sections kept here, so a patch can be merged without reading the twin.
 */
export interface LatestPosture {
  deviceId: string;
  moduleId: string;
  modulePresent: boolean;
  deviceDeleted: boolean;
  authType?: AuthenticationType;
  /** Twin `version` of the security module twin last applied. */
  twinVersion?: number;
  /** Desired section without `$metadata` / `$version`. */
  desired?: JsonObject;
  desiredVersion?: number;
  /** Full reported section (merged from patches) without `$metadata` / `$version`. */
  reported?: JsonObject;
  reportedVersion?: number;
  /** `$metadata.$lastUpdated` of the reported section (ISO). */
  reportedLastUpdated?: string;
  configurationState: ConfigurationState;
  /** Keys whose reported value differs from desired, per the agent schema. */
  driftedKeys: string[];
  /** Micro agent `latest_state` (`success` | `failed`), or undefined. */
  agentState?: string;
  invalidFields: string[];
  provisioning?: ProvisioningStatus;
  /** ISO time of the newest event applied. */
  updatedAt: string;
  /** Findings of the compliance sweep that last changed them (absent until a sweep evaluated the device). */
  findings?: PostureFinding[];
  /** Id of the sweep that last changed `findings` / `compliant` (unchanged findings are not rewritten). */
  lastSweepId?: string;
  /** True when the last sweep found no violation (suppressed findings do not count). */
  compliant?: boolean;
}

/** One compliance-sweep finding as kept on the latest posture. */
export interface PostureFinding {
  ruleId: string;
  severity: string;
  status: 'violation' | 'suppressed';
  message: string;
}

export type HistoryKind =
  | 'moduleCreated'
  | 'moduleDeleted'
  | 'deviceDeleted'
  | 'reportedChanged'
  | 'desiredChanged'
  | 'twinReplaced'
  | 'resynced'
  | 'provisioning'
  /** A compliance sweep found the device's compliance flipped; partitionId is 'sweep'. */
  | 'complianceChanged';

/** One immutable history row; its key is derived from (deviceId, at, partitionId, sequenceNumber). */
export interface HistoryEntry {
  deviceId: string;
  at: Date;
  partitionId: string;
  sequenceNumber: number;
  kind: HistoryKind;
  moduleId: string;
  /** Short human-readable summary, e.g. "reported v7: latest_state=failed (invalid: X_Disabled)". */
  summary: string;
  twinVersion?: number;
  reportedVersion?: number;
  desiredVersion?: number;
  /** The change itself (reported patch, desired section, provisioning detail), as JSON. */
  change?: JsonObject;
  /** Posture after this entry. */
  posture: Pick<LatestPosture, 'modulePresent' | 'configurationState' | 'driftedKeys' | 'agentState' | 'invalidFields' | 'authType'>;
}

export interface DeadLetter {
  position: EventPosition;
  deviceId?: string;
  reason: string;
  raw: string;
  rawSize: number;
  source?: string;
  schema?: string;
  recordedAt: Date;
}

import { mapWithConcurrency } from '../concurrency';
import { classifyServiceError, errorMessage } from '../errors';
import { applyEvent, postureFromTwin, provisioningStep, type PostureContext } from '../domain/posture';
import type {
  DeadLetter,
  DecodedEvent,
  HistoryEntry,
  HubEvent,
  InvalidEvent,
  LatestPosture,
  ProvisioningStatus,
  SkippedCategory,
} from '../domain/types';
import type { Logger } from '../logger';
import type { DeadLetterStore, DeviceRegistry, PostureStore } from '../ports';
import { ensureSecurityModule, type ProvisioningResult } from './ensure-security-module';
import type { ProcessingSettings } from './settings';

export interface EventPipelineDeps {
  registry: DeviceRegistry;
  posture: PostureStore;
  deadLetters: DeadLetterStore;
  settings: ProcessingSettings;
  logger: Logger;
  now: () => Date;
}

export interface BatchReport {
  received: number;
  skipped: Partial<Record<SkippedCategory, number>>;
  deadLettered: number;
  provisioning: Partial<Record<ProvisioningStatus, number>>;
  devicesUpdated: number;
  historyEntries: number;
  /** Twin-change events of the security module applied or recognised as already applied. */
  securityTwinChanges: number;
  /** Module twin reads caused by a gap or an unknown base (the hub throttles twin reads hub-wide). */
  twinReads: number;
  latestConflicts: number;
  alreadyApplied: number;
}

/** Thrown when some devices could not be processed for transient reasons: the platform must retry the batch. */
export class BatchRetryRequiredError extends Error {
  constructor(
    readonly failedDevices: number,
    readonly causes: unknown[],
  ) {
    super(`${failedDevices} device(s) hit transient failures; the batch must be retried (${errorMessage(causes[0])})`);
    this.name = 'BatchRetryRequiredError';
  }
}

class LatestConflictError extends Error {}

/** Batches touching more devices than this log one summary line instead of a line per device. */
export const PER_DEVICE_LOG_LIMIT = 10;

function emptyReport(received: number): BatchReport {
  return {
    received,
    skipped: {},
    deadLettered: 0,
    provisioning: {},
    devicesUpdated: 0,
    historyEntries: 0,
    securityTwinChanges: 0,
    twinReads: 0,
    latestConflicts: 0,
    alreadyApplied: 0,
  };
}

function toDeadLetter(event: InvalidEvent, recordedAt: Date): DeadLetter {
  return {
    position: event.position,
    deviceId: event.deviceId,
    reason: event.reason,
    raw: event.raw,
    rawSize: event.rawSize,
    source: event.source,
    schema: event.schema,
    recordedAt,
  };
}

function rawOf(event: HubEvent): string {
  const payload = event.kind === 'twinChanged' ? event.body : event.twin;
  return JSON.stringify(payload);
}

function isTransient(err: unknown): boolean {
  const kind = classifyServiceError(err).kind;
  return kind === 'throttled' || kind === 'transient';
}

/**
 * The event pipeline for one decoded batch (one partition's slice of the stream):
 * dead-letters what can never be processed, provisions security modules for new devices, and turns
 * every security-module change into history plus an updated "latest" posture per device.
 *
 * Work is coalesced per device (one read and one conditional write of "latest" per device per batch)
 * and fanned out with bounded concurrency. Every write is idempotent, so a replayed batch leaves the
 * tables as they were. Transient failures of some devices do not stop the others; the batch then
 * fails as a whole so the platform redelivers it.
 */
export async function processEventBatch(events: readonly DecodedEvent[], deps: EventPipelineDeps): Promise<BatchReport> {
  const report = emptyReport(events.length);
  const invalid: InvalidEvent[] = [];
  const byDevice = new Map<string, HubEvent[]>();

  for (const event of events) {
    if (event.kind === 'skipped') {
      report.skipped[event.category] = (report.skipped[event.category] ?? 0) + 1;
    } else if (event.kind === 'invalid') {
      invalid.push(event);
    } else if (isRelevant(event, deps.settings)) {
      const list = byDevice.get(event.deviceId);
      if (list) list.push(event);
      else byDevice.set(event.deviceId, [event]);
    }
  }

  if (invalid.length > 0) {
    const recordedAt = deps.now();
    await deps.deadLetters.record(invalid.map((event) => toDeadLetter(event, recordedAt)));
    report.deadLettered += invalid.length;
    for (const event of invalid) {
      deps.logger.warn('dead-lettered event', {
        reason: event.reason,
        deviceId: event.deviceId,
        partitionId: event.position.partitionId,
        sequenceNumber: event.position.sequenceNumber,
      });
    }
  }

  const transientFailures: unknown[] = [];
  const permanentFailures: DeadLetter[] = [];
  // A line per device reads well at human scale; during a storm the batch summary carries the counts.
  const logEachDevice = byDevice.size <= PER_DEVICE_LOG_LIMIT;
  await mapWithConcurrency([...byDevice.entries()], deps.settings.writeConcurrency, async ([deviceId, deviceEvents]) => {
    try {
      await processDevice(deviceId, deviceEvents, deps, report, logEachDevice);
    } catch (err) {
      if (isTransient(err)) {
        transientFailures.push(err);
        deps.logger.warn('device processing hit a transient failure; batch will be retried', { deviceId, error: errorMessage(err) });
        return;
      }
      // Anything else would fail again on every redelivery: record it and keep the stream moving.
      const recordedAt = deps.now();
      const reason = `processing failed: ${errorMessage(err)}`;
      deps.logger.error('device processing failed permanently; events dead-lettered', { deviceId, error: errorMessage(err) });
      for (const event of deviceEvents) {
        const raw = rawOf(event);
        permanentFailures.push({ position: event.position, deviceId, reason, raw, rawSize: Buffer.byteLength(raw), recordedAt });
      }
    }
  });

  if (permanentFailures.length > 0) {
    await deps.deadLetters.record(permanentFailures);
    report.deadLettered += permanentFailures.length;
  }
  if (transientFailures.length > 0) throw new BatchRetryRequiredError(transientFailures.length, transientFailures);
  return report;
}

function isRelevant(event: HubEvent, settings: ProcessingSettings): boolean {
  switch (event.kind) {
    case 'deviceCreated':
      return settings.provisioningEnabled;
    case 'deviceDeleted':
      return true;
    default:
      return event.moduleId === settings.securityModuleId;
  }
}

async function processDevice(deviceId: string, events: HubEvent[], deps: EventPipelineDeps, report: BatchReport, logEachDevice: boolean): Promise<void> {
  // Provisioning results survive a "latest" conflict so a re-merge never provisions twice.
  const provisioned = new Map<HubEvent, ProvisioningResult>();
  for (let attempt = 0; ; attempt++) {
    try {
      await mergeDevice(deviceId, events, deps, report, provisioned, logEachDevice);
      return;
    } catch (err) {
      if (!(err instanceof LatestConflictError) || attempt + 1 >= deps.settings.maxLatestConflicts) {
        if (err instanceof LatestConflictError) {
          throw Object.assign(new Error(`latest posture of ${deviceId} kept changing underneath (${attempt + 1} conflicts)`), { statusCode: 503 });
        }
        throw err;
      }
      report.latestConflicts++;
    }
  }
}

async function mergeDevice(
  deviceId: string,
  events: HubEvent[],
  deps: EventPipelineDeps,
  report: BatchReport,
  provisioned: Map<HubEvent, ProvisioningResult>,
  logEachDevice: boolean,
): Promise<void> {
  const context: PostureContext = { securityModuleId: deps.settings.securityModuleId };
  const stored = await deps.posture.getLatest(deviceId);
  let latest: LatestPosture | undefined = stored?.posture;
  const history: HistoryEntry[] = [];
  let securityTwinChanges = 0;
  let twinReads = 0;
  let alreadyApplied = 0;
  const provisioningCounts: Partial<Record<ProvisioningStatus, number>> = {};

  for (const event of events) {
    if (event.kind === 'deviceCreated') {
      if (latest && Date.parse(latest.updatedAt) >= event.position.enqueuedTime.getTime()) {
        // A replay of a creation already handled: provisioning again could resurrect a module an operator removed since.
        alreadyApplied++;
        continue;
      }
      let result = provisioned.get(event);
      if (!result) {
        result = await ensureSecurityModule({ deviceId, twin: event.twin }, deps.registry, deps.settings, deps.logger);
        provisioned.set(event, result);
      }
      provisioningCounts[result.status] = (provisioningCounts[result.status] ?? 0) + 1;
      const step = provisioningStep(latest, deviceId, result.status, event, context, { ...result.detail, baselineApplied: result.baselineApplied });
      latest = step.next;
      history.push(step.history);
      continue;
    }

    if (event.kind === 'twinChanged') securityTwinChanges++;
    const step = applyEvent(latest, event, context);
    switch (step.kind) {
      case 'applied':
        latest = step.next;
        history.push(step.history);
        break;
      case 'alreadyApplied':
        alreadyApplied++;
        break;
      case 'notSecurityModule':
        break;
      case 'gap': {
        twinReads++;
        const twin = await deps.registry.getModuleTwin(deviceId, context.securityModuleId);
        const resynced = postureFromTwin(latest, twin, event, context);
        latest = resynced.next;
        history.push(resynced.history);
        deps.logger.info('posture resynchronised from the module twin', { deviceId, reason: step.reason });
        break;
      }
    }
  }

  if (history.length > 0 && latest) {
    // History first: once "latest" moves past an event, a replay treats it as applied, so its row must already exist.
    await deps.posture.appendHistory(history);
    const written = await deps.posture.writeLatest(latest, stored?.etag);
    if (written === 'conflict') throw new LatestConflictError();
    if (logEachDevice) {
      deps.logger.info('posture recorded', {
        deviceId,
        entries: history.length,
        latest: history[history.length - 1]!.summary,
        configuration: latest.configurationState,
        agent: latest.agentState,
      });
    }
    report.devicesUpdated++;
    report.historyEntries += history.length;
  }
  report.securityTwinChanges += securityTwinChanges;
  report.twinReads += twinReads;
  report.alreadyApplied += alreadyApplied;
  for (const [status, count] of Object.entries(provisioningCounts) as [ProvisioningStatus, number][]) {
    report.provisioning[status] = (report.provisioning[status] ?? 0) + count;
  }
}

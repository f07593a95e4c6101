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
import type { DeadLetterStore } from '../ports/dead-letter-store';
import type { DeviceRegistry } from '../ports/device-registry';
import type { PendingProvisioning, PendingProvisioningStore } from '../ports/pending-provisioning-store';
import { isRegistrationStorm } from '../domain/registration-storm';
import { deferProvisioning } from './storm/defer-provisioning';
import type { PostureChange, PostureStore, StoredLatest } from '../ports/posture-store';
import { ensureSecurityModule, type ProvisioningResult } from './ensure-security-module';
import type { ConfigurationCatalog } from './configuration-catalog';
import type { ProcessingSettings } from './settings';

export interface EventPipelineDeps {
  registry: DeviceRegistry;
  /** The hub's automatic configurations, read at most once a minute; absent: read through `registry` per creation. */
  configurations?: ConfigurationCatalog;
  posture: PostureStore;
  deadLetters: DeadLetterStore;
  settings: ProcessingSettings;
  logger: Logger;
  now: () => Date;
  /**
   * Storm mode (REGISTRATION_STORM_THRESHOLD): a batch with more device creations than `threshold` records them as
   * pending rows for one import job (functions/registration-storm-import.ts) instead of calling the registry per
   * device. Absent, or `threshold` undefined: every creation is provisioned per device.
   */
  storm?: { threshold: number | undefined; pending: PendingProvisioningStore };
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
 * Storage work is batched across devices: the latest postures are read together, every device's
 * changes are computed (provisioning and gap reads fan out with bounded concurrency), and all
 * history and latest rows are written in one commit (a few entity-group transactions). Devices whose
 * latest posture changed underneath are redone one by one. Every write is idempotent, so a replayed
 * batch leaves the tables as they were. Transient failures of some devices do not stop the others;
 * the batch then fails as a whole so the platform redelivers it.
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
  if (byDevice.size === 0) return report;

  const failures: DeviceFailures = { transient: [], permanent: [] };
  // A line per device reads well at human scale; during a storm the batch summary carries the counts.
  const logEachDevice = byDevice.size <= PER_DEVICE_LOG_LIMIT;
  // Provisioning results survive a retry of the device so a re-merge never provisions twice.
  const provisioned = new Map<HubEvent, ProvisioningResult>();
  const creations = [...byDevice.values()].reduce((sum, list) => sum + list.filter((event) => event.kind === 'deviceCreated').length, 0);
  // In a storm the creations become rows for the import job; other devices' twin changes in the batch flow on as usual.
  const deferred =
    deps.storm && isRegistrationStorm(creations, deps.storm.threshold) ? new Map<HubEvent, PendingProvisioning>() : undefined;

  const stored = await deps.posture.getLatestMany([...byDevice.keys()]);
  const computed: DeviceOutcome[] = [];
  await mapWithConcurrency([...byDevice.entries()], deps.settings.writeConcurrency, async ([deviceId, deviceEvents]) => {
    await guard(deviceId, deviceEvents, deps, failures, async () => {
      computed.push(await computeDevice(deviceId, deviceEvents, stored.get(deviceId), deps, report, provisioned, deferred));
    });
  });
  const recordDeferred = deferredRecorder(deferred, deps);
  if (deferred && deferred.size > 0) {
    await recordDeferred();
    deps.logger.info('registration storm: module creations deferred to an import job', { creations, deferred: deferred.size });
  }

  const toWrite = computed.filter((outcome) => outcome.change !== undefined);
  let conflicting: Set<string>;
  try {
    conflicting = new Set((await deps.posture.commit(toWrite.map((outcome) => outcome.change!))).conflicts);
  } catch (err) {
    if (isTransient(err)) throw err;
    // A permanent rejection of a shared transaction (say, one oversized row) must not block the
    // partition: redo each device alone so only the offending one is dead-lettered.
    deps.logger.warn('batched posture write rejected; writing device by device', { error: errorMessage(err) });
    conflicting = new Set(toWrite.map((outcome) => outcome.deviceId));
  }
  for (const outcome of computed) {
    if (!conflicting.has(outcome.deviceId)) account(outcome, report, deps.logger, logEachDevice);
  }

  // Another instance wrote these devices meanwhile (a partition rebalance), or they shared a rolled-back transaction.
  await mapWithConcurrency([...conflicting], deps.settings.writeConcurrency, async (deviceId) => {
    const deviceEvents = byDevice.get(deviceId)!;
    await guard(deviceId, deviceEvents, deps, failures, async () => {
      account(
        await redoDevice(deviceId, deviceEvents, deps, report, provisioned, deferred, recordDeferred),
        report,
        deps.logger,
        logEachDevice,
      );
    });
  });

  if (failures.permanent.length > 0) {
    await deps.deadLetters.record(failures.permanent);
    report.deadLettered += failures.permanent.length;
  }
  if (failures.transient.length > 0) throw new BatchRetryRequiredError(failures.transient.length, failures.transient);
  return report;
}

/**
 * Records the deferred creations not recorded yet. Rows must be durable before the posture that says "queued" and
 * before the checkpoint moves: a crash in between replays the batch, and the replay finds its rows already there.
 */
function deferredRecorder(deferred: Map<HubEvent, PendingProvisioning> | undefined, deps: EventPipelineDeps): () => Promise<void> {
  const recorded = new Set<HubEvent>();
  return async () => {
    if (!deferred || !deps.storm) return;
    const fresh = [...deferred.entries()].filter(([event]) => !recorded.has(event));
    if (fresh.length === 0) return;
    await deps.storm.pending.record(fresh.map(([, row]) => row));
    for (const [event] of fresh) recorded.add(event);
  };
}

interface DeviceFailures {
  transient: unknown[];
  permanent: DeadLetter[];
}

/** Runs one device's work; a failure is sorted into "retry the batch" or "dead-letter its events". */
async function guard(
  deviceId: string,
  deviceEvents: HubEvent[],
  deps: EventPipelineDeps,
  failures: DeviceFailures,
  work: () => Promise<void>,
): Promise<void> {
  try {
    await work();
  } catch (err) {
    if (isTransient(err)) {
      failures.transient.push(err);
      deps.logger.warn('device processing hit a transient failure; batch will be retried', { deviceId, error: errorMessage(err) });
      return;
    }
    // Anything else would fail again on every redelivery: record it and keep the stream moving.
    const recordedAt = deps.now();
    const reason = `processing failed: ${errorMessage(err)}`;
    deps.logger.error('device processing failed permanently; events dead-lettered', { deviceId, error: errorMessage(err) });
    for (const event of deviceEvents) {
      const raw = rawOf(event);
      failures.permanent.push({ position: event.position, deviceId, reason, raw, rawSize: Buffer.byteLength(raw), recordedAt });
    }
  }
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

/** What one device's events amount to: the change to write (if any) and what to count once it is written. */
interface DeviceOutcome {
  deviceId: string;
  change?: PostureChange;
  securityTwinChanges: number;
  alreadyApplied: number;
  provisioning: Partial<Record<ProvisioningStatus, number>>;
}

/** Counts a written (or unchanged) device into the report. */
function account(outcome: DeviceOutcome, report: BatchReport, logger: Logger, logEachDevice: boolean): void {
  report.securityTwinChanges += outcome.securityTwinChanges;
  report.alreadyApplied += outcome.alreadyApplied;
  for (const [status, count] of Object.entries(outcome.provisioning) as [ProvisioningStatus, number][]) {
    report.provisioning[status] = (report.provisioning[status] ?? 0) + count;
  }
  const change = outcome.change;
  if (!change) return;
  report.devicesUpdated++;
  report.historyEntries += change.history.length;
  if (logEachDevice) {
    logger.info('posture recorded', {
      deviceId: outcome.deviceId,
      entries: change.history.length,
      latest: change.history[change.history.length - 1]?.summary,
      configuration: change.latest.configurationState,
      agent: change.latest.agentState,
    });
  }
}

/** Re-reads and re-merges one device until its conditional write goes through. */
async function redoDevice(
  deviceId: string,
  events: HubEvent[],
  deps: EventPipelineDeps,
  report: BatchReport,
  provisioned: Map<HubEvent, ProvisioningResult>,
  deferred: Map<HubEvent, PendingProvisioning> | undefined,
  recordDeferred: () => Promise<void>,
): Promise<DeviceOutcome> {
  for (let attempt = 1; ; attempt++) {
    report.latestConflicts++;
    const outcome = await computeDevice(deviceId, events, await deps.posture.getLatest(deviceId), deps, report, provisioned, deferred);
    if (!outcome.change) return outcome;
    await recordDeferred();
    const { conflicts } = await deps.posture.commit([outcome.change]);
    if (conflicts.length === 0) return outcome;
    if (attempt >= deps.settings.maxLatestConflicts) {
      throw Object.assign(new Error(`latest posture of ${deviceId} kept changing underneath (${attempt} conflicts)`), { statusCode: 503 });
    }
  }
}

async function computeDevice(
  deviceId: string,
  events: HubEvent[],
  stored: StoredLatest | undefined,
  deps: EventPipelineDeps,
  report: BatchReport,
  provisioned: Map<HubEvent, ProvisioningResult>,
  deferred?: Map<HubEvent, PendingProvisioning>,
): Promise<DeviceOutcome> {
  const context: PostureContext = { securityModuleId: deps.settings.securityModuleId };
  let latest: LatestPosture | undefined = stored?.posture;
  const history: HistoryEntry[] = [];
  const outcome: DeviceOutcome = { deviceId, securityTwinChanges: 0, alreadyApplied: 0, provisioning: {} };

  for (const event of events) {
    if (event.kind === 'deviceCreated') {
      if (latest && Date.parse(latest.updatedAt) >= event.position.enqueuedTime.getTime()) {
        // A replay of a creation already handled: provisioning again could resurrect a module an operator removed since.
        outcome.alreadyApplied++;
        continue;
      }
      let result = provisioned.get(event);
      if (!result) {
        if (deferred) {
          const deferral = deferProvisioning({ deviceId, twin: event.twin, position: event.position }, deps.settings);
          if (deferral.pending) deferred.set(event, deferral.pending);
          result = deferral.result;
        } else {
          result = await ensureSecurityModule(
            { deviceId, twin: event.twin },
            deps.registry,
            deps.settings,
            deps.logger,
            deps.configurations,
          );
        }
        provisioned.set(event, result);
      }
      outcome.provisioning[result.status] = (outcome.provisioning[result.status] ?? 0) + 1;
      const step = provisioningStep(latest, deviceId, result.status, event, context, {
        ...result.detail,
        baselineApplied: result.baselineApplied,
      });
      latest = step.next;
      history.push(step.history);
      continue;
    }

    if (event.kind === 'twinChanged') outcome.securityTwinChanges++;
    const step = applyEvent(latest, event, context);
    switch (step.kind) {
      case 'applied':
        latest = step.next;
        history.push(step.history);
        break;
      case 'alreadyApplied':
        outcome.alreadyApplied++;
        break;
      case 'notSecurityModule':
        break;
      case 'gap': {
        report.twinReads++;
        const twin = await deps.registry.getModuleTwin(deviceId, context.securityModuleId);
        const resynced = postureFromTwin(latest, twin, event, context);
        latest = resynced.next;
        history.push(resynced.history);
        deps.logger.info('posture resynchronised from the module twin', { deviceId, reason: step.reason });
        break;
      }
    }
  }
  // History goes first in the commit: once "latest" moves past an event, a replay treats it as applied, so its row must exist.
  if (history.length > 0 && latest) outcome.change = { history, latest, etag: stored?.etag };
  return outcome;
}

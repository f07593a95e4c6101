/**
 * The scheduled compliance sweep: plan → shards (resumable, in parallel across instances) → finalize
 * (→ optional bulk import job). Every step is driven by one queue message and is idempotent, because Storage
 * Queue delivery is at least once and a shard may be cut off by the function timeout at any point:
 * - plan: the split points are persisted on the run before any shard exists, so a redelivered plan reuses them;
 * - shard: the cursor (next bucket) and the counters advance together, with the row's etag, only after the
 *   bucket's findings and postures are written; a crashed shard redoes at most one bucket, whose rows it
 *   overwrites; a second delivery of the same shard loses the etag race and stops;
 * - finalize: sums the shard rows once all are done and completes the run with its etag.
 * See shared/domain/sweep-plan.ts for the bucket design and its query cost.
 */
import { mapWithConcurrency } from '../concurrency';
import { classifyServiceError, errorMessage } from '../errors';
import type { Logger } from '../logger';
import type { DeviceRegistry } from '../ports/device-registry';
import type { PostureStore, StoredLatest } from '../ports/posture-store';
import {
  activeSuppressions,
  evaluateDevice,
  scopeOf,
  verdictFor,
  type ActiveSuppression,
  type DeviceVerdict,
  type RepairAction,
  type RuleSettings,
  type SweepDevice,
  type SweepModule,
} from '../domain/compliance-rules';
import { derivePosture } from '../domain/posture';
import { moduleAuthenticationFor } from '../domain/module-authentication';
import { baselineDesiredPatch } from '../domain/security-module';
import {
  bucketCount,
  bucketRange,
  conditionReadsProperties,
  DEVICE_COUNT_QUERY,
  devicesQuery,
  moduleCountQuery,
  modulesQuery,
  ReservoirSample,
  SAMPLE_QUERY,
  seedFrom,
  shardBuckets,
  splitPoints,
  toSweepDevice,
  toSweepModule,
  type BucketRange,
} from '../domain/sweep-plan';
import { addCounters, compliantShare, countDevice, countRepair, emptyCounters, type SweepCounters } from '../domain/sweep-summary';
import { SWEEP_HISTORY_PARTITION } from '../domain/table-keys';
import type { TwinCondition } from '../domain/twin-condition';
import { sectionLastUpdated, sectionVersion, stripMetadata } from '../domain/twin-patch';
import type { HistoryEntry, JsonObject, LatestPosture, PostureFinding } from '../domain/types';
import type { FindingRecord, ShardState, SweepRun, SweepStore, SweepTrigger } from '../ports/sweep-store';
import type { ModuleImportJobs } from '../ports/module-import-jobs';
import type { SuppressionStore } from '../ports/suppression-store';
import type { SweepMessage, SweepQueue } from '../ports/sweep-queue';
import type { RegistryMeter } from './registry-budget';

export interface SweepSettings {
  rules: RuleSettings;
  provisionEdgeDevices: boolean;
  targetCondition?: TwinCondition;
  repairRules: ReadonlySet<string>;
  shards: number;
  bucketDevices: number;
  pageSize: number;
  shardTimeBudgetMs: number;
  bulkImportThreshold: number;
  /** Parallel posture reads/writes within a bucket. */
  writeConcurrency: number;
  /** Seconds between import-job polls (default 15). */
  importPollSeconds?: number;
  /** Uniform sample size for split points (default 16,384: ±12 % bucket size at 250 buckets). */
  sampleSize?: number;
}

export interface SweepServices {
  /** Budgeted and metered (BudgetedRegistry). */
  registry: DeviceRegistry;
  meter: RegistryMeter;
  posture: PostureStore;
  sweeps: SweepStore;
  suppressions: SuppressionStore;
  queue: SweepQueue;
  /** Absent: bulk import is unavailable and missing modules are always created one by one. */
  imports?: ModuleImportJobs;
  settings: SweepSettings;
  now: () => Date;
  logger: Logger;
}

/** Seconds before an unfinished import job is polled again. */
const IMPORT_POLL_SECONDS = 15;
const MAX_LATEST_CONFLICTS = 5;

/** `sw-20261123T020000Z-1a2b3c`: sortable by start, unique enough for on-demand runs. */
export function newSweepId(at: Date, uniqueSuffix: string): string {
  return `sw-${at.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z-${uniqueSuffix}`;
}

/**
 * Creates the run and enqueues its plan message. A scheduled sweep passes a deterministic id (from the schedule
 * time), so a timer that fires twice starts one sweep. Returns the run as created (or as already stored).
 */
export async function startSweep(input: { sweepId: string; trigger: SweepTrigger; dryRun: boolean }, services: Pick<SweepServices, 'sweeps' | 'queue' | 'now'>): Promise<{ run: SweepRun; created: boolean }> {
  const run: SweepRun = { sweepId: input.sweepId, trigger: input.trigger, dryRun: input.dryRun, status: 'planning', startedAt: services.now().toISOString() };
  const result = await services.sweeps.createRun(run);
  if (result === 'conflict') {
    const existing = await services.sweeps.getRun(input.sweepId);
    if (existing) return { run: existing.value, created: false };
  }
  await services.queue.send({ kind: 'plan', sweepId: input.sweepId });
  return { run, created: true };
}

export type MessageOutcome = 'planned' | 'shardDone' | 'shardYielded' | 'shardSuperseded' | 'finalized' | 'importPolled' | 'ignored';

/** Handles one queue message; throws on transient failures so the message is redelivered. */
export async function handleSweepMessage(message: SweepMessage, services: SweepServices): Promise<MessageOutcome> {
  switch (message.kind) {
    case 'plan':
      return planSweep(message.sweepId, services);
    case 'shard':
      return runShard(message.sweepId, message.shard, services);
    case 'finalize':
      return finalizeSweep(message.sweepId, services);
    case 'importJob':
      return pollImportJob(message.sweepId, message.jobId, services);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Plan

async function allPages(registry: DeviceRegistry, query: string, pageSize: number, onRows: (rows: JsonObject[]) => void): Promise<void> {
  let token: string | undefined;
  do {
    const page = await registry.queryTwins(query, pageSize, token);
    onRows(page.items);
    token = page.continuationToken;
  } while (token !== undefined);
}

async function countOf(registry: DeviceRegistry, query: string): Promise<number> {
  const page = await registry.queryTwins(query, 1);
  const value = page.items[0]?.['n'];
  return typeof value === 'number' ? value : 0;
}

async function planSweep(sweepId: string, services: SweepServices): Promise<MessageOutcome> {
  const stored = await services.sweeps.getRun(sweepId);
  if (!stored || (stored.value.status !== 'planning' && stored.value.status !== 'running')) return 'ignored';
  let run = stored.value;
  const settings = services.settings;
  const before = services.meter.snapshot();
  if (!run.plan) {
    const sample = new ReservoirSample(settings.sampleSize ?? 16_384, seedFrom(sweepId));
    // The widest page the service allows: ids only, so the whole fleet costs fleet/10,000 queries.
    await allPages(services.registry, SAMPLE_QUERY, 10_000, (rows) => {
      for (const row of rows) if (typeof row['deviceId'] === 'string') sample.add(row['deviceId']);
    });
    const splits = splitPoints(sample.sorted(), sample.count, settings.bucketDevices);
    const modules = await countOf(services.registry, moduleCountQuery(settings.rules.moduleId));
    const devices = await countOf(services.registry, DEVICE_COUNT_QUERY);
    const estimatedMissingModules = Math.max(0, devices - modules);
    const bulkImport = !run.dryRun && services.imports !== undefined && settings.repairRules.has('module-missing') && estimatedMissingModules > settings.bulkImportThreshold;
    const buckets = bucketCount(splits);
    run = { ...run, plan: { splits, shards: shardBuckets(buckets, settings.shards).length, buckets, fleetSize: sample.count, estimatedMissingModules, bulkImport } };
    if ((await services.sweeps.updateRun(run, stored.etag)) === 'conflict') return 'ignored';
  }
  const plan = run.plan as NonNullable<SweepRun['plan']>;
  const planCost = diffMeter(before, services.meter.snapshot());
  const ranges = shardBuckets(plan.buckets, settings.shards).slice(0, plan.shards);
  const at = services.now().toISOString();
  await services.sweeps.createShards(
    ranges.map((range, shard) => {
      // The plan's queries are charged to shard 0 so the summary counts every registry call.
      const counters = emptyCounters();
      if (shard === 0) Object.assign(counters, { queries: planCost.queries, throttles: planCost.throttles });
      return { sweepId, shard, startBucket: range.start, endBucket: range.end, nextBucket: range.start, status: 'pending', counters, invocations: 0, updatedAt: at };
    }),
  );
  for (let shard = 0; shard < plan.shards; shard++) await services.queue.send({ kind: 'shard', sweepId, shard });
  const latest = await services.sweeps.getRun(sweepId);
  if (latest && latest.value.status === 'planning') await services.sweeps.updateRun({ ...latest.value, status: 'running' }, latest.etag);
  services.logger.info('compliance sweep planned', { sweepId, buckets: plan.buckets, shards: plan.shards, fleetSize: plan.fleetSize, bulkImport: plan.bulkImport });
  return 'planned';
}

function diffMeter(before: { queries: number; operations: number; throttles: number }, after: { queries: number; operations: number; throttles: number }) {
  return { queries: after.queries - before.queries, operations: after.operations - before.operations, throttles: after.throttles - before.throttles };
}

// ---------------------------------------------------------------------------------------------------------------
// Shards

async function runShard(sweepId: string, shardIndex: number, services: SweepServices): Promise<MessageOutcome> {
  const startedMs = Date.now();
  const storedRun = await services.sweeps.getRun(sweepId);
  const run = storedRun?.value;
  if (!run?.plan || (run.status !== 'running' && run.status !== 'planning')) return 'ignored';
  let stored = await services.sweeps.getShard(sweepId, shardIndex);
  if (!stored) return 'ignored';
  if (stored.value.status === 'done') return finalizeSweep(sweepId, services).then(() => 'shardDone');

  const claim: ShardState = { ...stored.value, status: 'running', invocations: stored.value.invocations + 1, updatedAt: services.now().toISOString() };
  if ((await services.sweeps.updateShard(claim, stored.etag)) === 'conflict') return 'shardSuperseded';
  stored = await services.sweeps.getShard(sweepId, shardIndex);
  if (!stored) return 'ignored';

  const runStart = new Date(run.startedAt);
  const suppressions = activeSuppressions(await services.suppressions.list(), runStart);
  let shard = stored.value;
  let etag = stored.etag;
  let processed = 0;
  while (shard.nextBucket < shard.endBucket) {
    // At least one bucket per invocation, so a budget shorter than a bucket still makes progress.
    if (processed > 0 && Date.now() - startedMs > services.settings.shardTimeBudgetMs) {
      await services.queue.send({ kind: 'shard', sweepId, shard: shardIndex });
      services.logger.info('sweep shard yielded at its time budget', { sweepId, shard: shardIndex, nextBucket: shard.nextBucket });
      return 'shardYielded';
    }
    const delta = await processBucket(run, shard, shard.nextBucket, suppressions, services);
    processed += 1;
    const next: ShardState = { ...shard, nextBucket: shard.nextBucket + 1, counters: addCounters(structuredClone(shard.counters), delta), updatedAt: services.now().toISOString() };
    if (next.nextBucket >= next.endBucket) next.status = 'done';
    if ((await services.sweeps.updateShard(next, etag)) === 'conflict') return 'shardSuperseded';
    const reread = await services.sweeps.getShard(sweepId, shardIndex);
    if (!reread) return 'ignored';
    shard = reread.value;
    etag = reread.etag;
  }
  if (shard.status !== 'done') {
    if ((await services.sweeps.updateShard({ ...shard, status: 'done' }, etag)) === 'conflict') return 'shardSuperseded';
  }
  await finalizeSweep(sweepId, services);
  return 'shardDone';
}

interface BucketRows {
  devices: SweepDevice[];
  modules: Map<string, SweepModule>;
}

async function readBucket(range: BucketRange, services: SweepServices): Promise<BucketRows> {
  const settings = services.settings;
  const devices: SweepDevice[] = [];
  const withProperties = conditionReadsProperties(settings.targetCondition?.text);
  await allPages(services.registry, devicesQuery(range, withProperties), settings.pageSize, (rows) => {
    for (const row of rows) {
      const device = toSweepDevice(row);
      if (device) devices.push(device);
    }
  });
  const modules = new Map<string, SweepModule>();
  await allPages(services.registry, modulesQuery(settings.rules.moduleId, range), settings.pageSize, (rows) => {
    for (const row of rows) {
      const module = toSweepModule(row);
      if (module) modules.set(module.deviceId, module);
    }
  });
  return { devices, modules };
}

interface Evaluated {
  device: SweepDevice;
  module?: SweepModule;
  verdict: DeviceVerdict;
  repairResults: Map<RepairAction, string>;
}

/** One bucket: read, evaluate, repair, write findings and postures. Returns what it adds to the counters. */
async function processBucket(run: SweepRun, shard: ShardState, bucket: number, suppressions: readonly ActiveSuppression[], services: SweepServices): Promise<SweepCounters> {
  const plan = run.plan as NonNullable<SweepRun['plan']>;
  const before = services.meter.snapshot();
  const settings = services.settings;
  const runStart = new Date(run.startedAt);
  const { devices, modules } = await readBucket(bucketRange(plan.splits, bucket), services);

  const counters = emptyCounters();
  const evaluated: Evaluated[] = [];
  for (const device of devices) {
    const scope = scopeOf(device, settings);
    if (scope !== 'inScope') {
      countDevice(counters, scope);
      continue;
    }
    const module = modules.get(device.deviceId);
    const verdict = verdictFor(device, evaluateDevice(device, module, settings.rules, runStart), suppressions, settings.repairRules);
    countDevice(counters, scope, verdict);
    evaluated.push({ device, module, verdict, repairResults: new Map() });
  }

  await repairBucket(run, `${String(shard.shard).padStart(3, '0')}-${String(bucket).padStart(6, '0')}`, evaluated, counters, services);

  const rows: FindingRecord[] = [];
  for (const item of evaluated) {
    for (const finding of item.verdict.findings) {
      const record: FindingRecord = { sweepId: run.sweepId, shard: shard.shard, bucket, deviceId: item.device.deviceId, ruleId: finding.ruleId, severity: finding.severity, status: finding.status, message: finding.message };
      if (finding.suppressionId) record.suppressionId = finding.suppressionId;
      const action = finding.ruleId === 'module-missing' ? 'createModule' : finding.ruleId === 'baseline-not-applied' ? 'applyBaseline' : undefined;
      const result = action && item.repairResults.get(action);
      if (action && result) Object.assign(record, { repairAction: action, repairResult: result });
      rows.push(record);
    }
  }
  await services.sweeps.writeFindings(rows);

  const changed = await mapWithConcurrency(evaluated, settings.writeConcurrency, (item) => recordPosture(run, item, services));
  counters.complianceChanged = changed.filter(Boolean).length;
  counters.buckets = 1;
  const cost = diffMeter(before, services.meter.snapshot());
  counters.queries += cost.queries;
  counters.registryOperations += cost.operations;
  counters.throttles += cost.throttles;
  return counters;
}

// ---------------------------------------------------------------------------------------------------------------
// Repairs

/** One import-job line: create the module with the baseline as its desired properties. */
export function importLine(deviceId: string, moduleId: string, authType: 'sas' | 'certificateAuthority', desired: JsonObject): string {
  const line: JsonObject = { id: deviceId, moduleId, importMode: 'create', authentication: { type: authType } };
  if (Object.keys(desired).length > 0) line['properties'] = { desired };
  return JSON.stringify(line);
}

async function repairBucket(run: SweepRun, blockKey: string, evaluated: Evaluated[], counters: SweepCounters, services: SweepServices): Promise<void> {
  const settings = services.settings;
  const moduleId = settings.rules.moduleId;
  const patch = baselineDesiredPatch(settings.rules.baseline, settings.rules.schema);
  const bulk = run.plan?.bulkImport === true && services.imports !== undefined;
  const importLines: string[] = [];

  await mapWithConcurrency(evaluated, settings.writeConcurrency, async (item) => {
    for (const action of item.verdict.repairs) {
      let result: string;
      if (run.dryRun) {
        result = 'dryRun';
      } else if (action === 'createModule') {
        const auth = moduleAuthenticationFor(item.device.authType);
        if (!auth) result = 'needsThumbprint';
        else if (bulk) {
          importLines.push(importLine(item.device.deviceId, moduleId, auth.type, patch));
          result = 'queuedForImport';
        } else result = await createModule(item.device.deviceId, auth, patch, services);
      } else {
        result = await applyBaseline(item.device.deviceId, patch, services);
      }
      item.repairResults.set(action, result);
      countRepair(counters, action, result);
    }
  });
  if (importLines.length > 0) await (services.imports as ModuleImportJobs).stage(run.sweepId, blockKey, importLines.sort());
}

async function createModule(deviceId: string, auth: { type: 'sas' } | { type: 'certificateAuthority' }, patch: JsonObject, services: SweepServices): Promise<string> {
  const moduleId = services.settings.rules.moduleId;
  try {
    const created = await services.registry.createModule(deviceId, moduleId, auth);
    if (created === 'deviceNotFound') return 'deviceNotFound';
    // Only a module this call created is configured blindly; one that appeared meanwhile belongs to someone else.
    if (created === 'created' && Object.keys(patch).length > 0) await services.registry.updateModuleDesired(deviceId, moduleId, patch, '*');
    return created;
  } catch (error) {
    return repairFailure(error, deviceId, services);
  }
}

async function applyBaseline(deviceId: string, patch: JsonObject, services: SweepServices): Promise<string> {
  try {
    const twin = await services.registry.updateModuleDesired(deviceId, services.settings.rules.moduleId, patch, '*');
    return twin ? 'applied' : 'moduleGone';
  } catch (error) {
    return repairFailure(error, deviceId, services);
  }
}

/** Transient failures propagate (the message is redelivered and the bucket redone); anything else is recorded. */
function repairFailure(error: unknown, deviceId: string, services: SweepServices): string {
  const kind = classifyServiceError(error).kind;
  if (kind === 'throttled' || kind === 'transient') throw error;
  services.logger.warn('sweep repair failed', { deviceId, error: errorMessage(error) });
  return 'failed';
}

// ---------------------------------------------------------------------------------------------------------------
// Postures and history

function sameFindings(left: PostureFinding[] | undefined, right: PostureFinding[]): boolean {
  return left !== undefined && JSON.stringify(left) === JSON.stringify(right);
}

function postureFromSweep(run: SweepRun, item: Evaluated, moduleId: string): LatestPosture {
  const module = item.module;
  const base = { deviceId: item.device.deviceId, moduleId, modulePresent: module !== undefined, deviceDeleted: false, updatedAt: run.startedAt };
  if (!module) return derivePosture(base);
  const optional: Partial<LatestPosture> = { desired: stripMetadata(module.desired), reported: stripMetadata(module.reported) };
  const desiredVersion = sectionVersion(module.desired);
  const reportedVersion = sectionVersion(module.reported);
  const reportedLastUpdated = sectionLastUpdated(module.reported);
  if (desiredVersion !== undefined) optional.desiredVersion = desiredVersion;
  if (reportedVersion !== undefined) optional.reportedVersion = reportedVersion;
  if (reportedLastUpdated !== undefined) optional.reportedLastUpdated = reportedLastUpdated;
  if (module.authType) optional.authType = module.authType;
  return derivePosture({ ...base, ...optional });
}

/**
 * Puts the sweep's findings on the device's latest posture when they changed, and a history row when its
 * compliance flipped (or a device is first assessed non-compliant). Returns whether compliance changed.
 */
async function recordPosture(run: SweepRun, item: Evaluated, services: SweepServices): Promise<boolean> {
  const findings: PostureFinding[] = item.verdict.findings.map(({ ruleId, severity, status, message }) => ({ ruleId, severity, status, message }));
  const compliant = item.verdict.compliant;
  for (let attempt = 0; attempt < MAX_LATEST_CONFLICTS; attempt++) {
    const stored: StoredLatest | undefined = await services.posture.getLatest(item.device.deviceId);
    const previous = stored?.posture.compliant;
    if (stored && previous === compliant && sameFindings(stored.posture.findings, findings)) return false;
    const base = stored ? stored.posture : postureFromSweep(run, item, services.settings.rules.moduleId);
    const next: LatestPosture = { ...base, findings, compliant, lastSweepId: run.sweepId };
    const flipped = previous !== undefined ? previous !== compliant : !compliant;
    if (flipped) await services.posture.appendHistory([complianceEntry(run, next, previous)]);
    if ((await services.posture.writeLatest(next, stored?.etag)) === 'written') return flipped;
  }
  services.logger.warn('latest posture kept changing during the sweep; findings not recorded on it', { deviceId: item.device.deviceId });
  return false;
}

function complianceEntry(run: SweepRun, next: LatestPosture, previous: boolean | undefined): HistoryEntry {
  const word = (value: boolean | undefined): string => (value === undefined ? 'unassessed' : value ? 'compliant' : 'non-compliant');
  const violations = (next.findings ?? []).filter((finding) => finding.status === 'violation').map((finding) => finding.ruleId);
  const entry: HistoryEntry = {
    deviceId: next.deviceId,
    at: new Date(run.startedAt),
    partitionId: SWEEP_HISTORY_PARTITION,
    // One compliance row per device per sweep: the time (sweep start) already makes it unique.
    sequenceNumber: 0,
    kind: 'complianceChanged',
    moduleId: next.moduleId,
    summary: `sweep ${run.sweepId}: ${word(previous)} → ${word(next.compliant)}${violations.length ? ` (${violations.join(', ')})` : ''}`,
    change: { sweepId: run.sweepId, compliant: next.compliant ?? null, findings: (next.findings ?? []).map((finding) => ({ ...finding })) },
    posture: { modulePresent: next.modulePresent, configurationState: next.configurationState, driftedKeys: [...next.driftedKeys], invalidFields: [...next.invalidFields] },
  };
  if (next.agentState !== undefined) entry.posture.agentState = next.agentState;
  if (next.authType !== undefined) entry.posture.authType = next.authType;
  return entry;
}

// ---------------------------------------------------------------------------------------------------------------
// Finalize and import job

async function finalizeSweep(sweepId: string, services: SweepServices): Promise<MessageOutcome> {
  const stored = await services.sweeps.getRun(sweepId);
  if (!stored || stored.value.status !== 'running' || !stored.value.plan) return 'ignored';
  const shards = await services.sweeps.listShards(sweepId);
  if (shards.length < stored.value.plan.shards || shards.some((shard) => shard.status !== 'done')) return 'ignored';
  const counters = shards.reduce((sum, shard) => addCounters(sum, shard.counters), emptyCounters());
  const run = stored.value;
  if (run.plan?.bulkImport && services.imports && Object.keys(counters.repairs).some((key) => key.endsWith(':queuedForImport'))) {
    const { jobId, staged } = await services.imports.start(sweepId);
    const importing: SweepRun = { ...run, status: 'importing', summary: summaryOf(run, counters, services.now(), { jobId, status: 'running', staged, failed: 0 }) };
    if ((await services.sweeps.updateRun(importing, stored.etag)) === 'conflict') return 'ignored';
    await services.queue.send({ kind: 'importJob', sweepId, jobId }, services.settings.importPollSeconds ?? IMPORT_POLL_SECONDS);
    return 'finalized';
  }
  const completed: SweepRun = { ...run, status: 'completed', completedAt: services.now().toISOString(), summary: summaryOf(run, counters, services.now()) };
  if ((await services.sweeps.updateRun(completed, stored.etag)) === 'conflict') return 'ignored';
  await services.sweeps.indexRun(completed);
  services.logger.info('compliance sweep completed', { sweepId, evaluated: counters.evaluated, compliant: counters.compliant });
  return 'finalized';
}

function summaryOf(run: SweepRun, counters: SweepCounters, now: Date, importJob?: NonNullable<SweepRun['summary']>['importJob']): NonNullable<SweepRun['summary']> {
  const summary: NonNullable<SweepRun['summary']> = { counters, compliantShare: compliantShare(counters), durationMs: now.getTime() - Date.parse(run.startedAt) };
  if (importJob) summary.importJob = importJob;
  return summary;
}

/** Import failures listed per device in the run summary; the count is always complete. */
const MAX_RECORDED_IMPORT_FAILURES = 500;

async function pollImportJob(sweepId: string, jobId: string, services: SweepServices): Promise<MessageOutcome> {
  const stored = await services.sweeps.getRun(sweepId);
  if (!stored || stored.value.status !== 'importing' || !services.imports) return 'ignored';
  const job = await services.imports.status(sweepId, jobId);
  if (job.status === 'running') {
    await services.queue.send({ kind: 'importJob', sweepId, jobId }, services.settings.importPollSeconds ?? IMPORT_POLL_SECONDS);
    return 'importPolled';
  }
  const run = stored.value;
  const summary = run.summary as NonNullable<SweepRun['summary']>;
  const staged = summary.importJob?.staged ?? 0;
  const counters = structuredClone(summary.counters);
  const failed = job.status === 'failed' ? staged : job.errors.length;
  counters.repairs['createModule:imported'] = staged - failed;
  if (failed > 0) counters.repairs['createModule:importFailed'] = failed;
  // Devices the job could not create, by ID (bounded so the run row stays well inside one entity);
  // the others appear in their own posture history as the module-created notifications arrive.
  const failures = job.errors.slice(0, MAX_RECORDED_IMPORT_FAILURES).map(({ deviceId, message }) => ({ deviceId, message: message.slice(0, 200) }));
  const importJob = { jobId, status: job.status, staged, failed, ...(job.failureReason ? { failureReason: job.failureReason } : {}), ...(failures.length > 0 ? { failures } : {}) };
  const completed: SweepRun = { ...run, status: 'completed', completedAt: services.now().toISOString(), summary: { ...summaryOf(run, counters, services.now(), importJob) } };
  if ((await services.sweeps.updateRun(completed, stored.etag)) === 'conflict') return 'ignored';
  await services.sweeps.indexRun(completed);
  return 'finalized';
}

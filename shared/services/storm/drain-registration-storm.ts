/**
 * The timer's half of storm mode: drains the pending module creations into ONE IoT Hub import job at a time and
 * puts each device's outcome on its posture. A job row (PendingProvisioningStore.getJob) carries the phase, so any
 * invocation on any instance resumes where the last one stopped:
 *
 * claiming   rows without a job get the job's key (devices whose notification lacked their facts are looked up in
 *            bulk first; those that need no module are recorded at once, as the per-device path would);
 * staging    the claimed rows, in key order, become `devices.txt` blocks (the sweep's staging, idempotent);
 * submitting written (with a lease) BEFORE the job is created; a resumed `submitting` first looks for a job that
 *            reads this job's container (ModuleImportJobs.findJob) and adopts it, so a crash between "created" and
 *            "recorded" never creates a second job. `JobQuotaExceeded` (the sweep's or an operator's job holds the
 *            hub's one import/export slot) releases the lease and waits for the next invocation: no device fails;
 * submitted  polled until the job ends; its end time is recorded before any outcome;
 * recording  page by page: outcome → posture and history → row deleted; then the job row goes, and the next job
 *            may start.
 */
import { classifyServiceError, isJobQuotaExceeded } from '../../errors';
import { mapWithConcurrency } from '../../concurrency';
import { managingConfiguration } from '../../domain/configurations/managing-configuration';
import { rankConfigurations, type RankedConfiguration } from '../../domain/configurations/winning-configuration';
import { stormImportOutcome } from '../../domain/storm-import-outcome';
import type { JsonObject } from '../../domain/types';
import type { ImportJobStatus } from '../../ports/module-import-jobs';
import type { PendingProvisioning, StormJob, StoredStormJob } from '../../ports/pending-provisioning-store';
import { applyBaselineIfUnconfigured } from '../ensure-security-module';
import { finishedImport } from '../sweep/poll-import-job';
import { importLine } from '../sweep/repair-bucket';
import { recordStormOutcome } from './record-storm-outcome';
import { resolveDeviceFacts, type ResolvedFacts } from './resolve-device-facts';
import type { StormServices } from './storm-services';

export type StormStep = 'idle' | 'busy' | 'unavailable' | 'waitingForQuota' | 'running' | 'yielded';

export interface StormDrainReport {
  step: StormStep;
  jobsSubmitted: number;
  jobsAdopted: number;
  outcomesRecorded: number;
  outcomes: Record<string, number>;
  jobId?: string;
}

const RECORD_PAGE_ROWS = 500;

function newJobKey(now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `storm-${stamp}-${Math.random().toString(16).slice(2, 6)}`;
}

export async function drainRegistrationStorm(services: StormServices): Promise<StormDrainReport> {
  const started = services.now().getTime();
  const spent = () => services.now().getTime() - started >= services.storm.timeBudgetMs;
  const report: StormDrainReport = { step: 'idle', jobsSubmitted: 0, jobsAdopted: 0, outcomesRecorded: 0, outcomes: {} };
  const finish = (step: StormStep, job?: StormJob): StormDrainReport => {
    report.step = step;
    if (job?.jobId) report.jobId = job.jobId;
    return report;
  };
  let jobStatus: ImportJobStatus | undefined;
  // The submit lease this invocation holds (it wrote it), so it does not wait for itself.
  let ownLease: string | undefined;

  for (;;) {
    let stored = await services.pending.getJob();
    if (!stored) {
      const waiting = await services.pending.listUnclaimed(1);
      if (waiting.length === 0) return finish('idle');
      if (!services.imports) {
        services.logger.warn('registration storm: module creations wait, import jobs need AzureWebJobsStorage with a shared key');
        return finish('unavailable');
      }
      const now = services.now().toISOString();
      const job: StormJob = { jobKey: newJobKey(services.now()), phase: 'claiming', staged: 0, startedAt: now, updatedAt: now };
      if ((await services.pending.putJob(job, undefined)) === 'conflict') return finish('busy');
      stored = await services.pending.getJob();
      if (!stored) return finish('busy');
      jobStatus = undefined;
    }
    const { value: job } = stored;
    if (!services.imports) return finish('unavailable', job);

    switch (job.phase) {
      case 'claiming': {
        await claimRows(job, services);
        if (!(await advance(stored, { phase: 'staging' }, services))) return finish('busy', job);
        continue;
      }
      case 'staging': {
        const staged = await stageRows(job, services);
        if (staged === 0) {
          // Every claimed row was decided without a job (Edge, self-signed, gone): nothing to import.
          if ((await services.pending.clearJob(stored.etag)) === 'conflict') return finish('busy', job);
          continue;
        }
        const leaseUntil = new Date(services.now().getTime() + services.storm.submitLeaseMs).toISOString();
        if (!(await advance(stored, { phase: 'submitting', staged, leaseUntil }, services))) return finish('busy', job);
        ownLease = leaseUntil;
        continue;
      }
      case 'submitting': {
        const submitted = await submit(stored, ownLease, services, report);
        if (submitted !== 'submitted') return finish(submitted, job);
        continue;
      }
      case 'submitted': {
        jobStatus = await jobStatusOf(job, services);
        if (jobStatus.status === 'running') return finish('running', job);
        const finishedAt = services.now().toISOString();
        if (!(await advance(stored, { phase: 'recording', finishedAt }, services))) return finish('busy', job);
        services.logger.info('registration storm import job finished', {
          jobId: job.jobId,
          status: jobStatus.status,
          staged: job.staged,
          failed: jobStatus.status === 'failed' ? job.staged : jobStatus.errors.length,
          ...(jobStatus.failureReason ? { failureReason: jobStatus.failureReason } : {}),
        });
        continue;
      }
      case 'recording': {
        jobStatus ??= await jobStatusOf(job, services);
        const done = await recordOutcomes(stored, jobStatus, services, report, spent);
        if (!done) return finish('yielded', job);
        if ((await services.pending.clearJob(stored.etag)) === 'conflict') return finish('busy', job);
        jobStatus = undefined;
        if (spent()) return finish('yielded', job);
        continue;
      }
    }
  }
}

/**
 * The job's status; a job the hub no longer knows (IoT Hub keeps job history for 30 days) counts as failed, so its
 * devices get an outcome (and the sweep's repair) instead of the drain stopping at it forever.
 */
async function jobStatusOf(job: StormJob, services: StormServices): Promise<ImportJobStatus> {
  try {
    return await services.imports!.status(job.jobKey, job.jobId ?? '');
  } catch (error) {
    if (classifyServiceError(error).kind !== 'notFound') throw error;
    return { status: 'failed', failureReason: `the hub no longer knows import job ${job.jobId ?? '?'}`, errors: [] };
  }
}

/** Moves the job row to its next phase against the etag it was read with; false when another instance moved it. */
async function advance(stored: StoredStormJob, change: Partial<StormJob>, services: StormServices): Promise<boolean> {
  const next: StormJob = { ...stored.value, ...change, updatedAt: services.now().toISOString() };
  return (await services.pending.putJob(next, stored.etag)) === 'written';
}

async function claimRows(job: StormJob, services: StormServices): Promise<void> {
  const rows = await services.pending.listUnclaimed(services.storm.maxLinesPerJob);
  const unresolved = rows.filter((row) => row.authentication === undefined);
  const facts: Map<string, ResolvedFacts> =
    unresolved.length > 0 ? await resolveDeviceFacts(unresolved, services) : new Map<string, ResolvedFacts>();
  const at = services.now();
  const decidedNow: PendingProvisioning[] = [];
  for (const row of unresolved) {
    const decision = facts.get(row.deviceId);
    if (decision?.kind === 'queue') row.authentication = decision.authentication;
    else if (decision?.kind === 'record') {
      await recordStormOutcome(services.posture, row, decision.status, { ...(decision.detail ?? {}), via: 'importJob' }, at);
      decidedNow.push(row);
    } else if (decision?.kind === 'deviceNotFound') {
      await recordStormOutcome(services.posture, row, 'deviceNotFound', { via: 'importJob' }, at);
      decidedNow.push(row);
    }
  }
  if (decidedNow.length > 0) await services.pending.remove(decidedNow);
  const decided = new Set(decidedNow);
  await services.pending.claim(
    rows.filter((row) => !decided.has(row)),
    job.jobKey,
  );
}

/** The hub's automatic configurations, ranked, read once per step (one registry call, not one per device). */
async function rankedConfigurations(services: StormServices): Promise<readonly RankedConfiguration[]> {
  return rankConfigurations(await services.registry.listConfigurations()).ranked;
}

/**
 * Stages every claimed row as import lines (the baseline as the module's desired properties) and returns the count.
 * As in the per-device path, a module an IoT Hub automatic configuration targets gets no baseline: the hub applies
 * the configuration's content and would take TwinGuard's out again.
 */
async function stageRows(job: StormJob, services: StormServices): Promise<number> {
  const rows = await services.pending.listClaimed(job.jobKey, services.storm.maxLinesPerJob * 2);
  const ranked = await rankedConfigurations(services);
  const lines = rows
    .filter((row) => row.authentication !== undefined)
    .map((row) => {
      const managed = managingConfiguration(ranked, { deviceId: row.deviceId, moduleId: row.moduleId }) !== undefined;
      return importLine(row.deviceId, row.moduleId, row.authentication!.type, managed ? {} : row.desired);
    });
  for (let i = 0, block = 0; i < lines.length; i += services.storm.blockLines, block++) {
    await services.imports!.stage(job.jobKey, `b${String(block).padStart(6, '0')}`, lines.slice(i, i + services.storm.blockLines));
  }
  return lines.length;
}

async function submit(
  stored: StoredStormJob,
  ownLease: string | undefined,
  services: StormServices,
  report: StormDrainReport,
): Promise<'submitted' | 'busy' | 'waitingForQuota'> {
  const imports = services.imports!;
  const now = services.now();
  if (stored.value.leaseUntil !== ownLease) {
    // The holder of a live lease may be creating the job right now; a lease past its time belongs to a crashed holder.
    if (stored.value.leaseUntil !== undefined && Date.parse(stored.value.leaseUntil) > now.getTime()) return 'busy';
    const leaseUntil = new Date(now.getTime() + services.storm.submitLeaseMs).toISOString();
    if (!(await advance(stored, { leaseUntil }, services))) return 'busy';
    const taken = await services.pending.getJob();
    if (!taken) return 'busy';
    stored = taken;
  }
  const job = stored.value;
  let jobId = await imports.findJob(job.jobKey);
  if (jobId) report.jobsAdopted += 1;
  else {
    try {
      jobId = (await imports.start(job.jobKey)).jobId;
      report.jobsSubmitted += 1;
    } catch (error) {
      if (!isJobQuotaExceeded(error)) throw error;
      services.logger.info('registration storm import job waits: another import/export job holds the hub', { jobKey: job.jobKey });
      await advance(stored, { leaseUntil: now.toISOString() }, services);
      return 'waitingForQuota';
    }
  }
  if (!(await advance(stored, { phase: 'submitted', jobId }, services))) return 'busy';
  services.logger.info('registration storm import job submitted', { jobId, staged: job.staged, adopted: report.jobsAdopted > 0 });
  return 'submitted';
}

async function recordOutcomes(
  stored: StoredStormJob,
  status: ImportJobStatus,
  services: StormServices,
  report: StormDrainReport,
  spent: () => boolean,
): Promise<boolean> {
  const job = stored.value;
  const finished = finishedImport(status);
  const at = new Date(job.finishedAt ?? services.now().toISOString());
  const ranked = await rankedConfigurations(services);
  for (;;) {
    const rows = await services.pending.listClaimed(job.jobKey, RECORD_PAGE_ROWS);
    if (rows.length === 0) return true;
    await mapWithConcurrency(rows, services.settings.writeConcurrency, async (row) => {
      const outcome = stormImportOutcome(row.deviceId, finished);
      const detail: JsonObject = { via: 'importJob', jobId: job.jobId ?? null };
      if (row.authentication) detail['authType'] = row.authentication.type;
      if (outcome.error) detail['error'] = outcome.error;
      if (outcome.status === 'created') {
        const managing = managingConfiguration(ranked, { deviceId: row.deviceId, moduleId: row.moduleId });
        detail['baselineApplied'] = managing === undefined && Object.keys(row.desired).length > 0;
        if (managing) detail['managedBy'] = managing.configurationId;
      }
      if (outcome.status === 'alreadyPresent') {
        // As the per-device path does: configure a module nobody configured yet, never overwrite an operator's or a
        // configuration's.
        const applied = await applyBaselineIfUnconfigured(row.deviceId, services.registry, services.settings, false, ranked);
        detail['baselineApplied'] = applied === true;
        if (typeof applied === 'object') detail['managedBy'] = applied.managedBy;
      }
      await recordStormOutcome(services.posture, row, outcome.status, detail, at);
      report.outcomes[outcome.status] = (report.outcomes[outcome.status] ?? 0) + 1;
    });
    await services.pending.remove(rows);
    report.outcomesRecorded += rows.length;
    if (spent()) return false;
  }
}

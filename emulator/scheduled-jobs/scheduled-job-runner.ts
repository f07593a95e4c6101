/**
 * Scheduled twin-update and direct-method jobs (`/jobs/v2`), as azure-iothub 1.16 `JobClient` drives them: a job waits
 * for its `startTime`, selects the devices matching `queryCondition` (the emulator's query language, so constructs it
 * does not support fail the job with a message naming them), then applies its twin patch (a normal twin update, with
 * its notification) or calls its method on each device, paced at the tier's "jobs device operations" rate, counting
 * `deviceJobStatistics` as it goes. At most `maxConcurrentJobs` jobs are active (queued, scheduled or running) at once;
 * another is refused with 403 `JobQuotaExceeded` (IoT Hub error code 403001, "another job running"). Cancelling stops
 * the job before its next device. A job that outlives `maxExecutionTimeInSeconds` fails, leaving the rest pending.
 *
 * Direct methods come from `invokeDeviceMethod`; without one every device answers as offline (404 DeviceNotOnline).
 */
import { HubError } from '../registry/hub-error';
import type { HubRegistry } from '../registry/hub-registry';
import type { HubTier } from '../faults';
import { jobLimitsForTier, type JobLimits } from './job-limits';
import { parseJobRequest, type ScheduledJobRequest } from './parse-job-request';
import {
  TERMINAL_STATUSES,
  type DeviceJobJson,
  type InvokeDeviceMethod,
  type ScheduledJobJson,
  type ScheduledJobStatus,
  type ScheduledJobType,
} from './scheduled-job';

export interface ScheduledJobRunnerOptions {
  /** Tier whose limits apply (default S1, the tier whose limits are tightest). */
  tier?: HubTier;
  units?: number;
  /** Override the tier's limits (tests). */
  limits?: Partial<JobLimits>;
  invokeDeviceMethod?: InvokeDeviceMethod;
  now?: () => Date;
}

interface JobState {
  json: ScheduledJobJson;
  request: ScheduledJobRequest;
  devices: Map<string, DeviceJobJson>;
  timer?: NodeJS.Timeout;
  cancelled: boolean;
}

const offline: InvokeDeviceMethod = (deviceId) =>
  Promise.reject(new HubError(404, 'DeviceNotOnline', `Device ${deviceId} is not online (the emulator has no device connections)`));

export class ScheduledJobRunner {
  private readonly jobs = new Map<string, JobState>();
  private readonly running = new Set<Promise<void>>();
  private readonly limits: JobLimits;
  private invoke: InvokeDeviceMethod;
  private readonly now: () => Date;
  private stopped = false;

  constructor(
    private readonly registry: HubRegistry,
    options: ScheduledJobRunnerOptions = {},
  ) {
    this.limits = { ...jobLimitsForTier(options.tier ?? 'S1', options.units ?? 1), ...options.limits };
    this.invoke = options.invokeDeviceMethod ?? offline;
    this.now = options.now ?? (() => new Date());
  }

  /** Replaces the direct-method invoker (the emulator wires its device side here once it exists). */
  useDeviceMethodInvoker(invoker: InvokeDeviceMethod): void {
    this.invoke = invoker;
  }

  /** Creates and schedules a job. @throws HubError 400 (request), 409 (job id taken), 403 JobQuotaExceeded. */
  create(jobId: string, body: unknown): ScheduledJobJson {
    const now = this.now();
    const request = parseJobRequest(jobId, body, now);
    if (this.jobs.has(jobId)) throw new HubError(409, 'JobAlreadyExists', `A job with id '${jobId}' already exists`);
    const active = [...this.jobs.values()].filter((job) => !TERMINAL_STATUSES.includes(job.json.status)).length;
    if (active >= this.limits.maxConcurrentJobs) {
      throw new HubError(
        403,
        'JobQuotaExceeded',
        `This hub already has ${active} active job(s), the most its tier allows (${this.limits.maxConcurrentJobs}); wait for one to end`,
      );
    }
    const delay = Math.max(0, request.startTime.getTime() - now.getTime());
    const json: ScheduledJobJson = {
      jobId,
      type: request.type,
      // The hub answers a new job, even one starting in an hour, as queued (azure-iot-sdk-node e2etests/test/job_client.js).
      status: 'queued',
      queryCondition: request.queryCondition,
      createdTime: now.toISOString(),
      startTime: request.startTime.toISOString(),
      maxExecutionTimeInSeconds: request.maxExecutionTimeInSeconds,
      ...(request.updateTwin ? { updateTwin: request.updateTwin } : {}),
      ...(request.cloudToDeviceMethod ? { cloudToDeviceMethod: request.cloudToDeviceMethod } : {}),
      deviceJobStatistics: { deviceCount: 0, failedCount: 0, succeededCount: 0, runningCount: 0, pendingCount: 0 },
    };
    const state: JobState = { json, request, devices: new Map(), cancelled: false };
    this.jobs.set(jobId, state);
    if (delay > 0) setImmediate(() => state.json.status === 'queued' && (state.json.status = 'scheduled'));
    state.timer = setTimeout(() => {
      state.timer = undefined;
      this.track(state, this.run(state));
    }, delay);
    return snapshot(state);
  }

  find(jobId: string): ScheduledJobJson | undefined {
    const state = this.jobs.get(jobId);
    return state ? snapshot(state) : undefined;
  }

  /** Cancels a job that has not ended (an ended job is answered as it is). @throws HubError 404 JobNotFound. */
  cancel(jobId: string): ScheduledJobJson {
    const state = this.jobs.get(jobId);
    if (!state) throw new HubError(404, 'JobNotFound', `Job ${jobId} not found`);
    if (!TERMINAL_STATUSES.includes(state.json.status)) {
      state.cancelled = true;
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
      this.finish(state, 'cancelled');
    }
    return snapshot(state);
  }

  /** Jobs in creation order, filtered like `GET /jobs/v2/query?jobType=&jobStatus=`. */
  query(filter: { jobType?: string; jobStatus?: string }): ScheduledJobJson[] {
    return [...this.jobs.values()]
      .filter(
        (s) =>
          (filter.jobType === undefined || s.json.type === filter.jobType) &&
          (filter.jobStatus === undefined || s.json.status === filter.jobStatus),
      )
      .map(snapshot);
  }

  /** Each targeted device's part in a job (emulator API; the hub exposes them as `devices.jobs`). */
  deviceJobs(jobId: string): DeviceJobJson[] {
    return [...(this.jobs.get(jobId)?.devices.values() ?? [])].map((d) => ({ ...d }));
  }

  /** Resolves when no job is executing a device step. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  /** Cancels timers and stops running jobs before their next device (server stop). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const state of this.jobs.values()) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
    }
    await this.idle();
  }

  private track(job: JobState, run: Promise<void>): void {
    const guarded = run.catch((error: unknown) => {
      // run() handles every expected failure; anything else still ends the job instead of escaping as a rejection.
      job.json.failureReason = error instanceof Error ? error.message : String(error);
      this.finish(job, 'failed');
    });
    this.running.add(guarded);
    void guarded.finally(() => this.running.delete(guarded));
  }

  private async run(state: JobState): Promise<void> {
    if (state.cancelled || this.stopped) return;
    const json = state.json;
    json.status = 'running';
    const deadline = Date.now() + json.maxExecutionTimeInSeconds * 1000;
    let deviceIds: string[];
    try {
      deviceIds = this.selectDevices(json.queryCondition);
    } catch (error) {
      json.failureReason = `queryCondition: ${error instanceof Error ? error.message : String(error)}`;
      this.finish(state, 'failed');
      return;
    }
    const created = this.now().toISOString();
    for (const deviceId of deviceIds) {
      state.devices.set(deviceId, {
        deviceId,
        jobId: json.jobId,
        jobType: json.type,
        status: 'pending',
        startTimeUtc: json.startTime,
        createdDateTimeUtc: created,
        lastUpdatedDateTimeUtc: created,
      });
    }
    const stats = json.deviceJobStatistics;
    stats.deviceCount = deviceIds.length;
    stats.pendingCount = deviceIds.length;
    const spacingMs = 1000 / this.limits.deviceOperationsPerSecond;
    for (const [index, deviceId] of deviceIds.entries()) {
      if (index > 0) await new Promise((resolve) => setTimeout(resolve, spacingMs));
      if (state.cancelled || this.stopped) return;
      if (Date.now() > deadline) {
        json.failureReason = `The job did not finish within maxExecutionTimeInSeconds (${json.maxExecutionTimeInSeconds})`;
        this.finish(state, 'failed');
        return;
      }
      await this.runDevice(state, deviceId);
    }
    if (!state.cancelled) this.finish(state, 'completed');
  }

  private async runDevice(state: JobState, deviceId: string): Promise<void> {
    const stats = state.json.deviceJobStatistics;
    const device = state.devices.get(deviceId) as DeviceJobJson;
    stats.pendingCount--;
    stats.runningCount++;
    device.status = 'running';
    try {
      if (state.json.type === 'scheduleUpdateTwin') {
        this.registry.updateTwin(deviceId, undefined, state.request.updateTwin, '*');
      } else {
        const method = state.request.cloudToDeviceMethod as NonNullable<ScheduledJobRequest['cloudToDeviceMethod']>;
        const response = await this.invoke(deviceId, undefined, {
          methodName: method.methodName,
          payload: method.payload,
          responseTimeoutInSeconds: method.responseTimeoutInSeconds,
        });
        device.outcome = { deviceMethodResponse: { status: response.status, payload: response.payload } };
      }
      device.status = 'completed';
      stats.succeededCount++;
    } catch (error) {
      device.status = 'failed';
      device.error =
        error instanceof HubError
          ? { code: error.code, description: error.message }
          : { code: 'ServerError', description: error instanceof Error ? error.message : String(error) };
      stats.failedCount++;
    }
    stats.runningCount--;
    const time = this.now().toISOString();
    device.lastUpdatedDateTimeUtc = time;
    device.endTimeUtc = time;
  }

  /** Device ids matching the WHERE clause, through the registry's query (so the same language and its errors apply). */
  private selectDevices(condition: string): string[] {
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const page = this.registry.query(`SELECT deviceId FROM devices WHERE ${condition}`, 10_000, token);
      for (const item of page.items) ids.push((item as { deviceId: string }).deviceId);
      token = page.continuationToken;
    } while (token !== undefined);
    return ids;
  }

  private finish(state: JobState, status: ScheduledJobStatus): void {
    state.json.status = status;
    state.json.endTime = this.now().toISOString();
    if (status === 'cancelled') {
      for (const device of state.devices.values()) if (device.status === 'pending') device.status = 'cancelled';
    }
  }
}

function snapshot(state: JobState): ScheduledJobJson {
  return { ...state.json, deviceJobStatistics: { ...state.json.deviceJobStatistics } };
}

export type { ScheduledJobType };

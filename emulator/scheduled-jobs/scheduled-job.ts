/**
 * A scheduled job as `/jobs/v2` answers it (JobResponse of https://learn.microsoft.com/rest/api/iothub/service/jobs/get-scheduled-job),
 * and what azure-iothub 1.16 `JobClient.scheduleTwinUpdate` / `scheduleDeviceMethod` send (dist/job_client.js).
 */
import type { JsonObject } from '../../shared/domain/types';

export type ScheduledJobType = 'scheduleUpdateTwin' | 'scheduleDeviceMethod';
export type ScheduledJobStatus = 'queued' | 'scheduled' | 'running' | 'completed' | 'failed' | 'cancelled';

export const TERMINAL_STATUSES: readonly ScheduledJobStatus[] = ['completed', 'failed', 'cancelled'];

export interface CloudToDeviceMethod {
  methodName: string;
  payload: unknown;
  responseTimeoutInSeconds: number;
  connectTimeoutInSeconds: number;
}

export interface DeviceJobStatistics {
  deviceCount: number;
  failedCount: number;
  succeededCount: number;
  runningCount: number;
  pendingCount: number;
}

export interface ScheduledJobJson {
  jobId: string;
  type: ScheduledJobType;
  status: ScheduledJobStatus;
  queryCondition: string;
  createdTime: string;
  startTime: string;
  endTime?: string;
  maxExecutionTimeInSeconds: number;
  updateTwin?: JsonObject;
  cloudToDeviceMethod?: CloudToDeviceMethod;
  failureReason?: string;
  statusMessage?: string;
  deviceJobStatistics: DeviceJobStatistics;
}

/** One device's part in a job (the hub's `devices.jobs` entries). */
export interface DeviceJobJson {
  deviceId: string;
  jobId: string;
  jobType: ScheduledJobType;
  status: 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
  startTimeUtc: string;
  endTimeUtc?: string;
  createdDateTimeUtc: string;
  lastUpdatedDateTimeUtc: string;
  outcome?: { deviceMethodResponse?: { status: number; payload: unknown } };
  error?: { code: string; description: string };
}

/** What a direct method call to a device answers (the device-side branch provides the real one). */
export interface DeviceMethodResult {
  status: number;
  payload: unknown;
}

export type InvokeDeviceMethod = (
  deviceId: string,
  moduleId: string | undefined,
  request: { methodName: string; payload: unknown; responseTimeoutInSeconds: number },
) => Promise<DeviceMethodResult>;

/**
 * Validates `PUT /jobs/v2/{id}` (Create Scheduled Job, https://learn.microsoft.com/rest/api/iothub/service/jobs/create-scheduled-job)
 * as azure-iothub 1.16 JobClient sends it: `{jobId, type, queryCondition, startTime, maxExecutionTimeInSeconds}` plus
 * `updateTwin` (scheduleUpdateTwin) or `cloudToDeviceMethod` (scheduleDeviceMethod). @throws HubError 400 naming the field.
 */
import type { JsonObject } from '../../shared/domain/types';
import { HubError } from '../registry/hub-error';
import type { CloudToDeviceMethod, ScheduledJobType } from './scheduled-job';

export interface ScheduledJobRequest {
  jobId: string;
  type: ScheduledJobType;
  queryCondition: string;
  startTime: Date;
  maxExecutionTimeInSeconds: number;
  updateTwin?: JsonObject;
  cloudToDeviceMethod?: CloudToDeviceMethod;
}

const DEFAULT_MAX_EXECUTION_SECONDS = 3600;
const MAX_METHOD_PAYLOAD_BYTES = 128 * 1024;

const invalid = (message: string): HubError => new HubError(400, 'ArgumentInvalid', message);

export function parseJobRequest(pathJobId: string, body: unknown, now: Date): ScheduledJobRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('The job request must be a JSON object');
  const request = body as Record<string, unknown>;
  if (
    request.jobId !== undefined &&
    (typeof request.jobId === 'string' || typeof request.jobId === 'number' ? String(request.jobId) : '') !== pathJobId
  )
    throw invalid('jobId in the body does not match the path');
  if (!/^[A-Za-z0-9\-:.+%_#*?!(),=@;$']{1,128}$/.test(pathJobId)) throw invalid(`jobId '${pathJobId}' is not a valid job id`);
  const type = request.type;
  if (type !== 'scheduleUpdateTwin' && type !== 'scheduleDeviceMethod') {
    throw new HubError(
      type === undefined ? 400 : 501,
      type === undefined ? 'ArgumentInvalid' : 'NotImplemented',
      `Job type '${String(type)}' is not supported by the IoT Hub emulator on /jobs/v2 (scheduleUpdateTwin and scheduleDeviceMethod are)`,
    );
  }
  const queryCondition = request.queryCondition;
  if (typeof queryCondition !== 'string' || queryCondition.trim() === '') throw invalid('queryCondition must be a WHERE clause');
  const startTime = parseStartTime(request.startTime, now);
  const max = request.maxExecutionTimeInSeconds ?? DEFAULT_MAX_EXECUTION_SECONDS;
  if (typeof max !== 'number' || !Number.isInteger(max) || max <= 0) throw invalid('maxExecutionTimeInSeconds must be a positive integer');
  const jobType: ScheduledJobType = type === 'scheduleUpdateTwin' ? 'scheduleUpdateTwin' : 'scheduleDeviceMethod';
  const base = { jobId: pathJobId, type: jobType, queryCondition, startTime, maxExecutionTimeInSeconds: max };
  if (jobType === 'scheduleUpdateTwin') return { ...base, updateTwin: parseTwinPatch(request.updateTwin) };
  return { ...base, cloudToDeviceMethod: parseMethod(request.cloudToDeviceMethod) };
}

function parseStartTime(value: unknown, now: Date): Date {
  if (value === undefined || value === null) return now;
  const time = typeof value === 'string' ? new Date(value) : undefined;
  if (!time || Number.isNaN(time.getTime())) throw invalid('startTime must be an ISO 8601 date');
  return time;
}

/** The twin patch: only `tags` and `properties.desired` may change (as on PATCH /twins); `etag` and ids are ignored. */
function parseTwinPatch(value: unknown): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('updateTwin must be a twin patch object');
  const patch = value as Record<string, unknown>;
  const out: JsonObject = {};
  if (patch.tags !== undefined) out.tags = patch.tags;
  const properties = patch.properties as Record<string, unknown> | undefined;
  if (properties !== undefined) {
    if (typeof properties !== 'object' || properties === null) throw invalid('updateTwin.properties must be an object');
    // azure-iot-sdk-node's e2e tests (e2etests/test/job_client.js) send `properties: { desired: {}, reported: {} }`.
    const reported = properties.reported;
    if (reported !== undefined && reported !== null && (typeof reported !== 'object' || Object.keys(reported).length > 0))
      throw invalid('updateTwin cannot change reported properties');
    if (properties.desired !== undefined) out.properties = { desired: properties.desired as JsonObject };
  }
  if (out.tags === undefined && out.properties === undefined) throw invalid('updateTwin must change tags or properties.desired');
  return out;
}

function parseMethod(value: unknown): CloudToDeviceMethod {
  if (typeof value !== 'object' || value === null) throw invalid('cloudToDeviceMethod is required for scheduleDeviceMethod');
  const method = value as Record<string, unknown>;
  if (typeof method.methodName !== 'string' || method.methodName === '') throw invalid('cloudToDeviceMethod.methodName is required');
  const payload = method.payload ?? null;
  if (Buffer.byteLength(JSON.stringify(payload)) > MAX_METHOD_PAYLOAD_BYTES)
    throw new HubError(413, 'MessageTooLarge', `The method payload exceeds ${MAX_METHOD_PAYLOAD_BYTES} bytes`);
  const seconds = (v: unknown, fallback: number, name: string): number => {
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 300)
      throw invalid(`cloudToDeviceMethod.${name} must be 0–300 seconds`);
    return v;
  };
  return {
    methodName: method.methodName,
    payload,
    responseTimeoutInSeconds: seconds(method.responseTimeoutInSeconds, 30, 'responseTimeoutInSeconds'),
    connectTimeoutInSeconds: seconds(method.connectTimeoutInSeconds, 0, 'connectTimeoutInSeconds'),
  };
}

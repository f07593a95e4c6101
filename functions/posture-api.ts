import { type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getServices, type EventServices } from '../shared/container';
import { loggerFor } from '../shared/host/invocation-logger';
import { registerFunctions, type FunctionRegistration } from '../shared/host/registration';
import { getDeviceHistory, getDevicePosture, type PostureApiResult } from '../shared/services/posture-queries';

type PostureServices = Pick<EventServices, 'posture'>;

function toResponse(result: PostureApiResult): HttpResponseInit {
  return { status: result.status, jsonBody: result.body, headers: { 'cache-control': 'no-store' } };
}

export function makeDevicePostureHandler(services: () => Promise<PostureServices>) {
  return async function getPosture(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    const result = await getDevicePosture(request.params['deviceId'], (await services()).posture, loggerFor(context));
    return toResponse(result);
  };
}

export function makeDeviceHistoryHandler(services: () => Promise<PostureServices>) {
  return async function getHistory(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    const query = {
      from: request.query.get('from') ?? undefined,
      to: request.query.get('to') ?? undefined,
      limit: request.query.get('limit') ?? undefined,
      continuationToken: request.query.get('continuationToken') ?? undefined,
    };
    const result = await getDeviceHistory(request.params['deviceId'], query, (await services()).posture, loggerFor(context));
    return toResponse(result);
  };
}

export const devicePostureOptions: HttpFunctionOptions = {
  methods: ['GET'],
  authLevel: 'function',
  route: 'devices/{deviceId}/posture',
  handler: makeDevicePostureHandler(getServices),
};

export const deviceHistoryOptions: HttpFunctionOptions = {
  methods: ['GET'],
  authLevel: 'function',
  route: 'devices/{deviceId}/posture/history',
  handler: makeDeviceHistoryHandler(getServices),
};

export const registrations: FunctionRegistration[] = [
  { kind: 'http', name: 'device-posture', options: devicePostureOptions },
  { kind: 'http', name: 'device-posture-history', options: deviceHistoryOptions },
];

registerFunctions(registrations);

import type { HttpFunctionOptions, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getPostureReader } from '../shared/container';
import { getDeviceHistory, type PostureReader } from '../shared/services/posture-queries';
import { toHttpResponse } from '../shared/triggers/api-response';
import { httpHandler } from '../shared/triggers/http-handler';
import { loggerFor } from '../shared/triggers/invocation-logger';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** GET /api/devices/{deviceId}/posture/history?from&to&limit&continuationToken: newest first, paged. */
export function makeDeviceHistoryHandler(services: () => Promise<{ posture: PostureReader }>) {
  return httpHandler(async function getHistory(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    const query = {
      from: request.query.get('from') ?? undefined,
      to: request.query.get('to') ?? undefined,
      limit: request.query.get('limit') ?? undefined,
      continuationToken: request.query.get('continuationToken') ?? undefined,
    };
    return toHttpResponse(await getDeviceHistory(request.params['deviceId'], query, (await services()).posture, loggerFor(context)));
  });
}

export const deviceHistoryOptions: HttpFunctionOptions = {
  methods: ['GET'],
  authLevel: 'function',
  route: 'devices/{deviceId}/posture/history',
  handler: makeDeviceHistoryHandler(getPostureReader),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'device-posture-history', options: deviceHistoryOptions }];

registerFunctions(registrations);

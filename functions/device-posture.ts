import type { HttpFunctionOptions, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getPostureReader } from '../shared/container';
import { getDevicePosture, type PostureReader } from '../shared/services/posture-queries';
import { toHttpResponse } from '../shared/triggers/api-response';
import { httpHandler } from '../shared/triggers/http-handler';
import { loggerFor } from '../shared/triggers/invocation-logger';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** GET /api/devices/{deviceId}/posture: the device's latest posture, read from the table (never a cached row). */
export function makeDevicePostureHandler(services: () => Promise<{ posture: PostureReader }>) {
  return httpHandler(async function getPosture(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    return toHttpResponse(await getDevicePosture(request.params['deviceId'], (await services()).posture, loggerFor(context)));
  });
}

export const devicePostureOptions: HttpFunctionOptions = {
  methods: ['GET'],
  authLevel: 'function',
  route: 'devices/{deviceId}/posture',
  handler: makeDevicePostureHandler(getPostureReader),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'device-posture', options: devicePostureOptions }];

registerFunctions(registrations);

import type { HttpFunctionOptions, HttpRequest, HttpResponseInit } from '@azure/functions';
import { getSweepApiServices as getSweepServices } from '../shared/container';
import { requestSweep } from '../shared/services/sweeps-api';
import type { SweepServices } from '../shared/services/sweep/sweep-services';
import { toHttpResponse } from '../shared/triggers/api-response';
import { httpHandler } from '../shared/triggers/http-handler';
import { readJsonBody } from '../shared/triggers/read-json-body';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** POST /api/sweeps (`{ "dryRun": true }` optional): 202 with the run and a Location to poll. */
export function makeStartSweepHandler(services: () => Promise<Pick<SweepServices, 'sweeps' | 'queue' | 'now'>>) {
  return httpHandler(async function startSweepHttp(request: HttpRequest): Promise<HttpResponseInit> {
    const read = await readJsonBody(request);
    if (!read.ok) return read.response;
    const result = await requestSweep(read.body, await services());
    const response = toHttpResponse(result);
    const location = (result.body as { location?: string } | undefined)?.location;
    return location ? { ...response, headers: { ...response.headers, location } } : response;
  });
}

export const startSweepOptions: HttpFunctionOptions = {
  methods: ['POST'],
  authLevel: 'function',
  route: 'sweeps',
  handler: makeStartSweepHandler(getSweepServices),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'sweeps-start', options: startSweepOptions }];

registerFunctions(registrations);

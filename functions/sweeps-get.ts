import type { HttpFunctionOptions, HttpRequest, HttpResponseInit } from '@azure/functions';
import { getSweepApiServices as getSweepServices } from '../shared/container';
import { getSweep } from '../shared/services/sweeps-api';
import type { SweepServices } from '../shared/services/sweep/sweep-services';
import { toHttpResponse } from '../shared/triggers/api-response';
import { httpHandler } from '../shared/triggers/http-handler';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** GET /api/sweeps/{id}: the run, its shards' progress and, once complete, its summary. */
export function makeGetSweepHandler(services: () => Promise<Pick<SweepServices, 'sweeps'>>) {
  return httpHandler(async function getSweepHttp(request: HttpRequest): Promise<HttpResponseInit> {
    return toHttpResponse(await getSweep(request.params['id'], (await services()).sweeps));
  });
}

export const getSweepOptions: HttpFunctionOptions = {
  methods: ['GET'],
  authLevel: 'function',
  route: 'sweeps/{id}',
  handler: makeGetSweepHandler(getSweepServices),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'sweeps-get', options: getSweepOptions }];

registerFunctions(registrations);

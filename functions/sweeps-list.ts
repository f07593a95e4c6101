import type { HttpFunctionOptions, HttpRequest, HttpResponseInit } from '@azure/functions';
import type { OperatorApiServices } from '../shared/composition/api-services-of';
import { getOperatorApiServices } from '../shared/container';
import { listSweeps } from '../shared/services/sweep-list-api';
import { toHttpResponse } from '../shared/triggers/api-response';
import { httpHandler } from '../shared/triggers/http-handler';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** GET /api/sweeps?limit=N: recent runs (running, failed and completed), newest first. POST on the same route starts one (sweeps-start.ts). */
export function makeListSweepsHandler(services: () => Promise<Pick<OperatorApiServices, 'sweeps'>>) {
  return httpHandler(async function listSweepsHttp(request: HttpRequest): Promise<HttpResponseInit> {
    return toHttpResponse(await listSweeps(request.query.get('limit') ?? undefined, (await services()).sweeps));
  });
}

export const listSweepsOptions: HttpFunctionOptions = {
  methods: ['GET'],
  authLevel: 'function',
  route: 'sweeps',
  handler: makeListSweepsHandler(getOperatorApiServices),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'sweeps-list', options: listSweepsOptions }];

registerFunctions(registrations);

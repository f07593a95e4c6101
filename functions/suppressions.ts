import type { HttpFunctionOptions, HttpRequest, HttpResponseInit } from '@azure/functions';
import { getSweepApiServices as getSweepServices } from '../shared/container';
import { createSuppression, listSuppressions } from '../shared/services/suppressions-api';
import type { SweepServices } from '../shared/services/sweep/sweep-services';
import { toHttpResponse } from '../shared/triggers/api-response';
import { httpHandler } from '../shared/triggers/http-handler';
import { readJsonBody } from '../shared/triggers/read-json-body';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** GET /api/suppressions lists them; POST creates one (rule × device or tag selector, reason, expiry). */
export function makeSuppressionsHandler(services: () => Promise<Pick<SweepServices, 'suppressions' | 'now'>>) {
  return httpHandler(async function suppressionsHttp(request: HttpRequest): Promise<HttpResponseInit> {
    const deps = await services();
    if (request.method === 'GET') return toHttpResponse(await listSuppressions(deps.suppressions, deps.now()));
    const read = await readJsonBody(request);
    if (!read.ok) return read.response;
    return toHttpResponse(await createSuppression(read.body, deps.suppressions, deps.now()));
  });
}

export const suppressionsOptions: HttpFunctionOptions = {
  methods: ['GET', 'POST'],
  authLevel: 'function',
  route: 'suppressions',
  handler: makeSuppressionsHandler(getSweepServices),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'suppressions', options: suppressionsOptions }];

registerFunctions(registrations);

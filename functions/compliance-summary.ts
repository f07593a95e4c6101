import type { HttpFunctionOptions, HttpRequest, HttpResponseInit } from '@azure/functions';
import { getSweepApiServices as getSweepServices } from '../shared/container';
import { getCompliance } from '../shared/services/sweeps-api';
import type { SweepServices } from '../shared/services/sweep/sweep-services';
import { toHttpResponse } from '../shared/triggers/api-response';
import { httpHandler } from '../shared/triggers/http-handler';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** GET /api/compliance?trend=N: the last completed sweep's summary and the trend over recent ones. */
export function makeComplianceHandler(services: () => Promise<Pick<SweepServices, 'sweeps'>>) {
  return httpHandler(async function complianceHttp(request: HttpRequest): Promise<HttpResponseInit> {
    return toHttpResponse(await getCompliance(request.query.get('trend') ?? undefined, (await services()).sweeps));
  });
}

export const complianceOptions: HttpFunctionOptions = {
  methods: ['GET'],
  authLevel: 'function',
  route: 'compliance',
  handler: makeComplianceHandler(getSweepServices),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'compliance-summary', options: complianceOptions }];

registerFunctions(registrations);

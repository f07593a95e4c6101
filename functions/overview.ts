import type { HttpFunctionOptions, HttpRequest, HttpResponseInit } from '@azure/functions';
import type { OperatorApiServices } from '../shared/composition/api-services-of';
import { getOperatorApiServices } from '../shared/container';
import { getOverview } from '../shared/services/overview-api';
import { toHttpResponse } from '../shared/triggers/api-response';
import { httpHandler } from '../shared/triggers/http-handler';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** GET /api/overview?trend=N: fleet figures of the last completed sweep, the trend, the run in progress, dead letters waiting. */
export function makeOverviewHandler(services: () => Promise<OperatorApiServices>) {
  return httpHandler(async function overviewHttp(request: HttpRequest): Promise<HttpResponseInit> {
    return toHttpResponse(await getOverview(request.query.get('trend') ?? undefined, await services()));
  });
}

export const overviewOptions: HttpFunctionOptions = {
  methods: ['GET'],
  authLevel: 'function',
  route: 'overview',
  handler: makeOverviewHandler(getOperatorApiServices),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'overview', options: overviewOptions }];

registerFunctions(registrations);

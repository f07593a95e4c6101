import type { HttpFunctionOptions, HttpRequest, HttpResponseInit } from '@azure/functions';
import { getSweepApiServices as getSweepServices } from '../shared/container';
import { deleteSuppression } from '../shared/services/suppressions-api';
import type { SweepServices } from '../shared/services/sweep/sweep-services';
import { toHttpResponse } from '../shared/triggers/api-response';
import { httpHandler } from '../shared/triggers/http-handler';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** DELETE /api/suppressions/{id}: 204, or 404 when there was none. */
export function makeDeleteSuppressionHandler(services: () => Promise<Pick<SweepServices, 'suppressions'>>) {
  return httpHandler(async function deleteSuppressionHttp(request: HttpRequest): Promise<HttpResponseInit> {
    return toHttpResponse(await deleteSuppression(request.params['id'], (await services()).suppressions));
  });
}

export const deleteSuppressionOptions: HttpFunctionOptions = {
  methods: ['DELETE'],
  authLevel: 'function',
  route: 'suppressions/{id}',
  handler: makeDeleteSuppressionHandler(getSweepServices),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'suppressions-delete', options: deleteSuppressionOptions }];

registerFunctions(registrations);

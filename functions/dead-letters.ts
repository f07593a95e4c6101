import type { HttpFunctionOptions, HttpRequest, HttpResponseInit } from '@azure/functions';
import type { OperatorApiServices } from '../shared/composition/api-services-of';
import { getOperatorApiServices } from '../shared/container';
import { listDeadLetters } from '../shared/services/dead-letters-api';
import { toHttpResponse } from '../shared/triggers/api-response';
import { httpHandler } from '../shared/triggers/http-handler';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** GET /api/dead-letters?limit=&continuationToken=&preview=: dead letters paged, each payload cut to a preview. */
export function makeDeadLettersHandler(services: () => Promise<Pick<OperatorApiServices, 'deadLetters'>>) {
  return httpHandler(async function deadLettersHttp(request: HttpRequest): Promise<HttpResponseInit> {
    const input = {
      limit: request.query.get('limit') ?? undefined,
      continuationToken: request.query.get('continuationToken') ?? undefined,
      preview: request.query.get('preview') ?? undefined,
    };
    return toHttpResponse(await listDeadLetters(input, (await services()).deadLetters));
  });
}

export const deadLettersOptions: HttpFunctionOptions = {
  methods: ['GET'],
  authLevel: 'function',
  route: 'dead-letters',
  handler: makeDeadLettersHandler(getOperatorApiServices),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'dead-letters', options: deadLettersOptions }];

registerFunctions(registrations);

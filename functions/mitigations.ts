import type { HttpFunctionOptions, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getMitigationsApiServices } from '../shared/container';
import { requestMitigations, type MitigationsApiServices } from '../shared/services/mitigations/mitigations-api';
import { toHttpResponse } from '../shared/triggers/api-response';
import { callerOf } from '../shared/triggers/caller-identity';
import { httpHandler } from '../shared/triggers/http-handler';
import { readJsonBody } from '../shared/triggers/read-json-body';
import { isOutsideAzureFunctions, registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/**
 * POST /api/mitigations: applies mitigations to one page of a sweep's violations (all, filtered or chosen devices),
 * audited with the caller's key name. Body and answer: README "Mitigations".
 */
export function makeMitigationsHandler(services: () => Promise<MitigationsApiServices>, trustKeyNameHeader: () => boolean) {
  return httpHandler(async function mitigationsHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
    const read = await readJsonBody(request);
    if (!read.ok) return read.response;
    const caller = { who: callerOf(request, trustKeyNameHeader()), requestId: context.invocationId };
    return toHttpResponse(await requestMitigations(read.body, caller, await services()));
  });
}

export const mitigationsOptions: HttpFunctionOptions = {
  methods: ['POST'],
  authLevel: 'function',
  route: 'mitigations',
  handler: makeMitigationsHandler(getMitigationsApiServices, isOutsideAzureFunctions),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'mitigations', options: mitigationsOptions }];

registerFunctions(registrations);

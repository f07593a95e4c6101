import type { HttpFunctionOptions, HttpRequest, HttpResponseInit } from '@azure/functions';
import { getMitigationsApiServices } from '../shared/container';
import type { MitigationAuditStore } from '../shared/ports/mitigation-audit';
import { listMitigationAudit } from '../shared/services/mitigations/mitigation-audit-api';
import { toHttpResponse } from '../shared/triggers/api-response';
import { httpHandler } from '../shared/triggers/http-handler';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** GET /api/mitigations/audit?month=yyyymm&limit=&continuationToken=: who applied which mitigation when, newest first. */
export function makeMitigationAuditHandler(services: () => Promise<{ auditReader: MitigationAuditStore; now: () => Date }>) {
  return httpHandler(async function mitigationAuditHttp(request: HttpRequest): Promise<HttpResponseInit> {
    const deps = await services();
    const input = {
      month: request.query.get('month') ?? undefined,
      limit: request.query.get('limit') ?? undefined,
      continuationToken: request.query.get('continuationToken') ?? undefined,
    };
    return toHttpResponse(await listMitigationAudit(input, deps.auditReader, deps.now()));
  });
}

export const mitigationAuditOptions: HttpFunctionOptions = {
  methods: ['GET'],
  authLevel: 'function',
  route: 'mitigations/audit',
  handler: makeMitigationAuditHandler(getMitigationsApiServices),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'mitigations-audit', options: mitigationAuditOptions }];

registerFunctions(registrations);

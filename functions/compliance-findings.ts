import { Readable } from 'node:stream';
import type { HttpFunctionOptions, HttpRequest, HttpResponseInit } from '@azure/functions';
import { getSweepServices } from '../shared/container';
import { listFindingsPage, streamFindingsCsv } from '../shared/services/findings-api';
import type { SweepServices } from '../shared/services/sweep/sweep-services';
import { toHttpResponse } from '../shared/triggers/api-response';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** GET /api/compliance/findings: `format=csv` streams every matching finding; JSON (default) answers one page with a continuation token. */
export function makeFindingsHandler(services: () => Promise<Pick<SweepServices, 'sweeps'>>) {
  return async function findingsHttp(request: HttpRequest): Promise<HttpResponseInit> {
    const input = {
      sweepId: request.query.get('sweepId') ?? undefined,
      rule: request.query.get('rule') ?? undefined,
      status: request.query.get('status') ?? undefined,
      limit: request.query.get('limit') ?? undefined,
      continuationToken: request.query.get('continuationToken') ?? undefined,
    };
    const format = (request.query.get('format') ?? 'json').toLowerCase();
    if (format !== 'json' && format !== 'csv')
      return toHttpResponse({ status: 400, body: { error: 'BadRequest', message: 'format must be json or csv' } });
    const sweeps = (await services()).sweeps;
    if (format === 'json') return toHttpResponse(await listFindingsPage(input, sweeps));
    const result = await streamFindingsCsv(input, sweeps);
    if ('status' in result) return toHttpResponse(result);
    return {
      status: 200,
      headers: {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="findings-${result.sweepId}.csv"`,
        'cache-control': 'no-store',
      },
      body: Readable.from(result.lines) as unknown as ReadableStream,
    };
  };
}

export const findingsOptions: HttpFunctionOptions = {
  methods: ['GET'],
  authLevel: 'function',
  route: 'compliance/findings',
  handler: makeFindingsHandler(getSweepServices),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'compliance-findings', options: findingsOptions }];

registerFunctions(registrations);

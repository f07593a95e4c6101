import type { HttpFunctionOptions, HttpRequest, HttpResponseInit } from '@azure/functions';
import { getSweepApiServices as getSweepServices } from '../shared/container';
import { listFindingsPage, streamFindingsCsv } from '../shared/services/findings-api';
import type { SweepServices } from '../shared/services/sweep/sweep-services';
import { toHttpResponse } from '../shared/triggers/api-response';
import { httpHandler } from '../shared/triggers/http-handler';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/**
 * The CSV lines as UTF-8 bytes, pulled one page at a time: an `AsyncIterable<Uint8Array>`, one of the body types
 * HttpResponseInit takes for streaming (types/http.d.ts `HttpResponseBodyInit`). The library turns it into a web
 * ReadableStream that pulls the next page only when the previous one was taken, so a slow client slows the reads
 * from the store instead of filling memory. Closing early (client gone) closes the line iterator too.
 */
async function* utf8Chunks(first: IteratorResult<string>[], rest: AsyncIterator<string>): AsyncGenerator<Uint8Array> {
  let finished = false;
  try {
    for (const step of first) {
      if (step.done) {
        finished = true;
        return;
      }
      yield Buffer.from(step.value, 'utf8');
    }
    for (let step = await rest.next(); !step.done; step = await rest.next()) yield Buffer.from(step.value, 'utf8');
    finished = true;
  } finally {
    if (!finished) await rest.return?.();
  }
}

/** GET /api/compliance/findings: `format=csv` streams every matching finding; JSON (default) answers one page with a continuation token. */
export function makeFindingsHandler(services: () => Promise<Pick<SweepServices, 'sweeps'>>) {
  return httpHandler(async function findingsHttp(request: HttpRequest): Promise<HttpResponseInit> {
    const input = {
      sweepId: request.query.get('sweepId') ?? undefined,
      rule: request.query.get('rule') ?? undefined,
      status: request.query.get('status') ?? undefined,
      severity: request.query.get('severity') ?? undefined,
      device: request.query.get('device') ?? undefined,
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
    // The header and the first page are read before answering, so a storage failure up to there is still a 503,
    // not a 200 cut short; later pages are read as the client takes the bytes.
    const lines = result.lines[Symbol.asyncIterator]();
    const first = [await lines.next(), await lines.next()];
    return {
      status: 200,
      headers: {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="findings-${result.sweepId}.csv"`,
        'cache-control': 'no-store',
      },
      body: utf8Chunks(first, lines),
    };
  });
}

export const findingsOptions: HttpFunctionOptions = {
  methods: ['GET'],
  authLevel: 'function',
  route: 'compliance/findings',
  handler: makeFindingsHandler(getSweepServices),
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'compliance-findings', options: findingsOptions }];

registerFunctions(registrations);

import { Readable } from 'node:stream';
import {
  type HttpFunctionOptions,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type StorageQueueFunctionOptions,
  type Timer,
  type TimerFunctionOptions,
} from '@azure/functions';
import { decodeSweepMessage } from '../shared/sweep-messages';
import { complianceTriggerBinding } from '../shared/config';
import { getComplianceServices, type ComplianceServices } from '../shared/container';
import { loggerFor } from '../shared/host/invocation-logger';
import { registerFunctions, type FunctionRegistration } from '../shared/host/registration';
import {
  createSuppression,
  deleteSuppression,
  getCompliance,
  getSweep,
  listFindingsPage,
  listSuppressions,
  requestSweep,
  streamFindingsCsv,
  type ApiResult,
} from '../shared/services/compliance-queries';
import { handleSweepMessage, newSweepId, startSweep, type MessageOutcome } from '../shared/services/compliance-sweep';

export const COMPLIANCE_SWEEP_FUNCTION = 'compliance-sweep';
export const SWEEP_SHARD_FUNCTION = 'sweep-shard';

type Services = () => Promise<ComplianceServices>;

function toResponse(result: ApiResult): HttpResponseInit {
  return result.body === undefined ? { status: result.status } : { status: result.status, jsonBody: result.body, headers: { 'cache-control': 'no-store' } };
}

/**
 * Timer: starts one sweep per schedule occurrence. The id comes from the minute it fired, so a timer that fires
 * twice (restart, past-due catch-up on another instance) starts one sweep, not two.
 */
export function makeComplianceSweepTimerHandler(services: Services) {
  return async function complianceSweepTimer(_timer: Timer, context: InvocationContext): Promise<void> {
    const deps = await services();
    const at = deps.now();
    const sweepId = newSweepId(new Date(Math.floor(at.getTime() / 60_000) * 60_000), 'sched');
    const { created } = await startSweep({ sweepId, trigger: 'schedule', dryRun: false }, deps);
    loggerFor(context).info('compliance sweep scheduled', { sweepId, created });
  };
}

/** Queue: one plan, shard, finalize or import-poll step. Throwing makes the queue redeliver it (resume from the cursor). */
export function makeSweepShardHandler(services: Services) {
  return async function sweepShard(queueEntry: unknown, context: InvocationContext): Promise<MessageOutcome> {
    const message = decodeSweepMessage(queueEntry);
    const deps = await services();
    const outcome = await handleSweepMessage(message, { ...deps, logger: loggerFor(context, { sweepId: message.sweepId }) });
    loggerFor(context).info('sweep message handled', { ...message, outcome });
    return outcome;
  };
}

async function readJson(request: HttpRequest): Promise<unknown> {
  const text = await request.text();
  if (text.trim() === '') return undefined;
  return JSON.parse(text) as unknown;
}

function invalidJson(): HttpResponseInit {
  return { status: 400, jsonBody: { error: 'BadRequest', message: 'body is not valid JSON' } };
}

export function makeStartSweepHandler(services: Services) {
  return async function startSweepHttp(request: HttpRequest): Promise<HttpResponseInit> {
    let body: unknown;
    try {
      body = await readJson(request);
    } catch {
      return invalidJson();
    }
    const result = await requestSweep(body, await services());
    const response = toResponse(result);
    const location = (result.body as { location?: string } | undefined)?.location;
    return location ? { ...response, headers: { ...response.headers, location } } : response;
  };
}

export function makeGetSweepHandler(services: Services) {
  return async function getSweepHttp(request: HttpRequest): Promise<HttpResponseInit> {
    return toResponse(await getSweep(request.params['id'], (await services()).sweeps));
  };
}

export function makeComplianceHandler(services: Services) {
  return async function complianceHttp(request: HttpRequest): Promise<HttpResponseInit> {
    return toResponse(await getCompliance(request.query.get('trend') ?? undefined, (await services()).sweeps));
  };
}

/** `format=csv` streams every matching finding; JSON (default) answers one page with a continuation token. */
export function makeFindingsHandler(services: Services) {
  return async function findingsHttp(request: HttpRequest): Promise<HttpResponseInit> {
    const input = {
      sweepId: request.query.get('sweepId') ?? undefined,
      rule: request.query.get('rule') ?? undefined,
      status: request.query.get('status') ?? undefined,
      limit: request.query.get('limit') ?? undefined,
      continuationToken: request.query.get('continuationToken') ?? undefined,
    };
    const format = (request.query.get('format') ?? 'json').toLowerCase();
    if (format !== 'json' && format !== 'csv') return toResponse({ status: 400, body: { error: 'BadRequest', message: 'format must be json or csv' } });
    const sweeps = (await services()).sweeps;
    if (format === 'json') return toResponse(await listFindingsPage(input, sweeps));
    const result = await streamFindingsCsv(input, sweeps);
    if ('status' in result) return toResponse(result);
    return {
      status: 200,
      headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="findings-${result.sweepId}.csv"`, 'cache-control': 'no-store' },
      body: Readable.from(result.lines) as unknown as ReadableStream,
    };
  };
}

export function makeSuppressionsHandler(services: Services) {
  return async function suppressionsHttp(request: HttpRequest): Promise<HttpResponseInit> {
    const deps = await services();
    if (request.method === 'GET') return toResponse(await listSuppressions(deps.suppressions, deps.now()));
    let body: unknown;
    try {
      body = await readJson(request);
    } catch {
      return invalidJson();
    }
    return toResponse(await createSuppression(body, deps.suppressions, deps.now()));
  };
}

export function makeDeleteSuppressionHandler(services: Services) {
  return async function deleteSuppressionHttp(request: HttpRequest): Promise<HttpResponseInit> {
    return toResponse(await deleteSuppression(request.params['id'], (await services()).suppressions));
  };
}

const binding = complianceTriggerBinding(process.env);

export const complianceSweepTimerOptions: TimerFunctionOptions = {
  schedule: binding.schedule,
  handler: makeComplianceSweepTimerHandler(getComplianceServices),
};

/** Poison messages (5 failed deliveries, the host default) go to `<queue>-poison`; a shard resumes from its persisted cursor on each redelivery. */
export const sweepShardOptions: StorageQueueFunctionOptions = {
  queueName: binding.queueName,
  connection: 'AzureWebJobsStorage',
  handler: makeSweepShardHandler(getComplianceServices),
};

export const startSweepOptions: HttpFunctionOptions = { methods: ['POST'], authLevel: 'function', route: 'sweeps', handler: makeStartSweepHandler(getComplianceServices) };
export const getSweepOptions: HttpFunctionOptions = { methods: ['GET'], authLevel: 'function', route: 'sweeps/{id}', handler: makeGetSweepHandler(getComplianceServices) };
export const complianceOptions: HttpFunctionOptions = { methods: ['GET'], authLevel: 'function', route: 'compliance', handler: makeComplianceHandler(getComplianceServices) };
export const findingsOptions: HttpFunctionOptions = { methods: ['GET'], authLevel: 'function', route: 'compliance/findings', handler: makeFindingsHandler(getComplianceServices) };
export const suppressionsOptions: HttpFunctionOptions = { methods: ['GET', 'POST'], authLevel: 'function', route: 'suppressions', handler: makeSuppressionsHandler(getComplianceServices) };
export const deleteSuppressionOptions: HttpFunctionOptions = { methods: ['DELETE'], authLevel: 'function', route: 'suppressions/{id}', handler: makeDeleteSuppressionHandler(getComplianceServices) };

export const registrations: FunctionRegistration[] = [
  { kind: 'timer', name: COMPLIANCE_SWEEP_FUNCTION, options: complianceSweepTimerOptions },
  { kind: 'storageQueue', name: SWEEP_SHARD_FUNCTION, options: sweepShardOptions },
  { kind: 'http', name: 'sweeps-start', options: startSweepOptions },
  { kind: 'http', name: 'sweeps-get', options: getSweepOptions },
  { kind: 'http', name: 'compliance-summary', options: complianceOptions },
  { kind: 'http', name: 'compliance-findings', options: findingsOptions },
  { kind: 'http', name: 'suppressions', options: suppressionsOptions },
  { kind: 'http', name: 'suppressions-delete', options: deleteSuppressionOptions },
];

registerFunctions(registrations);

/**
 * The compliance HTTP API's logic: start and inspect sweeps, the latest summary with its trend, findings paged
 * (JSON) or streamed (CSV) without buffering the fleet, and suppressions. Handlers in functions/ only decode
 * requests and encode these results.
 */
import { randomBytes } from 'node:crypto';
import { InvalidContinuationTokenError } from '../errors';
import { RULE_IDS, type RuleId, type Suppression } from '../domain/compliance-rules';
import { isLegalIdentityId } from '../domain/identifiers';
import { compliantShare } from '../domain/sweep-summary';
import { ConditionSyntaxError } from '../domain/iothub-query/condition-syntax-error';
import { parseCondition } from '../domain/iothub-query/twin-condition';
import type { FindingRecord, SweepRun, SweepStore } from '../ports/sweep-store';
import type { SuppressionStore } from '../ports/suppression-store';
import type { SweepQueue } from '../ports/sweep-queue';
import { newSweepId, startSweep } from './sweep/start-sweep';

export interface ApiResult {
  status: number;
  body: unknown;
}

function badRequest(message: string): ApiResult {
  return { status: 400, body: { error: 'BadRequest', message } };
}

function notFound(message: string): ApiResult {
  return { status: 404, body: { error: 'NotFound', message } };
}

/** POST /api/sweeps — body `{ "dryRun": true }` optional. Answers 202 with the run and where to poll. */
export async function requestSweep(body: unknown, services: { sweeps: SweepStore; queue: SweepQueue; now: () => Date }): Promise<ApiResult> {
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) return badRequest('body must be a JSON object such as {"dryRun": true}');
  const dryRunValue = (body as { dryRun?: unknown } | null | undefined)?.dryRun;
  if (dryRunValue !== undefined && typeof dryRunValue !== 'boolean') return badRequest('dryRun must be true or false');
  const sweepId = newSweepId(services.now(), randomBytes(3).toString('hex'));
  const { run } = await startSweep({ sweepId, trigger: 'api', dryRun: dryRunValue === true }, services);
  return { status: 202, body: { ...run, location: `/api/sweeps/${encodeURIComponent(sweepId)}` } };
}

/** GET /api/sweeps/{id} — the run, its shards' progress and (once completed) its summary. */
export async function getSweep(sweepId: string | undefined, sweeps: SweepStore): Promise<ApiResult> {
  if (!sweepId) return badRequest('sweep id is required');
  const stored = await sweeps.getRun(sweepId);
  if (!stored) return notFound(`no sweep ${JSON.stringify(sweepId)}`);
  const shards = await sweeps.listShards(sweepId);
  const buckets = stored.value.plan?.buckets ?? 0;
  const bucketsDone = shards.reduce((sum, shard) => sum + (shard.nextBucket - shard.startBucket), 0);
  return {
    status: 200,
    body: {
      ...stored.value,
      progress: { buckets, bucketsDone, shardsDone: shards.filter((shard) => shard.status === 'done').length, shards: shards.length },
      shards: shards.map(({ shard, status, nextBucket, startBucket, endBucket, invocations }) => ({ shard, status, nextBucket, startBucket, endBucket, invocations })),
    },
  };
}

function trendPoint(run: SweepRun): Record<string, unknown> {
  const counters = run.summary?.counters;
  return {
    sweepId: run.sweepId,
    startedAt: run.startedAt,
    dryRun: run.dryRun,
    evaluated: counters?.evaluated ?? 0,
    compliant: counters?.compliant ?? 0,
    compliantShare: counters ? compliantShare(counters) : null,
  };
}

/** GET /api/compliance?trend=N — the latest completed sweep's summary and the trend over up to N (default 10) sweeps. */
export async function getCompliance(trendText: string | undefined, sweeps: SweepStore): Promise<ApiResult> {
  const limit = trendText === undefined || trendText === '' ? 10 : Number(trendText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return badRequest('trend must be an integer from 1 to 100');
  const runs = await sweeps.listRecentRuns(limit);
  const latest = runs[0];
  if (!latest) return notFound('no completed sweep yet');
  return { status: 200, body: { latest, trend: runs.map(trendPoint) } };
}

export interface FindingsInput {
  sweepId?: string;
  rule?: string;
  status?: string;
  limit?: string;
  continuationToken?: string;
}

interface FindingsQueryPlan {
  sweepId: string;
  shards: number;
  ruleId?: RuleId;
  status?: 'violation' | 'suppressed';
  limit: number;
}

async function findingsPlan(input: FindingsInput, sweeps: SweepStore): Promise<FindingsQueryPlan | ApiResult> {
  const problems: string[] = [];
  if (input.rule && !(RULE_IDS as readonly string[]).includes(input.rule)) problems.push(`rule must be one of ${RULE_IDS.join(', ')}`);
  if (input.status && input.status !== 'violation' && input.status !== 'suppressed') problems.push('status must be violation or suppressed');
  const limit = input.limit ? Number(input.limit) : 500;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) problems.push('limit must be an integer from 1 to 1000');
  if (problems.length > 0) return badRequest(problems.join('; '));
  const run = input.sweepId ? (await sweeps.getRun(input.sweepId))?.value : (await sweeps.listRecentRuns(1))[0];
  if (!run?.plan) return notFound(input.sweepId ? `no planned sweep ${JSON.stringify(input.sweepId)}` : 'no completed sweep yet');
  const plan: FindingsQueryPlan = { sweepId: run.sweepId, shards: run.plan.shards, limit };
  if (input.rule) plan.ruleId = input.rule as RuleId;
  if (input.status) plan.status = input.status as 'violation' | 'suppressed';
  return plan;
}

/** GET /api/compliance/findings?sweepId=&rule=&status=&limit=&continuationToken= (JSON page). Default sweep: the latest completed. */
export async function listFindingsPage(input: FindingsInput, sweeps: SweepStore): Promise<ApiResult> {
  const plan = await findingsPlan(input, sweeps);
  if ('status' in plan && typeof plan.status === 'number') return plan as ApiResult;
  const query = plan as FindingsQueryPlan;
  try {
    const page = await sweeps.listFindings({ ...query, continuationToken: input.continuationToken || undefined });
    return { status: 200, body: { sweepId: query.sweepId, findings: page.rows, continuationToken: page.continuationToken ?? null } };
  } catch (error) {
    if (error instanceof InvalidContinuationTokenError) return badRequest(error.message);
    throw error;
  }
}

const CSV_COLUMNS = ['deviceId', 'ruleId', 'severity', 'status', 'message', 'suppressionId', 'repairAction', 'repairResult'] as const;

/** RFC 4180 field; a leading = + - @ is prefixed with ' so spreadsheet apps never run an id as a formula. */
export function csvField(value: string | undefined): string {
  const text = value ?? '';
  const safe = /^[=+\-@]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function csvRow(row: FindingRecord): string {
  return `${CSV_COLUMNS.map((column) => csvField(row[column])).join(',')}\r\n`;
}

/** The CSV export: a validation result, or an async stream of lines fetched page by page (never the whole fleet). */
export async function streamFindingsCsv(input: FindingsInput, sweeps: SweepStore): Promise<ApiResult | { sweepId: string; lines: AsyncIterable<string> }> {
  const plan = await findingsPlan({ ...input, limit: '1000' }, sweeps);
  if ('status' in plan && typeof plan.status === 'number') return plan as ApiResult;
  const query = plan as FindingsQueryPlan;
  async function* lines(): AsyncGenerator<string> {
    yield `${CSV_COLUMNS.join(',')}\r\n`;
    let token: string | undefined;
    do {
      const page = await sweeps.listFindings({ ...query, continuationToken: token });
      yield page.rows.map(csvRow).join('');
      token = page.continuationToken;
    } while (token !== undefined);
  }
  return { sweepId: query.sweepId, lines: lines() };
}

// ---------------------------------------------------------------------------------------------------------------
// Suppressions

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$/;

/** GET /api/suppressions */
export async function listSuppressions(store: SuppressionStore, now: Date): Promise<ApiResult> {
  const items = await store.list();
  return {
    status: 200,
    body: { suppressions: items.sort((a, b) => (a.id < b.id ? -1 : 1)).map((item) => ({ ...item, expired: item.expiresAt !== undefined && Date.parse(item.expiresAt) <= now.getTime() })) },
  };
}

/**
 * POST /api/suppressions — `{ ruleId, deviceId | selector, reason, expiresAt? }`. Exactly one of deviceId (one
 * device) or selector (a twin condition such as `tags.site = 'lab'`); ruleId `*` suppresses every rule.
 */
export async function createSuppression(body: unknown, store: SuppressionStore, now: Date): Promise<ApiResult> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return badRequest('body must be a JSON object');
  const input = body as Record<string, unknown>;
  const problems: string[] = [];
  const ruleId = input['ruleId'];
  if (ruleId !== '*' && !(RULE_IDS as readonly unknown[]).includes(ruleId)) problems.push(`ruleId must be * or one of ${RULE_IDS.join(', ')}`);
  const deviceId = input['deviceId'];
  const selector = input['selector'];
  if ((deviceId === undefined) === (selector === undefined)) problems.push('give exactly one of deviceId or selector');
  if (deviceId !== undefined && (typeof deviceId !== 'string' || !isLegalIdentityId(deviceId))) problems.push('deviceId is not a legal device id');
  if (selector !== undefined) {
    if (typeof selector !== 'string' || selector.trim() === '') problems.push('selector must be a twin condition string');
    else {
      try {
        parseCondition(selector);
      } catch (error) {
        if (!(error instanceof ConditionSyntaxError)) throw error;
        problems.push(`selector is not a valid condition: ${error.message}`);
      }
    }
  }
  const reason = input['reason'];
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 1000) problems.push('reason is required (1–1000 characters)');
  const expiresAt = input['expiresAt'];
  if (expiresAt !== undefined && expiresAt !== null) {
    if (typeof expiresAt !== 'string' || !ISO_INSTANT.test(expiresAt) || Number.isNaN(Date.parse(expiresAt))) problems.push('expiresAt must be an ISO 8601 date-time with a zone');
    else if (Date.parse(expiresAt) <= now.getTime()) problems.push('expiresAt must be in the future');
  }
  if (problems.length > 0) return badRequest(problems.join('; '));
  const suppression: Suppression = { id: `sup-${randomBytes(6).toString('hex')}`, ruleId: ruleId as Suppression['ruleId'], reason: (reason as string).trim(), createdAt: now.toISOString() };
  if (typeof deviceId === 'string') suppression.deviceId = deviceId;
  if (typeof selector === 'string') suppression.selector = selector.trim();
  if (typeof expiresAt === 'string') suppression.expiresAt = new Date(expiresAt).toISOString();
  await store.put(suppression);
  return { status: 201, body: suppression };
}

/** DELETE /api/suppressions/{id} */
export async function deleteSuppression(id: string | undefined, store: SuppressionStore): Promise<ApiResult> {
  if (!id) return badRequest('suppression id is required');
  return (await store.delete(id)) ? { status: 204, body: undefined } : notFound(`no suppression ${JSON.stringify(id)}`);
}

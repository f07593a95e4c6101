/** The sweeps HTTP API's logic: start and inspect sweeps, and the latest summary with its trend. */
import { randomBytes } from 'node:crypto';
import { isLegalResourceId, MAX_RESOURCE_ID_LENGTH } from '../domain/identifiers';
import { jsonDepthExceeds } from '../domain/json-depth';
import { compliantShare } from '../domain/sweep-summary';
import type { SweepRun, SweepStore } from '../ports/sweep-store';
import type { SweepQueue } from '../ports/sweep-queue';
import { badRequest, notFound, type ApiResult } from './api-result';
import { newSweepId, startSweep } from './sweep/start-sweep';

/** Nesting allowed in a POST /api/sweeps body (`{"dryRun": true}` is depth 1). */
export const MAX_BODY_DEPTH = 16;

/** What a sweep id must look like (see isLegalResourceId), for 400 messages. */
export const SWEEP_ID_RULE = `must be 1–${MAX_RESOURCE_ID_LENGTH} ASCII letters, digits, '-', '_' or '.', such as sw-20261123T020000Z-sched`;

/** POST /api/sweeps — body `{ "dryRun": true }` optional. Answers 202 with the run and where to poll. */
export async function requestSweep(
  body: unknown,
  services: { sweeps: SweepStore; queue: SweepQueue; now: () => Date },
): Promise<ApiResult> {
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body)))
    return badRequest('body must be a JSON object such as {"dryRun": true}');
  // Only `dryRun` is read; other fields are ignored, and bounded in depth so nothing downstream can choke on them.
  if (jsonDepthExceeds(body, MAX_BODY_DEPTH))
    return badRequest(`body must not nest objects or arrays more than ${MAX_BODY_DEPTH} levels deep`);
  const dryRunValue = (body as { dryRun?: unknown } | null | undefined)?.dryRun;
  if (dryRunValue !== undefined && typeof dryRunValue !== 'boolean') return badRequest('dryRun must be true or false');
  const sweepId = newSweepId(services.now(), randomBytes(3).toString('hex'));
  const { run } = await startSweep({ sweepId, trigger: 'api', dryRun: dryRunValue === true }, services);
  return { status: 202, body: { ...run, location: `/api/sweeps/${encodeURIComponent(sweepId)}` } };
}

/** GET /api/sweeps/{id} — the run, its shards' progress and (once completed) its summary. */
export async function getSweep(sweepId: string | undefined, sweeps: SweepStore): Promise<ApiResult> {
  if (!sweepId) return badRequest('sweep id is required');
  if (!isLegalResourceId(sweepId)) return badRequest(`sweep id ${SWEEP_ID_RULE}`);
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
      shards: shards.map(({ shard, status, nextBucket, startBucket, endBucket, invocations }) => ({
        shard,
        status,
        nextBucket,
        startBucket,
        endBucket,
        invocations,
      })),
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

import { InvalidContinuationTokenError } from '../errors';
import { isLegalIdentityId } from '../domain/identifiers';
import { clampHistoryWindow } from '../domain/table-keys';
import type { HistoryEntry, LatestPosture } from '../domain/types';
import type { Logger } from '../logger';
import type { PostureStore } from '../ports/posture-store';
import { badRequest, notFound, type ApiResult } from './api-result';

export interface HistoryQueryInput {
  from?: string;
  to?: string;
  limit?: string;
  continuationToken?: string;
}

/** What the read API needs of the posture store: reads that go to the store, never to a writer's cache. */
export type PostureReader = Pick<PostureStore, 'readLatest' | 'listHistory'>;

export const DEFAULT_HISTORY_LIMIT = 100;
export const MAX_HISTORY_LIMIT = 1000;

function validateDeviceId(deviceId: string | undefined): string | ApiResult {
  if (!deviceId) return badRequest('deviceId is required');
  if (!isLegalIdentityId(deviceId)) {
    return badRequest(
      "deviceId must be 1-128 characters of ASCII letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ ' (URL-encode it in the path)",
    );
  }
  return deviceId;
}

function parseInstant(name: string, value: string | undefined): Date | undefined | string {
  if (value === undefined || value === '') return undefined;
  // Only explicit ISO 8601 instants: Date.parse accepts many local-time forms that would shift by the server's zone.
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value)) {
    return `${name} must be an ISO 8601 date or date-time with a zone, e.g. 2026-11-23T10:00:00Z`;
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return `${name} is not a valid date: ${value}`;
  return new Date(ms);
}

/** The API view of a posture: `findings` is always an array (empty until a compliance sweep evaluated the device). */
export function postureView(posture: LatestPosture): Record<string, unknown> {
  return { ...posture, findings: posture.findings ?? [] };
}

export function historyView(entry: HistoryEntry): Record<string, unknown> {
  return { ...entry, at: entry.at.toISOString() };
}

/** GET /api/devices/{deviceId}/posture */
export async function getDevicePosture(deviceIdParam: string | undefined, store: PostureReader, logger: Logger): Promise<ApiResult> {
  const deviceId = validateDeviceId(deviceIdParam);
  if (typeof deviceId !== 'string') return deviceId;
  const stored = await store.readLatest(deviceId);
  if (!stored) {
    logger.info('posture requested for an unknown device', { deviceId });
    return notFound(`no posture recorded for device ${JSON.stringify(deviceId)}`);
  }
  return { status: 200, body: postureView(stored.posture) };
}

/** GET /api/devices/{deviceId}/posture/history?from=&to=&limit=&continuationToken= (newest first) */
export async function getDeviceHistory(
  deviceIdParam: string | undefined,
  input: HistoryQueryInput,
  store: PostureReader,
  logger: Logger,
): Promise<ApiResult> {
  const deviceId = validateDeviceId(deviceIdParam);
  if (typeof deviceId !== 'string') return deviceId;
  const problems: string[] = [];
  const from = parseInstant('from', input.from);
  const to = parseInstant('to', input.to);
  if (typeof from === 'string') problems.push(from);
  if (typeof to === 'string') problems.push(to);
  let limit = DEFAULT_HISTORY_LIMIT;
  if (input.limit !== undefined && input.limit !== '') {
    if (!/^\d+$/.test(input.limit) || Number(input.limit) < 1 || Number(input.limit) > MAX_HISTORY_LIMIT) {
      problems.push(`limit must be an integer from 1 to ${MAX_HISTORY_LIMIT}`);
    } else {
      limit = Number(input.limit);
    }
  }
  if (from instanceof Date && to instanceof Date && from > to) problems.push('from must not be later than to');
  if (problems.length > 0) return badRequest(problems.join('; '));

  // Dates outside what history keys represent (before 0001-01-01, after 9999-12-31 UTC) are clamped, not refused:
  // the clamped window finds exactly the entries the asked one would (see clampHistoryWindow), and no store ever
  // sees a bound it cannot turn into a key.
  const window = clampHistoryWindow(from instanceof Date ? from : undefined, to instanceof Date ? to : undefined);
  if (window.empty) {
    logger.info('history served', { deviceId, entries: 0 });
    return { status: 200, body: { deviceId, entries: [], continuationToken: null } };
  }
  let page;
  try {
    page = await store.listHistory(deviceId, {
      from: window.from,
      to: window.to,
      limit,
      continuationToken: input.continuationToken || undefined,
    });
  } catch (err) {
    if (err instanceof InvalidContinuationTokenError) return badRequest(err.message);
    throw err;
  }
  logger.info('history served', { deviceId, entries: page.entries.length });
  return {
    status: 200,
    body: { deviceId, entries: page.entries.map(historyView), continuationToken: page.continuationToken ?? null },
  };
}

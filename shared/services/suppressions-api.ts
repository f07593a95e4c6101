/** The suppressions HTTP API's logic: list, create and delete suppressions. */
import { randomBytes } from 'node:crypto';
import type { Suppression } from '../domain/compliance-rules';
import { RULE_IDS } from '../domain/rule-ids';
import { isLegalIdentityId, isLegalResourceId, MAX_RESOURCE_ID_LENGTH } from '../domain/identifiers';
import { ConditionSyntaxError } from '../domain/iothub-query/condition-syntax-error';
import { parseCondition } from '../domain/iothub-query/twin-condition';
import { jsonDepthExceeds } from '../domain/json-depth';
import type { SuppressionStore } from '../ports/suppression-store';
import { badRequest, notFound, type ApiResult } from './api-result';

/**
 * Bounds that keep every suppression row far inside one entity (64 KiB per string property, 1 MiB per entity) and
 * every selector cheap to parse and evaluate per device in a sweep. 4,096 characters hold any hand-written twin
 * condition (IoT Hub documents no query-length limit of its own to follow; its reported-properties section is
 * 32 KB); nesting is bounded separately by the condition parser (MAX_CONDITION_DEPTH).
 */
export const MAX_SELECTOR_LENGTH = 4096;
export const MAX_REASON_LENGTH = 1000;
/** The body is flat; a little headroom for clients that send extra (ignored) fields with small objects. */
export const MAX_BODY_DEPTH = 16;

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$/;

/** GET /api/suppressions */
export async function listSuppressions(store: SuppressionStore, now: Date): Promise<ApiResult> {
  const items = await store.list();
  return {
    status: 200,
    body: {
      suppressions: items
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map((item) => ({ ...item, expired: item.expiresAt !== undefined && Date.parse(item.expiresAt) <= now.getTime() })),
    },
  };
}

/**
 * POST /api/suppressions — `{ ruleId, deviceId | selector, reason, expiresAt? }`. Exactly one of deviceId (one
 * device) or selector (a twin condition such as `tags.site = 'lab'`); ruleId `*` suppresses every rule.
 */
export async function createSuppression(body: unknown, store: SuppressionStore, now: Date): Promise<ApiResult> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return badRequest('body must be a JSON object');
  // Fields other than the five below are ignored, never walked; the depth bound keeps any later copy or log of the body safe.
  if (jsonDepthExceeds(body, MAX_BODY_DEPTH))
    return badRequest(`body must not nest objects or arrays more than ${MAX_BODY_DEPTH} levels deep`);
  const input = body as Record<string, unknown>;
  const problems: string[] = [];
  const ruleId = input['ruleId'];
  if (ruleId !== '*' && !(RULE_IDS as readonly unknown[]).includes(ruleId))
    problems.push(`ruleId must be * or one of ${RULE_IDS.join(', ')}`);
  const deviceId = input['deviceId'];
  const selector = input['selector'];
  if ((deviceId === undefined) === (selector === undefined)) problems.push('give exactly one of deviceId or selector');
  if (deviceId !== undefined && (typeof deviceId !== 'string' || !isLegalIdentityId(deviceId)))
    problems.push('deviceId is not a legal device id');
  if (selector !== undefined) {
    if (typeof selector !== 'string' || selector.trim() === '') problems.push('selector must be a twin condition string');
    else if (selector.length > MAX_SELECTOR_LENGTH)
      problems.push(`selector is ${selector.length} characters long; the limit is ${MAX_SELECTOR_LENGTH}`);
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
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > MAX_REASON_LENGTH)
    problems.push(`reason is required (1–${MAX_REASON_LENGTH} characters)`);
  const expiresAt = input['expiresAt'];
  if (expiresAt !== undefined && expiresAt !== null) {
    if (typeof expiresAt !== 'string' || !ISO_INSTANT.test(expiresAt) || Number.isNaN(Date.parse(expiresAt)))
      problems.push('expiresAt must be an ISO 8601 date-time with a zone');
    else if (Date.parse(expiresAt) <= now.getTime()) problems.push('expiresAt must be in the future');
  }
  if (problems.length > 0) return badRequest(problems.join('; '));
  const suppression: Suppression = {
    id: `sup-${randomBytes(6).toString('hex')}`,
    ruleId: ruleId as Suppression['ruleId'],
    reason: (reason as string).trim(),
    createdAt: now.toISOString(),
  };
  if (typeof deviceId === 'string') suppression.deviceId = deviceId;
  if (typeof selector === 'string') suppression.selector = selector.trim();
  if (typeof expiresAt === 'string') suppression.expiresAt = new Date(expiresAt).toISOString();
  await store.put(suppression);
  return { status: 201, body: suppression };
}

/** DELETE /api/suppressions/{id} */
export async function deleteSuppression(id: string | undefined, store: SuppressionStore): Promise<ApiResult> {
  if (!id) return badRequest('suppression id is required');
  if (!isLegalResourceId(id))
    return badRequest(
      `suppression id must be 1–${MAX_RESOURCE_ID_LENGTH} ASCII letters, digits, '-', '_' or '.', such as sup-0123456789ab`,
    );
  return (await store.delete(id)) ? { status: 204, body: undefined } : notFound(`no suppression ${JSON.stringify(id)}`);
}

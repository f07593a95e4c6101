/**
 * POST /api/mitigations: mitigations on demand, for one page of a sweep's violations at a time — all of them, a
 * filtered set (rule, severity, device-id prefix) or chosen devices — with the actions the settings map their rules to
 * or the actions the request names. Every application is audited with the caller (the function key's name). Bounded:
 * at most 100 devices per call (the registry budget makes each one cost seconds at S1 rates); the answer's
 * continuationToken continues with the next page.
 */
import type { DeviceFinding } from '../../domain/compliance-rules';
import { RULE_IDS, type RuleId } from '../../domain/rule-ids';
import { isLegalIdentityId, isLegalResourceId } from '../../domain/identifiers';
import { jsonDepthExceeds } from '../../domain/json-depth';
import {
  DISRUPTIVE_ACTIONS,
  isMitigationAction,
  MITIGATION_ACTIONS,
  planMitigations,
  type MitigationAction,
  type MitigationRules,
  type PlannedMitigation,
} from '../../domain/mitigations/mitigation-rules';
import { InvalidContinuationTokenError } from '../../errors';
import type { Logger } from '../../logger';
import type { FindingRecord, SweepStore } from '../../ports/sweep-store';
import { badRequest, notFound, type ApiResult } from '../api-result';
import { SEVERITIES } from '../findings-api';
import { applyMitigations, type MitigationTarget } from './apply-mitigations';
import type { MitigationServices } from './mitigation-services';

export const MAX_DEVICES_PER_REQUEST = 100;
// Each device costs 2–4 registry operations of the sweep's budget (50/min by default): 20 devices answer within a minute or two.
const DEFAULT_LIMIT = 20;
const MAX_BODY_DEPTH = 4;
const MAX_PREFIX_LENGTH = 128;
const FIELDS = new Set(['sweepId', 'dryRun', 'actions', 'filter', 'deviceIds', 'limit', 'continuationToken']);

export interface MitigationsApiServices extends MitigationServices {
  sweeps: SweepStore;
  now: () => Date;
  logger: Logger;
}

export interface MitigationsCaller {
  who: string;
  requestId: string;
}

interface Request {
  sweepId?: string;
  dryRun: boolean;
  actions?: MitigationAction[];
  filter: { rule?: RuleId; severity?: string; device?: string };
  deviceIds?: string[];
  limit: number;
  continuationToken?: string;
}

function parseRequest(body: unknown, allowDisruptive: boolean): Request | string {
  if (body === undefined) body = {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be a JSON object';
  if (jsonDepthExceeds(body, MAX_BODY_DEPTH)) return `body must not nest more than ${MAX_BODY_DEPTH} levels deep`;
  const input = body as Record<string, unknown>;
  const problems: string[] = [];
  const unknown = Object.keys(input).filter((key) => !FIELDS.has(key));
  if (unknown.length > 0) problems.push(`unknown fields: ${unknown.slice(0, 5).join(', ')} (fields: ${[...FIELDS].join(', ')})`);
  const request: Request = { dryRun: false, filter: {}, limit: DEFAULT_LIMIT };
  if (input['sweepId'] !== undefined) {
    if (typeof input['sweepId'] !== 'string' || !isLegalResourceId(input['sweepId'])) problems.push('sweepId must be a sweep id');
    else request.sweepId = input['sweepId'];
  }
  if (input['dryRun'] !== undefined) {
    if (typeof input['dryRun'] !== 'boolean') problems.push('dryRun must be true or false');
    else request.dryRun = input['dryRun'];
  }
  if (input['actions'] !== undefined) {
    const actions = input['actions'];
    if (!Array.isArray(actions) || actions.length === 0 || actions.length > MITIGATION_ACTIONS.length)
      problems.push(`actions must be a non-empty list of ${MITIGATION_ACTIONS.join(', ')}`);
    else {
      const bad = actions.filter((action) => typeof action !== 'string' || !isMitigationAction(action));
      if (bad.length > 0) problems.push(`actions must be among ${MITIGATION_ACTIONS.join(', ')}`);
      const disruptive = (actions as string[]).filter((action) => DISRUPTIVE_ACTIONS.has(action as MitigationAction));
      if (disruptive.length > 0 && !allowDisruptive)
        problems.push(
          `${disruptive.join(' and ')} ${disruptive.length > 1 ? 'are' : 'is'} disruptive and needs MITIGATION_ALLOW_DISRUPTIVE=true`,
        );
      request.actions = actions as MitigationAction[];
    }
  }
  const filter = input['filter'];
  if (filter !== undefined) {
    if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) problems.push('filter must be an object');
    else {
      const { rule, severity, device, ...rest } = filter as Record<string, unknown>;
      if (Object.keys(rest).length > 0) problems.push('filter takes rule, severity and device only');
      if (rule !== undefined && !(RULE_IDS as readonly unknown[]).includes(rule))
        problems.push(`filter.rule must be one of ${RULE_IDS.join(', ')}`);
      else if (rule !== undefined) request.filter.rule = rule as RuleId;
      if (severity !== undefined && !(SEVERITIES as readonly unknown[]).includes(severity))
        problems.push(`filter.severity must be one of ${SEVERITIES.join(', ')}`);
      else if (severity !== undefined) request.filter.severity = severity as string;
      if (device !== undefined && (typeof device !== 'string' || device.length > MAX_PREFIX_LENGTH || !/^[\x20-\x7e]+$/.test(device)))
        problems.push(`filter.device (a device id prefix) must be 1–${MAX_PREFIX_LENGTH} printable ASCII characters`);
      else if (device !== undefined) request.filter.device = device;
    }
  }
  const deviceIds = input['deviceIds'];
  if (deviceIds !== undefined) {
    if (!Array.isArray(deviceIds) || deviceIds.length === 0 || deviceIds.length > MAX_DEVICES_PER_REQUEST)
      problems.push(`deviceIds must list 1–${MAX_DEVICES_PER_REQUEST} device ids`);
    else if (!deviceIds.every((id) => typeof id === 'string' && isLegalIdentityId(id))) problems.push('deviceIds must be legal device ids');
    else request.deviceIds = [...new Set(deviceIds as string[])];
    if (input['continuationToken'] !== undefined) problems.push('continuationToken pages a filtered set; it does not go with deviceIds');
  }
  if (input['limit'] !== undefined) {
    const limit = input['limit'];
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_DEVICES_PER_REQUEST)
      problems.push(`limit must be an integer from 1 to ${MAX_DEVICES_PER_REQUEST}`);
    else request.limit = limit;
  }
  if (input['continuationToken'] !== undefined) {
    if (typeof input['continuationToken'] !== 'string' || input['continuationToken'].length > 4096)
      problems.push('continuationToken must be the token of a previous answer');
    else request.continuationToken = input['continuationToken'];
  }
  return problems.length > 0 ? problems.join('; ') : request;
}

/** One page of violation rows: of the chosen devices, or of the filtered set. */
async function violationRows(
  request: Request,
  sweep: { sweepId: string; shards: number },
  sweeps: SweepStore,
): Promise<{ rows: FindingRecord[]; continuationToken?: string }> {
  const base = {
    sweepId: sweep.sweepId,
    shards: sweep.shards,
    status: 'violation' as const,
    ruleId: request.filter.rule,
    severity: request.filter.severity,
  };
  if (!request.deviceIds) {
    return sweeps.listFindings({
      ...base,
      deviceIdPrefix: request.filter.device,
      limit: request.limit,
      continuationToken: request.continuationToken,
    });
  }
  const rows: FindingRecord[] = [];
  for (const deviceId of request.deviceIds) {
    const page = await sweeps.listFindings({ ...base, deviceIdPrefix: deviceId, limit: 1000 });
    rows.push(...page.rows.filter((row) => row.deviceId === deviceId));
  }
  return { rows };
}

function targetsOf(rows: readonly FindingRecord[], rules: MitigationRules, actions?: readonly MitigationAction[]): MitigationTarget[] {
  const byDevice = new Map<string, FindingRecord[]>();
  for (const row of rows) byDevice.set(row.deviceId, [...(byDevice.get(row.deviceId) ?? []), row]);
  const targets: MitigationTarget[] = [];
  for (const [deviceId, deviceRows] of byDevice) {
    const findings = deviceRows.map(
      (row) => ({ ruleId: row.ruleId, status: row.status }) satisfies Pick<DeviceFinding, 'ruleId' | 'status'>,
    );
    const planned: PlannedMitigation[] = actions
      ? actions.map((action) => ({ action, ruleIds: [...new Set(deviceRows.map((row) => row.ruleId))] }))
      : planMitigations(findings, rules);
    if (planned.length === 0) continue;
    const violations = deviceRows.map((row) => ({
      ruleId: row.ruleId,
      severity: row.severity as DeviceFinding['severity'],
      message: row.message,
    }));
    targets.push({ deviceId, planned, violations });
  }
  return targets;
}

export async function requestMitigations(body: unknown, caller: MitigationsCaller, services: MitigationsApiServices): Promise<ApiResult> {
  const request = parseRequest(body, services.settings.allowDisruptive);
  if (typeof request === 'string') return badRequest(request);
  if (!request.actions && services.settings.rules.size === 0)
    return badRequest('no mitigation is configured (SWEEP_MITIGATION_RULES): name the actions to apply');
  const run = request.sweepId ? (await services.sweeps.getRun(request.sweepId))?.value : (await services.sweeps.listRecentRuns(1))[0];
  if (!run?.plan) return notFound(request.sweepId ? `no planned sweep ${JSON.stringify(request.sweepId)}` : 'no completed sweep yet');
  let page: { rows: FindingRecord[]; continuationToken?: string };
  try {
    page = await violationRows(request, { sweepId: run.sweepId, shards: run.plan.shards }, services.sweeps);
  } catch (error) {
    if (error instanceof InvalidContinuationTokenError) return badRequest(error.message);
    throw error;
  }
  // A page holds at most `limit` rows, so at most `limit` devices. A device whose rows straddle two pages is
  // mitigated on both; its actions are idempotent, so the second time costs reads only.
  const targets = targetsOf(page.rows, services.settings.rules, request.actions);
  const context = {
    sweepId: run.sweepId,
    requestId: caller.requestId,
    who: caller.who,
    source: 'api' as const,
    dryRun: request.dryRun,
    at: services.now(),
  };
  const results = await applyMitigations(targets, context, services, { concurrency: 4, logger: services.logger });
  return {
    status: 200,
    body: {
      sweepId: run.sweepId,
      dryRun: request.dryRun,
      devices: targets.length,
      results,
      continuationToken: page.continuationToken ?? null,
    },
  };
}

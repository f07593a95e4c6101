/** The findings HTTP API's logic: a sweep's findings paged (JSON) or streamed (CSV) without buffering the fleet. */
import { InvalidContinuationTokenError } from '../errors';
import { RULE_IDS, type RuleId, type Severity } from '../domain/rule-ids';
import { isLegalResourceId } from '../domain/identifiers';
import type { FindingRecord, SweepStore } from '../ports/sweep-store';
import { badRequest, notFound, type ApiResult } from './api-result';
import { SWEEP_ID_RULE } from './sweeps-api';

const MAX_DEVICE_ID_LENGTH = 128;

export interface FindingsInput {
  sweepId?: string;
  rule?: string;
  status?: string;
  severity?: string;
  /** Device id prefix. */
  device?: string;
  limit?: string;
  continuationToken?: string;
}

interface FindingsQueryPlan {
  sweepId: string;
  shards: number;
  ruleId?: RuleId;
  status?: 'violation' | 'suppressed';
  severity?: Severity;
  deviceIdPrefix?: string;
  limit: number;
}

export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low'];

async function findingsPlan(input: FindingsInput, sweeps: SweepStore): Promise<FindingsQueryPlan | ApiResult> {
  const problems: string[] = [];
  if (input.sweepId && !isLegalResourceId(input.sweepId)) problems.push(`sweepId ${SWEEP_ID_RULE}`);
  if (input.rule && !(RULE_IDS as readonly string[]).includes(input.rule)) problems.push(`rule must be one of ${RULE_IDS.join(', ')}`);
  if (input.status && input.status !== 'violation' && input.status !== 'suppressed')
    problems.push('status must be violation or suppressed');
  if (input.severity && !(SEVERITIES as readonly string[]).includes(input.severity))
    problems.push(`severity must be one of ${SEVERITIES.join(', ')}`);
  if (input.device && (input.device.length > MAX_DEVICE_ID_LENGTH || !/^[\x20-\x7e]+$/.test(input.device)))
    problems.push(`device (a device id prefix) must be 1–${MAX_DEVICE_ID_LENGTH} printable ASCII characters`);
  const limit = input.limit ? Number(input.limit) : 500;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) problems.push('limit must be an integer from 1 to 1000');
  if (problems.length > 0) return badRequest(problems.join('; '));
  const run = input.sweepId ? (await sweeps.getRun(input.sweepId))?.value : (await sweeps.listRecentRuns(1))[0];
  if (!run?.plan) return notFound(input.sweepId ? `no planned sweep ${JSON.stringify(input.sweepId)}` : 'no completed sweep yet');
  const plan: FindingsQueryPlan = { sweepId: run.sweepId, shards: run.plan.shards, limit };
  if (input.rule) plan.ruleId = input.rule as RuleId;
  if (input.status) plan.status = input.status as 'violation' | 'suppressed';
  if (input.severity) plan.severity = input.severity as Severity;
  if (input.device) plan.deviceIdPrefix = input.device;
  return plan;
}

/** GET /api/compliance/findings?sweepId=&rule=&status=&limit=&continuationToken= (JSON page). Default sweep: the latest completed. */
export async function listFindingsPage(input: FindingsInput, sweeps: SweepStore): Promise<ApiResult> {
  const plan = await findingsPlan(input, sweeps);
  if ('status' in plan && typeof plan.status === 'number') return plan;
  const query = plan;
  try {
    const page = await sweeps.listFindings({ ...query, continuationToken: input.continuationToken || undefined });
    return { status: 200, body: { sweepId: query.sweepId, findings: page.rows, continuationToken: page.continuationToken ?? null } };
  } catch (error) {
    if (error instanceof InvalidContinuationTokenError) return badRequest(error.message);
    throw error;
  }
}

const CSV_COLUMNS = [
  'deviceId',
  'ruleId',
  'severity',
  'status',
  'message',
  'suppressionId',
  'repairAction',
  'repairResult',
  'managedBy',
  'mitigations',
] as const;

/** RFC 4180 field; a leading = + - @ is prefixed with ' so spreadsheet apps never run an id as a formula. */
export function csvField(value: string | undefined): string {
  const text = value ?? '';
  const safe = /^[=+\-@]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** A column's text: the mitigations as `action:result` pairs separated by spaces (e.g. `quarantine:applied notify:applied`). */
function csvValue(row: FindingRecord, column: (typeof CSV_COLUMNS)[number]): string | undefined {
  if (column === 'mitigations') return row.mitigations?.map(({ action, result }) => `${action}:${result}`).join(' ');
  return row[column];
}

function csvRow(row: FindingRecord): string {
  return `${CSV_COLUMNS.map((column) => csvField(csvValue(row, column))).join(',')}\r\n`;
}

/** The CSV export: a validation result, or an async stream of lines fetched page by page (never the whole fleet). */
export async function streamFindingsCsv(
  input: FindingsInput,
  sweeps: SweepStore,
): Promise<ApiResult | { sweepId: string; lines: AsyncIterable<string> }> {
  const plan = await findingsPlan({ ...input, limit: '1000' }, sweeps);
  if ('status' in plan && typeof plan.status === 'number') return plan;
  const query = plan;
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

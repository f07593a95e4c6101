/** GET /api/mitigations/audit?month=yyyymm&limit=&continuationToken=: the audit, newest first, one month at a time. */
import type { MitigationAuditStore } from '../../ports/mitigation-audit';
import { badRequest, type ApiResult } from '../api-result';

const MONTH = /^\d{4}(0[1-9]|1[0-2])$/;
const ROW_KEY_TOKEN = /^\d{19}_[\x21-\x7e]{1,900}$/;

export async function listMitigationAudit(
  input: { month?: string; limit?: string; continuationToken?: string },
  audit: MitigationAuditStore,
  now: Date,
): Promise<ApiResult> {
  const problems: string[] = [];
  const month = input.month || now.toISOString().slice(0, 7).replace('-', '');
  if (!MONTH.test(month)) problems.push('month must be yyyymm, e.g. 202612');
  const limit = input.limit ? Number(input.limit) : 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) problems.push('limit must be an integer from 1 to 1000');
  const token = input.continuationToken || undefined;
  if (token !== undefined && !ROW_KEY_TOKEN.test(token)) problems.push('continuationToken is not a token returned by a previous page');
  if (problems.length > 0) return badRequest(problems.join('; '));
  const page = await audit.list({ month, limit, after: token });
  return { status: 200, body: { month, entries: page.entries, continuationToken: page.next ?? null } };
}

/**
 * Scheduled jobs over `/jobs/v2`, as azure-iothub 1.16 JobClient calls them (dist/job_client.js): `PUT /jobs/v2/{id}`
 * (scheduleTwinUpdate / scheduleDeviceMethod), `GET /jobs/v2/{id}` (getJob; import and export jobs answer here too, as
 * on the hub), `POST /jobs/v2/{id}/cancel` (cancelJob) and `GET /jobs/v2/query?jobType=&jobStatus=` (createQuery) paged
 * with `x-ms-max-item-count` and `x-ms-continuation` like twin queries.
 * REST reference: https://learn.microsoft.com/rest/api/iothub/service/jobs (Create/Get/Cancel/Query Scheduled Job(s)).
 */
import { HubError } from '../registry/hub-error';
import type { ScheduledJobRunner } from '../scheduled-jobs/scheduled-job-runner';
import { header, READ, WRITE, type ParsedRequest, type Route, type RouteResolver } from './route';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 10_000;

export function scheduledJobRoutes(jobs: ScheduledJobRunner, findImportExportJob: (jobId: string) => unknown): RouteResolver {
  const query = (request: ParsedRequest) => {
    const filter = {
      jobType: request.searchParams.get('jobType') ?? undefined,
      jobStatus: request.searchParams.get('jobStatus') ?? undefined,
    };
    const all = jobs.query(filter);
    const requested = Number(header(request, 'x-ms-max-item-count') ?? DEFAULT_PAGE);
    const pageSize = Number.isInteger(requested) && requested > 0 ? Math.min(requested, MAX_PAGE) : DEFAULT_PAGE;
    const token = header(request, 'x-ms-continuation');
    const offset = token === undefined || token === '' ? 0 : Number(Buffer.from(token, 'base64').toString('utf8'));
    if (!Number.isInteger(offset) || offset < 0) throw new HubError(400, 'ArgumentInvalid', 'Invalid continuation token');
    const items = all.slice(offset, offset + pageSize);
    const headers: Record<string, string> = { 'x-ms-item-type': 'JobResponse' };
    if (offset + pageSize < all.length) headers['x-ms-continuation'] = Buffer.from(String(offset + pageSize)).toString('base64');
    return { status: 200, body: items, headers };
  };
  return (method, segments): Route | undefined => {
    const [root, version, jobId, action, extra] = segments;
    if (root !== 'jobs' || version !== 'v2' || jobId === undefined || extra !== undefined) return undefined;
    if (jobId === 'query' && action === undefined)
      return method === 'GET' ? { opClass: 'registry', permissions: READ, handle: query } : undefined;
    if (action === 'cancel')
      return method === 'POST'
        ? { opClass: 'registry', permissions: WRITE, handle: () => ({ status: 200, body: jobs.cancel(jobId) }) }
        : undefined;
    if (action !== undefined) return undefined;
    if (method === 'PUT')
      return { opClass: 'registry', permissions: WRITE, handle: (r) => ({ status: 200, body: jobs.create(jobId, r.body) }) };
    if (method === 'GET') {
      return {
        opClass: 'registry',
        permissions: READ,
        handle: () => {
          const job = jobs.find(jobId) ?? findImportExportJob(jobId);
          if (job === undefined) throw new HubError(404, 'JobNotFound', `Job ${jobId} not found`);
          return { status: 200, body: job };
        },
      };
    }
    return undefined;
  };
}

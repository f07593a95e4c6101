/** Bulk registry jobs: `POST /jobs/create` (import), `GET /jobs/{id}` (azure-iothub getJob) and `GET /jobs/v2/{id}`. */
import type { ImportJobRunner } from '../jobs';
import { READ, WRITE, type Route, type RouteResolver } from './route';

export function jobRoutes(jobs: ImportJobRunner): RouteResolver {
  return (method, segments): Route | undefined => {
    const [root, id, sub, subId, extra] = segments;
    if (root !== 'jobs' || extra !== undefined) return undefined;
    if (method === 'POST' && id === 'create' && sub === undefined)
      return { opClass: 'registry', permissions: WRITE, handle: (r) => ({ status: 200, body: jobs.create(r.body) }) };
    const jobId = id === 'v2' ? sub : sub === undefined ? id : undefined;
    if (method === 'GET' && jobId !== undefined && subId === undefined)
      return { opClass: 'registry', permissions: READ, handle: () => ({ status: 200, body: jobs.get(jobId) }) };
    return undefined;
  };
}

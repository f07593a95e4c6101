/**
 * Bulk import/export jobs: `POST /jobs/create` (type `import`: emulator/jobs.ts; type `export`: emulator/export-jobs.ts),
 * `GET /jobs` (azure-iothub `Registry.listJobs`) and `GET /jobs/{id}` (`Registry.getJob`). `GET /jobs/v2/{id}` is
 * answered by scheduled-job-routes.ts, which falls back to {@link findImportExportJob} for these jobs. They count
 * against the `jobs` throttling class (jobs operations: 100/min/unit on S1, emulator/faults.ts).
 */
import type { ExportJobJson, ExportJobRunner } from '../export-jobs';
import type { ImportJobJson, ImportJobRunner } from '../jobs';
import { HubError } from '../registry/hub-error';
import { asRecord, READ, WRITE, type Route, type RouteResolver } from './route';

/** An import or export job by id, or undefined. */
export function findImportExportJob(
  imports: ImportJobRunner,
  exports: ExportJobRunner,
  jobId: string,
): ImportJobJson | ExportJobJson | undefined {
  const exported = exports.find(jobId);
  if (exported) return exported;
  try {
    return imports.get(jobId);
  } catch {
    return undefined;
  }
}

export function jobRoutes(imports: ImportJobRunner, exports: ExportJobRunner): RouteResolver {
  const create = (body: unknown): ImportJobJson | ExportJobJson => {
    const type = asRecord(body, 'The job request')['type'];
    if (type === 'export') return exports.create(body);
    if (type === 'import') {
      if (exports.hasActiveJob) throw new HubError(409, 'JobQuotaExceeded', 'Only one import/export job may run at a time on this hub');
      return imports.create(body);
    }
    throw new HubError(
      400,
      'ArgumentInvalid',
      `Job type '${String(type)}' is not supported by the IoT Hub emulator on /jobs/create (import and export are)`,
    );
  };
  return (method, segments): Route | undefined => {
    const [root, id, extra] = segments;
    if (root !== 'jobs' || id === 'v2' || extra !== undefined) return undefined;
    if (method === 'POST' && id === 'create')
      return { opClass: 'jobs', permissions: WRITE, handle: (r) => ({ status: 200, body: create(r.body) }) };
    if (method === 'GET' && id === undefined)
      return { opClass: 'jobs', permissions: READ, handle: () => ({ status: 200, body: [...imports.list(), ...exports.list()] }) };
    if (method === 'GET' && id !== undefined && id !== 'create') {
      return {
        opClass: 'jobs',
        permissions: READ,
        handle: () => {
          const job = findImportExportJob(imports, exports, id);
          if (!job) throw new HubError(404, 'JobNotFound', `Job ${id} not found`);
          return { status: 200, body: job };
        },
      };
    }
    return undefined;
  };
}

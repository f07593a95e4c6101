/**
 * `GET /healthz` (liveness) and `GET /readyz` (readiness) of the standalone host, outside the `api/` prefix, for a
 * container orchestrator or a load balancer. They need no function key and reveal nothing: no version, host name,
 * setting value or error text; /readyz names its checks and gives each a fixed word (host/readiness.ts).
 *
 *   /healthz  200 {"status":"ok"} while the process serves (draining included, until it exits)
 *   /readyz   200 {"status":"ready","checks":{…"ok"}} or 503 {"status":"not ready","checks":{"storage":"unreachable",…}}
 *
 * GET and HEAD only (405 with Allow otherwise); no query or body is read.
 */
import type { HttpResponseInit } from '@azure/functions';
import { API_RESPONSE_HEADERS, errorResponse } from '../shared/triggers/api-response';
import type { ReadinessReport } from './readiness';

export interface HealthProbes {
  /** Resolves while the process serves; a rejection answers 503. */
  healthz(): Promise<void>;
  readyz(): Promise<ReadinessReport>;
}

const ALLOWED = 'GET, HEAD';

function json(status: number, body: unknown): HttpResponseInit {
  return { status, jsonBody: body, headers: { ...API_RESPONSE_HEADERS } };
}

async function liveness(probes: HealthProbes): Promise<HttpResponseInit> {
  try {
    await probes.healthz();
    return json(200, { status: 'ok' });
  } catch {
    return json(503, { status: 'not ok' });
  }
}

async function readiness(probes: HealthProbes): Promise<HttpResponseInit> {
  let report: ReadinessReport;
  try {
    report = await probes.readyz();
  } catch {
    return json(503, { status: 'not ready', checks: {} });
  }
  return json(report.ready ? 200 : 503, { status: report.ready ? 'ready' : 'not ready', checks: report.checks });
}

/**
 * The answer to a probe request, or undefined when `pathname` is not a probe path (the caller goes on to its
 * routes). Exact paths, case-sensitive, one trailing slash tolerated.
 */
export function probeAnswer(probes: HealthProbes | undefined, method: string, pathname: string): Promise<HttpResponseInit> | undefined {
  if (!probes) return undefined;
  const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  if (path !== '/healthz' && path !== '/readyz') return undefined;
  if (method !== 'GET' && method !== 'HEAD')
    return Promise.resolve(errorResponse(405, 'MethodNotAllowed', `this route answers ${ALLOWED}`, { headers: { allow: ALLOWED } }));
  return path === '/healthz' ? liveness(probes) : readiness(probes);
}

/**
 * `GET /metrics`: the metrics in the Prometheus text format (shared/telemetry/metrics-registry.ts), behind the function
 * key like the API (`x-functions-key` header or `?code=`): fleet counts and rule names are the operator's, not the
 * public's. Undefined when `pathname` is not /metrics or the host serves no metrics.
 */
export function metricsAnswer(
  render: (() => string) | undefined,
  method: string,
  pathname: string,
  authorised: boolean,
): HttpResponseInit | undefined {
  if (!render) return undefined;
  const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  if (path !== '/metrics') return undefined;
  if (method !== 'GET' && method !== 'HEAD')
    return errorResponse(405, 'MethodNotAllowed', `this route answers ${ALLOWED}`, { headers: { allow: ALLOWED } });
  if (!authorised)
    return errorResponse(401, 'Unauthorized', 'a valid function key is required (x-functions-key header or code query parameter)');
  return {
    status: 200,
    body: render(),
    headers: { ...API_RESPONSE_HEADERS, 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
  };
}

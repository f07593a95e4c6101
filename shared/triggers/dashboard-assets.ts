/**
 * The posture dashboard's shell and static files, served by the app itself so it is there wherever the functions run
 * (Azure Functions, the standalone host, `npm start`). Anonymous on purpose: the files hold no data; every figure
 * the pages show comes from the keyed JSON API, called by the browser with the key the operator enters.
 *
 * Only the files of one flat folder (`dashboard/` at the package root, next to `dist/`) and the chart library
 * (uPlot, a production dependency, from node_modules) are served, looked up by exact name in a catalogue built once:
 * a name that is not in it is a 404, so no request path can reach another file.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { RULE_IDS } from '../domain/rule-ids';
import { errorResponse } from './api-response';
import { httpHandler } from './http-handler';

/**
 * No inline script or style, nothing from another origin, no framing. `style-src 'self'` still lets scripts set
 * element.style (CSSOM), which is how uPlot sizes its canvas; it never writes style attributes or markup.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** File names the catalogue takes from the folder: lower-case, flat, one of the types above. */
const ASSET_NAME = /^[a-z0-9][a-z0-9-]*\.(html|js|css|svg)$/;

interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** The folder holding index.html: `dashboard/` beside `functions/` (sources) or beside `dist/` (compiled). */
export function findDashboardFolder(from = __dirname): string | undefined {
  for (let dir = from, depth = 0; depth < 4; dir = path.dirname(dir), depth++) {
    const candidate = path.join(dir, 'dashboard');
    if (existsSync(path.join(candidate, 'index.html'))) return candidate;
  }
  return undefined;
}

function asset(file: string, contentType: string): Asset {
  return assetOf(readFileSync(file), contentType);
}

function assetOf(body: Buffer, contentType: string): Asset {
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` };
}

/** The rule ids as a browser module, generated from shared/domain/rule-ids.ts so the filter cannot fall behind the rules. */
function ruleIdsModule(): Asset {
  return assetOf(Buffer.from(`export const RULE_IDS = Object.freeze(${JSON.stringify(RULE_IDS)});\n`), CONTENT_TYPES['.js']!);
}

/** Every servable file by the name it is requested under. */
export function buildCatalogue(folder: string | undefined): Map<string, Asset> {
  const catalogue = new Map<string, Asset>();
  if (!folder) return catalogue;
  for (const name of readdirSync(folder)) {
    if (!ASSET_NAME.test(name)) continue;
    catalogue.set(name, asset(path.join(folder, name), CONTENT_TYPES[path.extname(name)]!));
  }
  // The chart library is vendored through npm (uplot, MIT) and served from the installed package, so the
  // deployed app carries exactly the version in the lockfile and nothing is fetched from a CDN.
  catalogue.set('uplot.js', asset(require.resolve('uplot/dist/uPlot.iife.min.js'), CONTENT_TYPES['.js']!));
  catalogue.set('uplot.css', asset(require.resolve('uplot/dist/uPlot.min.css'), CONTENT_TYPES['.css']!));
  catalogue.set('rule-ids.js', ruleIdsModule());
  return catalogue;
}

let catalogue: Map<string, Asset> | undefined;

function staticHeaders(extra: Record<string, string>): Record<string, string> {
  return {
    'content-security-policy': DASHBOARD_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
    // Revalidated on every load (a 304 when unchanged), so a deployment is picked up at once.
    'cache-control': 'no-cache',
    ...extra,
  };
}

/** Answers one file by name (`index.html` for the shell), 304 when the browser's copy is current. */
export function serveAsset(name: string, request: HttpRequest, files: Map<string, Asset>): HttpResponseInit {
  const found = files.get(name);
  if (!found) return errorResponse(404, 'NotFound', 'no such dashboard file');
  const headers = staticHeaders({ etag: found.etag, 'content-type': found.contentType });
  if (request.headers.get('if-none-match') === found.etag) return { status: 304, headers };
  return { status: 200, headers: { ...headers, 'content-length': String(found.body.length) }, body: found.body };
}

/** One handler for both routes: the shell (`dashboard`, no file) and its files (`dashboard/{file}`). */
export function makeDashboardHandler(files: () => Map<string, Asset> = () => (catalogue ??= buildCatalogue(findDashboardFolder()))) {
  return httpHandler(function dashboardHttp(request: HttpRequest): Promise<HttpResponseInit> {
    const file = request.params['file'];
    if (file === undefined) {
      // The shell's relative links (app.js, ../overview) need the trailing slash.
      const url = new URL(request.url);
      if (!url.pathname.endsWith('/')) return Promise.resolve({ status: 308, headers: staticHeaders({ location: `${url.pathname}/` }) });
      return Promise.resolve(serveAsset('index.html', request, files()));
    }
    return Promise.resolve(serveAsset(file, request, files()));
  });
}

export const dashboardHandler = makeDashboardHandler();

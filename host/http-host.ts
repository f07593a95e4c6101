import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { HttpRequest, HttpResponse, InvocationContext, type HttpHandler, type HttpResponseInit } from '@azure/functions';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { logHandlerFor } from './log-handler';

export interface HttpRoute {
  functionName: string;
  methods: string[];
  /** Route template without the `api/` prefix, e.g. `devices/{deviceId}/posture`. */
  route: string;
  authLevel: 'anonymous' | 'function' | 'admin';
  handler: HttpHandler;
}

export interface HttpHostOptions {
  routes: HttpRoute[];
  /** Key required for `function` and `admin` routes, accepted as `x-functions-key` or `?code=` like Functions. */
  functionKey?: string;
  host?: string;
  port?: number;
  routePrefix?: string;
  logger: Logger;
}

interface CompiledRoute extends HttpRoute {
  segments: { literal?: string; param?: string }[];
}

function compile(route: HttpRoute): CompiledRoute {
  const segments = route.route
    .split('/')
    .filter((s) => s.length > 0)
    .map((segment) => {
      const param = /^\{([A-Za-z_][A-Za-z0-9_]*)\??\}$/.exec(segment)?.[1];
      return param ? { param } : { literal: segment.toLowerCase() };
    });
  return { ...route, segments };
}

function keysMatch(expected: string, given: string | null): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function send(res: ServerResponse, response: HttpResponse): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  const body = response.body ? Buffer.from(await response.arrayBuffer()) : undefined;
  res.writeHead(response.status, headers);
  res.end(body);
}

/**
 * Serves the app's HTTP functions outside Azure Functions: same route templates (under `api/`),
 * same handlers, same auth levels. Path segments are percent-decoded once, as Functions does, so a
 * device ID containing `#`, `?` or `%` travels as `%23`, `%3F`, `%25`.
 */
export class HttpHost {
  private server?: Server;
  private readonly routes: CompiledRoute[];
  private invocations = 0;

  constructor(private readonly options: HttpHostOptions) {
    this.routes = options.routes.map(compile);
    const needsKey = options.routes.some((r) => r.authLevel !== 'anonymous');
    if (needsKey && !options.functionKey)
      throw new Error('a function key is required to serve routes whose authLevel is function or admin');
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('HTTP host is not started');
    return `http://${address.address}:${address.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.options.logger.error('HTTP handler failed', { error: errorMessage(err) });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'InternalServerError' }));
      });
    });
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private match(
    method: string,
    pathname: string,
  ): { route: CompiledRoute; params: Record<string, string> } | 'methodNotAllowed' | undefined {
    const prefix = (this.options.routePrefix ?? 'api').toLowerCase();
    const raw = pathname.split('/').filter((s) => s.length > 0);
    if (raw[0]?.toLowerCase() !== prefix) return undefined;
    const parts = raw.slice(1);
    let methodMismatch = false;
    for (const route of this.routes) {
      if (route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const segment = route.segments[i]!;
        const part = parts[i]!;
        if (segment.literal !== undefined) ok = segment.literal === part.toLowerCase();
        else if (segment.param) {
          try {
            params[segment.param] = decodeURIComponent(part);
          } catch {
            ok = false;
          }
        }
      }
      if (!ok) continue;
      if (!route.methods.includes(method)) {
        methodMismatch = true;
        continue;
      }
      return { route, params };
    }
    return methodMismatch ? 'methodNotAllowed' : undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const matched = this.match(method, url.pathname);
    if (matched === undefined) return send(res, new HttpResponse({ status: 404 }));
    if (matched === 'methodNotAllowed') return send(res, new HttpResponse({ status: 405 }));
    const { route, params } = matched;
    if (route.authLevel !== 'anonymous') {
      const given = (req.headers['x-functions-key'] as string | undefined) ?? url.searchParams.get('code');
      if (!keysMatch(this.options.functionKey ?? '', given ?? null)) return send(res, new HttpResponse({ status: 401 }));
    }
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[key] = value;
    const query: Record<string, string> = {};
    url.searchParams.forEach((value, key) => {
      if (key !== 'code') query[key] = value;
    });
    const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
    const request = new HttpRequest({
      method,
      url: url.toString(),
      headers,
      query,
      params,
      body: body && body.length > 0 ? { bytes: body } : undefined,
    });
    const context = new InvocationContext({
      invocationId: `standalone-http-${process.pid}-${++this.invocations}`,
      functionName: route.functionName,
      logHandler: logHandlerFor(this.options.logger, { quietInfo: true }),
    });
    const result = (await route.handler(request, context)) as HttpResponseInit | HttpResponse | undefined;
    await send(res, result instanceof HttpResponse ? result : new HttpResponse(result ?? { status: 204 }));
  }
}

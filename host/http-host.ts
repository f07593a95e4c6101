import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { HttpResponse, InvocationContext, type HttpHandler, type HttpResponseInit } from '@azure/functions';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { API_RESPONSE_HEADERS, errorResponse, type ApiErrorCode } from '../shared/triggers/api-response';
import { KEY_NAME_HEADER, STANDALONE_KEY_NAME } from '../shared/triggers/caller-identity';
import { ClientAbortedError } from '../shared/triggers/client-aborted-error';
import { payloadTooLarge } from '../shared/triggers/read-json-body';
import { REQUEST_BODY_LIMIT_BYTES } from '../shared/triggers/request-body-limit';
import { metricsAnswer, probeAnswer, type HealthProbes } from './health-routes';
import { logHandlerFor } from './log-handler';
import { streamHttpRequest } from './stream-http-request';

export interface HttpRoute {
  functionName: string;
  methods: string[];
  /** Route template without the `api/` prefix, e.g. `devices/{deviceId}/posture`. */
  route: string;
  authLevel: 'anonymous' | 'function' | 'admin';
  handler: HttpHandler;
}

/**
 * The server's limits, all explicit (Node's defaults let a body trickle for 300 s plus a 30 s check interval).
 * Timeouts end connections, never a response being sent: `requestTimeoutMs` covers receiving the request (headers
 * and body), not the handler or a long download.
 */
export interface HttpLimits {
  /** Largest request body (413 beyond it); the functions enforce the same limit themselves. */
  bodyBytes: number;
  /** Headers must be complete within this (slow-loris on headers): 408 and closed. */
  headersTimeoutMs: number;
  /** The whole request, body included, must have arrived within this (slow-loris on the body): 408 and closed. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A connection on which nothing moves either way for this long is closed (a client that stops reading a download). */
  idleTimeoutMs: number;
  /** Largest request head (request line and headers): 431 beyond it. */
  maxHeaderBytes: number;
  /** After an early answer (413, or a handler that did not read the body), how long the rest is read and discarded so the client can read the answer before the connection closes. */
  lingerMs: number;
  /** ...and how many bytes at most. */
  lingerBytes: number;
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  bodyBytes: REQUEST_BODY_LIMIT_BYTES,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 120_000,
  maxHeaderBytes: 16 * 1024,
  lingerMs: 2_000,
  lingerBytes: 8 * 1024 * 1024,
});

export interface HttpHostOptions {
  routes: HttpRoute[];
  /** Key required for `function` and `admin` routes, accepted as `x-functions-key` or `?code=` like Functions. */
  functionKey?: string;
  host?: string;
  port?: number;
  routePrefix?: string;
  logger: Logger;
  limits?: Partial<HttpLimits>;
  /** `/healthz` and `/readyz` (host/health-routes.ts): answered before route matching, without a key. */
  probes?: HealthProbes;
  /** `GET /metrics` (Prometheus text, host/health-routes.ts): behind the function key; not served without one. */
  metrics?: () => string;
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

/** A body iterable whose consumer can stop early without destroying the socket (the answer still has to go out). */
interface BodySource {
  iterable: AsyncIterable<Uint8Array>;
  /** More than the limit arrived: the handler read past it (one that does not use readJsonBody). */
  readonly exceeded: boolean;
}

/**
 * The request body as the handler pulls it, with the limit as a backstop: the chunk that crosses the limit is still
 * handed over (readJsonBody counts and answers 413 itself), the next one fails the stream.
 */
function bodySource(req: IncomingMessage, limitBytes: number): BodySource {
  let received = 0;
  let exceeded = false;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      if (received > limitBytes) {
        exceeded = true;
        throw new Error('request body over the limit');
      }
      received += chunk.length;
      yield chunk;
    }
  }
  return {
    iterable: chunks(),
    get exceeded() {
      return exceeded;
    },
  };
}

function isStreamBody(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (Symbol.asyncIterator in body || body instanceof ReadableStream);
}

const CLIENT_GONE_CODES = new Set([
  'ERR_STREAM_PREMATURE_CLOSE',
  'ECONNRESET',
  'EPIPE',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
]);

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/** An error answer written straight to a socket the HTTP parser gave up on (no ServerResponse exists for it). */
function rawErrorResponse(status: number, error: ApiErrorCode, message: string): string {
  const body = JSON.stringify({ error, message });
  const headers = Object.entries({ ...API_RESPONSE_HEADERS, 'content-type': 'application/json', connection: 'close' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/**
 * Serves the app's HTTP functions outside Azure Functions: same route templates (under `api/`),
 * same handlers, same auth levels. Path segments are percent-decoded once, as Functions does, so a
 * device ID containing `#`, `?` or `%` travels as `%23`, `%3F`, `%25`.
 *
 * Request bodies stream into the handler as they do under Functions with `enableHttpStream` (never buffered here);
 * streamed response bodies are piped to the socket with backpressure (a slow client slows the handler's reads).
 * Every answer of its own (404, 405 with Allow, 401, 408, 413, 431, 500) is the API's JSON error shape.
 */
export class HttpHost {
  private server?: Server;
  private readonly routes: CompiledRoute[];
  private readonly limits: HttpLimits;
  /** The response in progress on each connection, so a parser error after its headers went out only closes it. */
  private readonly responses = new WeakMap<Socket, ServerResponse>();
  /** Connections the server closed for a timeout: their handler's failed body read is not also a "client aborted". */
  private readonly timedOut = new WeakSet<Socket>();

  constructor(private readonly options: HttpHostOptions) {
    this.routes = options.routes.map(compile);
    this.limits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
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
    const limits = this.limits;
    this.server = createServer(
      {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        maxHeaderSize: limits.maxHeaderBytes,
        // How often the two timeouts above are checked (Node's default, 30 s, lets a connection overstay by that much).
        connectionsCheckingInterval: Math.max(
          50,
          Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)),
        ),
      },
      (req, res) => {
        this.responses.set(req.socket, res);
        const requestId = randomUUID();
        this.handle(req, res, requestId).catch((err: unknown) => this.failed(req, res, requestId, err));
      },
    );
    this.server.timeout = limits.idleTimeoutMs;
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.clientError(err, socket));
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

  /** The parser gave up on a connection: a timeout, an oversized head or a malformed request. Ours to answer, not to log as an error. */
  private clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const response = this.responses.get(socket);
    if (err.code === 'ECONNRESET' || !socket.writable || response?.headersSent) {
      socket.destroy();
      return;
    }
    let answer: string;
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      this.timedOut.add(socket);
      this.options.logger.info('HTTP request timed out; connection closed', { code: err.code });
      answer = rawErrorResponse(408, 'RequestTimeout', 'the request was not received in time');
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      this.options.logger.info('HTTP request head too large; connection closed', { code: err.code });
      answer = rawErrorResponse(431, 'HeadersTooLarge', `request headers exceed ${this.limits.maxHeaderBytes} bytes`);
    } else {
      this.options.logger.debug('malformed HTTP request; connection closed', { code: err.code });
      answer = rawErrorResponse(400, 'BadRequest', 'malformed HTTP request');
    }
    socket.end(answer);
    socket.destroySoon();
  }

  /** The handler (or sending its answer) failed outside the functions' own wrapper. */
  private failed(req: IncomingMessage, res: ServerResponse, requestId: string, err: unknown): void {
    if (err instanceof ClientAbortedError || (req.destroyed && !req.complete) || res.destroyed) {
      if (!this.timedOut.has(req.socket)) this.options.logger.info('client aborted', { requestId });
      res.destroy();
      return;
    }
    this.options.logger.error('HTTP handler failed', { requestId, error: errorMessage(err) });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.sendInit(req, res, errorResponse(500, 'InternalError', 'internal error', { requestId })).catch(() => res.destroy());
  }

  private keyGiven(req: IncomingMessage, url: URL): boolean {
    const given = (req.headers['x-functions-key'] as string | undefined) ?? url.searchParams.get('code');
    return keysMatch(this.options.functionKey ?? '', given ?? null);
  }

  private match(
    method: string,
    pathname: string,
  ): { route: CompiledRoute; params: Record<string, string> } | { allow: string[] } | undefined {
    const prefix = (this.options.routePrefix ?? 'api').toLowerCase();
    const raw = pathname.split('/').filter((s) => s.length > 0);
    if (raw[0]?.toLowerCase() !== prefix) return undefined;
    const parts = raw.slice(1);
    const allow = new Set<string>();
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
        for (const m of route.methods) allow.add(m);
        continue;
      }
      return { route, params };
    }
    return allow.size > 0 ? { allow: [...allow] } : undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const probe = probeAnswer(this.options.probes, method, url.pathname);
    if (probe) return this.sendInit(req, res, await probe);
    const metrics = metricsAnswer(
      this.options.functionKey ? this.options.metrics : undefined,
      method,
      url.pathname,
      this.keyGiven(req, url),
    );
    if (metrics) return this.sendInit(req, res, metrics);
    const matched = this.match(method, url.pathname);
    if (matched === undefined) return this.sendInit(req, res, errorResponse(404, 'NotFound', 'no function is served at this route'));
    if ('allow' in matched)
      return this.sendInit(
        req,
        res,
        errorResponse(405, 'MethodNotAllowed', `this route answers ${matched.allow.join(', ')}`, {
          headers: { allow: matched.allow.join(', ') },
        }),
      );
    const { route, params } = matched;
    if (route.authLevel !== 'anonymous') {
      if (!this.keyGiven(req, url))
        return this.sendInit(
          req,
          res,
          errorResponse(401, 'Unauthorized', 'a valid function key is required (x-functions-key header or code query parameter)'),
        );
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > this.limits.bodyBytes)
      return this.sendInit(req, res, payloadTooLarge(this.limits.bodyBytes));

    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[key] = value;
    // Only this host may say which key was used: a client's own copy of the header is dropped.
    delete headers[KEY_NAME_HEADER];
    if (route.authLevel !== 'anonymous') headers[KEY_NAME_HEADER] = STANDALONE_KEY_NAME;
    // The key never reaches the handler: not in its query, not in the URL it might log.
    url.searchParams.delete('code');
    const query: Record<string, string> = {};
    url.searchParams.forEach((value, key) => {
      query[key] = value;
    });
    const body = method === 'GET' || method === 'HEAD' ? undefined : bodySource(req, this.limits.bodyBytes);
    const request = streamHttpRequest({ method, url: url.toString(), headers, query, params, body: body?.iterable });
    const context = new InvocationContext({
      invocationId: requestId,
      functionName: route.functionName,
      logHandler: logHandlerFor(this.options.logger, { quietInfo: true }),
    });
    const result = (await route.handler(request, context)) as HttpResponseInit | HttpResponse | undefined;
    if (req.destroyed && !req.complete) {
      // The client went away (or was timed out) mid-body; whatever the handler answered cannot be delivered.
      if (!this.timedOut.has(req.socket)) this.options.logger.info('client aborted', { requestId, functionName: route.functionName });
      return;
    }
    if (body?.exceeded) return this.sendInit(req, res, payloadTooLarge(this.limits.bodyBytes));
    if (result instanceof HttpResponse) return this.send(req, res, result, true, requestId);
    return this.sendInit(req, res, result ?? { status: 204 }, requestId);
  }

  private sendInit(req: IncomingMessage, res: ServerResponse, init: HttpResponseInit, requestId?: string): Promise<void> {
    return this.send(req, res, new HttpResponse(init), isStreamBody(init.body), requestId);
  }

  /**
   * Writes the answer: a buffered body with its Content-Length, a streamed one piped with backpressure. A request body
   * left unread (an early 413, a handler that ignored it) is read and discarded for a short linger, then the connection
   * closes: closing at once could reset the connection before the client has read the answer.
   */
  private async send(
    req: IncomingMessage,
    res: ServerResponse,
    response: HttpResponse,
    streamed: boolean,
    requestId?: string,
  ): Promise<void> {
    const headers: Record<string, string> = { ...API_RESPONSE_HEADERS };
    response.headers.forEach((value, key) => {
      headers[key] = value;
    });
    res.once('finish', () => {
      if (!req.complete) this.linger(req);
    });
    if (!response.body || req.method === 'HEAD') {
      res.writeHead(response.status, headers);
      res.end();
      return;
    }
    if (!streamed) {
      const bytes = Buffer.from(await response.arrayBuffer());
      res.writeHead(response.status, { ...headers, 'content-length': String(bytes.length) });
      res.end(bytes);
      return;
    }
    res.writeHead(response.status, headers);
    try {
      await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), res);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (res.destroyed && (code === undefined || CLIENT_GONE_CODES.has(code))) {
        this.options.logger.info('client aborted', { requestId, during: 'response' });
        return;
      }
      // The body failed after its headers went out: the client sees a cut-off chunked body, never a complete-looking one.
      this.options.logger.warn('HTTP response stream failed', { requestId, error: errorMessage(err) });
      res.destroy();
    }
  }

  private linger(req: IncomingMessage): void {
    let drained = 0;
    const close = (): void => {
      clearTimeout(timer);
      req.socket.destroy();
    };
    const timer = setTimeout(close, this.limits.lingerMs);
    timer.unref();
    req.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > this.limits.lingerBytes) close();
    });
    req.once('end', () => clearTimeout(timer));
    req.once('error', () => clearTimeout(timer));
  }
}

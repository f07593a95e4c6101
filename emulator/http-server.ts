/**
 * The registry REST surface as azure-iothub 1.16.x calls it (api-version 2021-04-12), over plain HTTP on
 * loopback. Translates requests into HubRegistry calls and HubError/QuerySyntaxError into IoT Hub error
 * responses (`{"Message":"ErrorCode:<Code>;<text>","ExceptionMessage":…}`) so the SDK maps them exactly
 * as it maps the real hub's.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FaultInjector, OperationClass } from './faults';
import { ImportJobRunner } from './jobs';
import { QuerySyntaxError } from '../shared/domain/iothub-query/parse-query';
import { HubError } from './registry/hub-error';
import type { DeviceInput, ModuleInput } from './registry/identity-input';
import type { HubRegistry } from './registry/hub-registry';

export type Permission = 'RegistryRead' | 'RegistryWrite' | 'ServiceConnect' | 'DeviceConnect';

/** A shared access policy of the emulated hub. */
export interface SharedAccessPolicy {
  keyName: string;
  primaryKey: string;
  secondaryKey: string;
  rights: readonly Permission[];
}

/** The built-in policies of a new IoT hub, with fresh random keys (or the given iothubowner key). */
export function defaultPolicies(ownerKey?: string): SharedAccessPolicy[] {
  const key = (): string => randomBytes(32).toString('base64');
  return [
    {
      keyName: 'iothubowner',
      primaryKey: ownerKey ?? key(),
      secondaryKey: key(),
      rights: ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'],
    },
    { keyName: 'service', primaryKey: key(), secondaryKey: key(), rights: ['ServiceConnect'] },
    { keyName: 'device', primaryKey: key(), secondaryKey: key(), rights: ['DeviceConnect'] },
    { keyName: 'registryRead', primaryKey: key(), secondaryKey: key(), rights: ['RegistryRead'] },
    { keyName: 'registryReadWrite', primaryKey: key(), secondaryKey: key(), rights: ['RegistryRead', 'RegistryWrite'] },
  ];
}

export interface RegistryHttpServerOptions {
  registry: HubRegistry;
  faults: FaultInjector;
  /** `<hub>.azure-devices.net`: SAS tokens must be scoped to it. */
  hostName: string;
  policies: readonly SharedAccessPolicy[];
  host?: string;
  /** 0 (default) lets the OS choose. */
  port?: number;
  /**
   * Accept `Authorization: Bearer …` (Registry.fromTokenCredential) without validation, with full rights.
   * The emulator cannot validate Entra ID tokens; default true.
   */
  acceptBearerTokens?: boolean;
  /**
   * Query read-ahead (default true): after a query page with a continuation token is sent, the next page is
   * computed and serialized in the background, so the server works while the client parses. It is served
   * only for the identical request (query text, page size, token) and only while `registry.revision` is
   * unchanged since it was computed, so responses are byte-for-byte what the request would have produced.
   */
  queryReadAhead?: boolean;
}

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_PAGE_SIZE = 10_000;
const DEFAULT_PAGE_SIZE = 100;
/** Query cursors whose next page is kept ready (each holds one serialized page, at most ~12 MB at 10,000 rows). */
const READ_AHEAD_CURSORS = 4;

interface HandlerResult {
  status: number;
  body?: unknown;
  /** The body already serialized (used instead of `body`). */
  json?: Buffer;
  headers?: Record<string, string>;
  /** Runs once the response has been handed to the socket. */
  afterSend?: () => void;
}

type Handler = (request: ParsedRequest) => HandlerResult;

/** A query page serialized ahead of its request. */
interface ReadAheadPage {
  revision: number;
  json: Buffer;
  continuationToken?: string;
}

interface ParsedRequest {
  method: string;
  segments: string[];
  headers: IncomingMessage['headers'];
  body: unknown;
}

interface Route {
  opClass: OperationClass;
  permissions: readonly Permission[];
  handle: Handler;
}

function header(request: { headers: IncomingMessage['headers'] }, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new HubError(400, 'ArgumentInvalid', `${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HubError(400, 'ArgumentInvalid', 'The request path is not correctly URL-encoded');
  }
}

function readAheadKey(text: string, pageSize: number, continuationToken: string): string {
  return `${pageSize}\n${continuationToken}\n${text}`;
}

function errorBody(code: string, message: string): string {
  const trackingId = randomBytes(16).toString('hex');
  return JSON.stringify({
    Message: `ErrorCode:${code};${message}`,
    ExceptionMessage: `Tracking ID:${trackingId}-G:0-TimeStamp:${new Date().toISOString()}`,
  });
}

/**
 * The HTTP server. Start/stop take milliseconds; stop closes keep-alive sockets and pending delayed
 * responses so test processes exit cleanly.
 */
export class RegistryHttpServer {
  private readonly server: Server;
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  /** Read-ahead pages by request key, oldest first; and the read-aheads scheduled but not yet run. */
  private readonly readAhead = new Map<string, ReadAheadPage>();
  private readonly readAheadPending = new Map<string, NodeJS.Immediate>();
  private boundPort = 0;
  /** Bulk import jobs (emulator/jobs.ts). */
  readonly jobs: ImportJobRunner;

  constructor(private readonly options: RegistryHttpServerOptions) {
    this.jobs = new ImportJobRunner(options.registry);
    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.keepAliveTimeout = 5_000;
  }

  /** The bound port (after start). */
  get port(): number {
    return this.boundPort;
  }

  /** `http://host:port`: the value for IOTHUB_SERVICE_ENDPOINT. */
  get url(): string {
    return `http://${this.options.host ?? '127.0.0.1'}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const timer of this.pendingTimers) clearTimeout(timer);
    this.pendingTimers.clear();
    for (const immediate of this.readAheadPending.values()) clearImmediate(immediate);
    this.readAheadPending.clear();
    this.readAhead.clear();
    await this.jobs.idle();
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        if (size > MAX_BODY_BYTES) throw new HubError(413, 'MessageTooLarge', `Request body exceeds ${MAX_BODY_BYTES} bytes`);
        this.dispatch(req, res, Buffer.concat(chunks).toString('utf8'));
      } catch (error) {
        this.sendError(res, error);
      }
    });
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, rawBody: string): void {
    const rawUrl = req.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    const rawPath = queryStart >= 0 ? rawUrl.slice(0, queryStart) : rawUrl;
    const segments = rawPath
      .split('/')
      .filter((s) => s.length > 0)
      .map(decodeSegment);
    const method = (req.method ?? 'GET').toUpperCase();
    const route = this.route(method, segments);
    if (!route) throw new HubError(404, 'NotFound', `No route for ${method} ${rawPath}`);
    this.authorize(req, route.permissions);
    let body: unknown;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        throw new HubError(400, 'ArgumentInvalid', 'The request body is not valid JSON');
      }
    }
    const decision = this.options.faults.decide(route.opClass);
    const run = (): void => {
      if (res.destroyed) return;
      try {
        if (decision.kind === 'throttle') {
          this.send(res, 429, errorBody('ThrottlingException', 'Throttling: the request rate exceeds the limit of this hub'), {
            'retry-after': String(decision.retryAfterSeconds),
            'iothub-errorcode': 'ThrottlingException',
          });
          return;
        }
        if (decision.kind === 'fail') {
          const code = decision.status === 503 ? 'ServiceUnavailable' : 'ServerError';
          this.send(res, decision.status, errorBody(code, 'Injected transient failure'), { 'iothub-errorcode': code });
          return;
        }
        const result = route.handle({ method, segments, headers: req.headers, body });
        const payload = result.json ?? (result.body === undefined ? '' : JSON.stringify(result.body));
        const afterSend = result.afterSend;
        if (afterSend) res.once('finish', afterSend);
        this.send(res, result.status, payload, result.headers);
      } catch (error) {
        this.sendError(res, error);
      }
    };
    const latency = this.options.faults.latencyFor(route.opClass);
    if (latency > 0) {
      const timer = setTimeout(() => {
        this.pendingTimers.delete(timer);
        run();
      }, latency);
      this.pendingTimers.add(timer);
    } else {
      run();
    }
  }

  private send(res: ServerResponse, status: number, payload: string | Buffer, headers: Record<string, string> = {}): void {
    const base: Record<string, string | number> = { ...headers, 'content-length': Buffer.byteLength(payload) };
    if (payload.length > 0) base['content-type'] = 'application/json; charset=utf-8';
    res.writeHead(status, base);
    res.end(payload);
  }

  private sendError(res: ServerResponse, error: unknown): void {
    if (res.headersSent || res.destroyed) return;
    if (error instanceof HubError) {
      this.send(res, error.status, errorBody(error.code, error.message), { 'iothub-errorcode': error.code });
    } else if (error instanceof QuerySyntaxError) {
      this.send(res, 400, errorBody('BadRequest', `Query is not supported by the emulator or malformed: ${error.message}`), {
        'iothub-errorcode': 'BadRequest',
      });
    } else {
      const message = error instanceof Error ? error.message : String(error);
      this.send(res, 500, errorBody('ServerError', message.replace(/;/g, ',')), { 'iothub-errorcode': 'ServerError' });
    }
  }

  /** Verifies `SharedAccessSignature sr=&sig=&se=&skn=` against the hub's policies and the route's rights. */
  private authorize(req: IncomingMessage, needed: readonly Permission[]): void {
    const authorization = header(req, 'authorization');
    const deny = (why: string): never => {
      throw new HubError(401, 'IotHubUnauthorizedAccess', `Unauthorized: ${why}`);
    };
    if (!authorization) deny('the Authorization header is missing');
    const value = authorization as string;
    if (/^Bearer\s+\S+/i.test(value)) {
      if (this.options.acceptBearerTokens === false) deny('bearer tokens are not accepted by this emulator');
      return;
    }
    const match = /^SharedAccessSignature\s+(.+)$/i.exec(value);
    if (!match) deny('the Authorization header is not a SharedAccessSignature');
    const fields = new Map<string, string>();
    for (const part of (match as RegExpExecArray)[1]?.split('&') ?? []) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
    }
    const sr = fields.get('sr');
    const sig = fields.get('sig');
    const se = fields.get('se');
    const skn = fields.get('skn');
    if (!sr || !sig || !se || !skn) deny('the token needs sr, sig, se and skn');
    const resource = decodeSegment(sr as string).toLowerCase();
    const host = this.options.hostName.toLowerCase();
    if (resource !== host && !resource.startsWith(`${host}/`)) deny(`the token is scoped to '${resource}', not to this hub`);
    const expiry = Number(se);
    if (!Number.isFinite(expiry) || expiry * 1000 < Date.now()) deny('the token has expired');
    const policy = this.options.policies.find((p) => p.keyName === decodeSegment(skn as string));
    if (!policy) deny(`no shared access policy named '${decodeSegment(skn as string)}'`);
    const presented = Buffer.from(decodeSegment(sig as string), 'base64');
    // Different SDKs sign the resource as it appears in the token or URL-encoded; accept either form.
    const candidates = new Set([sr as string, encodeURIComponent(decodeSegment(sr as string))]);
    let valid = false;
    for (const key of [policy?.primaryKey, policy?.secondaryKey]) {
      if (!key) continue;
      for (const resourceForm of candidates) {
        const expected = createHmac('sha256', Buffer.from(key, 'base64'))
          .update(`${resourceForm}\n${se as string}`)
          .digest();
        if (expected.length === presented.length && timingSafeEqual(expected, presented)) valid = true;
      }
    }
    if (!valid) deny('the signature does not match');
    const rights = new Set(policy?.rights ?? []);
    if (!needed.some((permission) => rights.has(permission))) deny(`policy '${policy?.keyName ?? ''}' lacks ${needed.join(' or ')}`);
  }

  private route(method: string, segments: string[]): Route | undefined {
    const registry = this.options.registry;
    const [root, id, sub, subId, extra] = segments;
    if (extra !== undefined) return undefined;
    const read: Permission[] = ['RegistryRead'];
    const write: Permission[] = ['RegistryWrite'];
    if (root === 'devices') {
      if (id === undefined) {
        if (method === 'GET')
          return { opClass: 'registry', permissions: read, handle: () => ({ status: 200, body: registry.listDevices(1000) }) };
        return undefined;
      }
      if (id === 'query' && sub === undefined && method === 'POST') {
        return { opClass: 'query', permissions: ['ServiceConnect', 'RegistryRead'], handle: (r) => this.query(r) };
      }
      if (sub === undefined) {
        switch (method) {
          case 'GET':
            return { opClass: 'registry', permissions: read, handle: () => ({ status: 200, body: registry.getDevice(id) }) };
          case 'PUT':
            return { opClass: 'registry', permissions: write, handle: (r) => this.putDevice(id, r) };
          case 'DELETE':
            return {
              opClass: 'registry',
              permissions: write,
              handle: (r) => (registry.deleteDevice(id, header(r, 'if-match')), { status: 204 }),
            };
          default:
            return undefined;
        }
      }
      if (sub !== 'modules') return undefined;
      if (subId === undefined) {
        return method === 'GET'
          ? { opClass: 'registry', permissions: read, handle: () => ({ status: 200, body: registry.listModules(id) }) }
          : undefined;
      }
      switch (method) {
        case 'GET':
          return { opClass: 'registry', permissions: read, handle: () => ({ status: 200, body: registry.getModule(id, subId) }) };
        case 'PUT':
          return { opClass: 'registry', permissions: write, handle: (r) => this.putModule(id, subId, r) };
        case 'DELETE':
          return {
            opClass: 'registry',
            permissions: write,
            handle: (r) => (registry.deleteModule(id, subId, header(r, 'if-match')), { status: 204 }),
          };
        default:
          return undefined;
      }
    }
    if (root === 'jobs') {
      // POST /jobs/create (import), GET /jobs/{id} (azure-iothub getJob) and GET /jobs/v2/{id}.
      if (method === 'POST' && id === 'create' && sub === undefined)
        return { opClass: 'registry', permissions: write, handle: (r) => ({ status: 200, body: this.jobs.create(r.body) }) };
      const jobId = id === 'v2' ? sub : sub === undefined ? id : undefined;
      if (method === 'GET' && jobId !== undefined && subId === undefined)
        return { opClass: 'registry', permissions: read, handle: () => ({ status: 200, body: this.jobs.get(jobId) }) };
      return undefined;
    }
    if (root === 'twins' && id !== undefined) {
      if (sub !== undefined && (sub !== 'modules' || subId === undefined)) return undefined;
      const moduleId = subId;
      switch (method) {
        case 'GET':
          return {
            opClass: 'twinRead',
            permissions: ['ServiceConnect', 'RegistryRead'],
            handle: () => ({ status: 200, body: registry.getTwin(id, moduleId) }),
          };
        case 'PATCH':
          return {
            opClass: 'twinUpdate',
            permissions: ['ServiceConnect', 'RegistryWrite'],
            handle: (r) => ({ status: 200, body: registry.updateTwin(id, moduleId, r.body, header(r, 'if-match')) }),
          };
        case 'PUT':
          return {
            opClass: 'twinUpdate',
            permissions: ['ServiceConnect', 'RegistryWrite'],
            handle: (r) => ({ status: 200, body: registry.replaceTwin(id, moduleId, r.body, header(r, 'if-match')) }),
          };
        default:
          return undefined;
      }
    }
    return undefined;
  }

  private putDevice(deviceId: string, request: ParsedRequest): { status: number; body: unknown } {
    const body = asRecord(request.body, 'The device');
    if (body.deviceId !== undefined && body.deviceId !== deviceId)
      throw new HubError(400, 'ArgumentInvalid', 'deviceId in the body does not match the path');
    const input = { ...body, deviceId, tags: undefined } as DeviceInput;
    const ifMatch = header(request, 'if-match');
    const registry = this.options.registry;
    return { status: 200, body: ifMatch === undefined ? registry.createDevice(input) : registry.updateDevice(input, ifMatch) };
  }

  private putModule(deviceId: string, moduleId: string, request: ParsedRequest): { status: number; body: unknown } {
    const body = asRecord(request.body, 'The module');
    if ((body.deviceId !== undefined && body.deviceId !== deviceId) || (body.moduleId !== undefined && body.moduleId !== moduleId)) {
      throw new HubError(400, 'ArgumentInvalid', 'deviceId/moduleId in the body do not match the path');
    }
    const input = { ...body, deviceId, moduleId } as ModuleInput;
    const ifMatch = header(request, 'if-match');
    const registry = this.options.registry;
    return { status: 200, body: ifMatch === undefined ? registry.createModule(input) : registry.updateModule(input, ifMatch) };
  }

  private query(request: ParsedRequest): HandlerResult {
    const body = asRecord(request.body, 'The query request');
    if (typeof body.query !== 'string' || body.query.trim() === '')
      throw new HubError(400, 'ArgumentInvalid', 'The request body needs a "query" string');
    const rawSize = header(request, 'x-ms-max-item-count');
    let pageSize = DEFAULT_PAGE_SIZE;
    if (rawSize !== undefined) {
      pageSize = Number(rawSize);
      if (!Number.isInteger(pageSize) || pageSize < 1)
        throw new HubError(400, 'ArgumentInvalid', `x-ms-max-item-count '${rawSize}' must be a positive integer`);
      pageSize = Math.min(pageSize, MAX_PAGE_SIZE);
    }
    const text = body.query;
    const page =
      this.takeReadAhead(text, pageSize, header(request, 'x-ms-continuation')) ??
      this.queryPage(text, pageSize, header(request, 'x-ms-continuation'));
    const headers: Record<string, string> = { 'x-ms-item-type': 'Twin' };
    const next = page.continuationToken;
    if (next === undefined) return { status: 200, json: page.json, headers };
    headers['x-ms-continuation'] = next;
    const readAhead = this.options.queryReadAhead !== false;
    return { status: 200, json: page.json, headers, afterSend: readAhead ? () => this.scheduleReadAhead(text, pageSize, next) : undefined };
  }

  /** Runs and serializes one query page. @throws QuerySyntaxError, HubError. */
  private queryPage(text: string, pageSize: number, continuationToken: string | undefined): ReadAheadPage {
    const registry = this.options.registry;
    const revision = registry.revision;
    const page = registry.query(text, pageSize, continuationToken);
    return { revision, json: Buffer.from(JSON.stringify(page.items), 'utf8'), continuationToken: page.continuationToken };
  }

  /** The read-ahead page for exactly this request if the registry has not changed since; consumes it. */
  private takeReadAhead(text: string, pageSize: number, continuationToken: string | undefined): ReadAheadPage | undefined {
    if (continuationToken === undefined) return undefined;
    const key = readAheadKey(text, pageSize, continuationToken);
    // The request overtook its own read-ahead: cancel it and compute the page now.
    const pending = this.readAheadPending.get(key);
    if (pending) {
      clearImmediate(pending);
      this.readAheadPending.delete(key);
    }
    const page = this.readAhead.get(key);
    if (!page) return undefined;
    this.readAhead.delete(key);
    return page.revision === this.options.registry.revision ? page : undefined;
  }

  /** Computes the page after `continuationToken` on a later loop turn, keeping at most READ_AHEAD_CURSORS. */
  private scheduleReadAhead(text: string, pageSize: number, continuationToken: string): void {
    if (!this.server.listening) return;
    const key = readAheadKey(text, pageSize, continuationToken);
    if (this.readAheadPending.has(key) || this.readAhead.has(key)) return;
    const immediate = setImmediate(() => {
      this.readAheadPending.delete(key);
      let page: ReadAheadPage;
      try {
        page = this.queryPage(text, pageSize, continuationToken);
      } catch {
        return; // The request itself will compute the page again and answer with the error.
      }
      // Pages computed before a change can never be served again; drop them along with the oldest cursors.
      for (const [other, ready] of this.readAhead) if (ready.revision !== page.revision) this.readAhead.delete(other);
      this.readAhead.set(key, page);
      for (const oldest of this.readAhead.keys()) {
        if (this.readAhead.size <= READ_AHEAD_CURSORS) break;
        this.readAhead.delete(oldest);
      }
    });
    this.readAheadPending.set(key, immediate);
  }
}

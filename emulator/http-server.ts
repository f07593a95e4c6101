/**
 * The registry REST surface as azure-iothub 1.16.x calls it (api-version 2021-04-12), over plain HTTP on
 * loopback. Resolves each request to a route (emulator/http/*-routes.ts), checks its shared access signature,
 * applies fault injection, and translates HubError/QuerySyntaxError into IoT Hub error responses
 * (`{"Message":"ErrorCode:<Code>;<text>","ExceptionMessage":…}`) so the SDK maps them exactly as it maps the real hub's.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FaultInjector } from './faults';
import { authorizeServiceRequest } from './http/authorize-service-request';
import { hubErrorBody } from './http/hub-error-body';
import { bulkRegistryRoutes } from './http/bulk-registry-routes';
import { configurationRoutes } from './http/configuration-routes';
import { ConfigurationEngine } from './configurations/configuration-engine';
import { ConfigurationStore } from './configurations/configuration-store';
import { findImportExportJob, jobRoutes } from './http/job-routes';
import { notEmulatedError } from './http/not-emulated';
import { scheduledJobRoutes } from './http/scheduled-job-routes';
import { ExportJobRunner } from './export-jobs';
import { ScheduledJobRunner, type ScheduledJobRunnerOptions } from './scheduled-jobs/scheduled-job-runner';
import { QueryRoutes } from './http/query-routes';
import { registryRoutes } from './http/registry-routes';
import { decodeSegment, header, type Route, type RouteResolver } from './http/route';
import type { SharedAccessPolicy } from './http/shared-access-policy';
import { twinRoutes } from './http/twin-routes';
import { ImportJobRunner } from './jobs';
import { QuerySyntaxError } from '../shared/domain/iothub-query/parse-query';
import { HubError } from './registry/hub-error';
import type { HubRegistry } from './registry/hub-registry';

export { defaultPolicies, type Permission, type SharedAccessPolicy } from './http/shared-access-policy';

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
  /** Query read-ahead (default true): see emulator/http/query-routes.ts. */
  queryReadAhead?: boolean;
  /** Scheduled jobs (`/jobs/v2`): tier limits and the direct-method invoker. */
  scheduledJobs?: ScheduledJobRunnerOptions;
  /** Automatic configurations (`/configurations`); default: an empty store re-evaluated every 5 s while serving. */
  configurations?: ConfigurationEngine;
  /** More route families (e.g. direct methods, served by the device side), tried after the built-in ones. */
  routes?: readonly RouteResolver[];
  /** Also serve the same routes over HTTPS with this certificate (what unchanged azure-iothub scripts need, see emulator/connect.ts). */
  tls?: { key: string | Buffer; cert: string | Buffer; port?: number };
  /** WebSocket upgrade requests on either listener (MQTT over WebSocket, emulator/tls/mqtt-websocket-upgrade.ts); default: refused. */
  upgrade?: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The HTTP server. Start/stop take milliseconds; stop closes keep-alive sockets and pending delayed
 * responses so test processes exit cleanly.
 */
export class RegistryHttpServer {
  private readonly server: Server;
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private readonly queries: QueryRoutes;
  private readonly resolvers: readonly RouteResolver[];
  private boundPort = 0;
  private readonly httpsServer: Server | undefined;
  private boundTlsPort = 0;
  /** Bulk import jobs (emulator/jobs.ts). */
  readonly jobs: ImportJobRunner;
  /** Bulk export jobs (emulator/export-jobs.ts). */
  readonly exportJobs: ExportJobRunner;
  /** Scheduled twin/method jobs (emulator/scheduled-jobs/). */
  readonly scheduledJobs: ScheduledJobRunner;
  /** Automatic configurations (emulator/configurations/), evaluated while the server runs. */
  readonly configurations: ConfigurationEngine;

  constructor(private readonly options: RegistryHttpServerOptions) {
    this.jobs = new ImportJobRunner(options.registry, () => options.faults.importJobPacing);
    this.exportJobs = new ExportJobRunner(options.registry, () => this.jobs.hasActiveJob);
    this.scheduledJobs = new ScheduledJobRunner(options.registry, options.scheduledJobs);
    this.configurations = options.configurations ?? new ConfigurationEngine(options.registry, new ConfigurationStore());
    this.queries = new QueryRoutes(options.registry, options.queryReadAhead !== false);
    this.resolvers = [
      this.queries.resolve,
      registryRoutes(options.registry),
      twinRoutes(options.registry),
      bulkRegistryRoutes(options.registry),
      jobRoutes(this.jobs, this.exportJobs),
      scheduledJobRoutes(this.scheduledJobs, (id) => findImportExportJob(this.jobs, this.exportJobs, id)),
      configurationRoutes(options.registry, this.configurations),
      ...(options.routes ?? []),
    ];
    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.keepAliveTimeout = 5_000;
    if (options.tls) {
      this.httpsServer = createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => this.onRequest(req, res));
      this.httpsServer.keepAliveTimeout = 5_000;
    }
    const upgrade = options.upgrade;
    if (upgrade) for (const server of [this.server, this.httpsServer]) server?.on('upgrade', upgrade);
  }

  /** The interface both listeners are bound to. */
  get listenAddress(): string {
    return this.options.host ?? '127.0.0.1';
  }

  /** The HTTPS port (after start; 0 without the `tls` option). */
  get tlsPort(): number {
    return this.boundTlsPort;
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
    this.boundPort = await this.listen(this.server, this.options.port ?? 0);
    if (this.httpsServer) this.boundTlsPort = await this.listen(this.httpsServer, this.options.tls?.port ?? 0);
    this.configurations.start();
  }

  private async listen(server: Server, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const timer of this.pendingTimers) clearTimeout(timer);
    this.pendingTimers.clear();
    this.configurations.stop();
    this.queries.stop();
    await Promise.all([this.jobs.stop(), this.exportJobs.idle(), this.scheduledJobs.stop()]);
    const listening = [this.server, this.httpsServer].filter((server): server is Server => server?.listening === true);
    const closed = listening.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    for (const server of listening) server.closeAllConnections();
    await Promise.all(closed);
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

  private resolve(method: string, segments: readonly string[]): Route | undefined {
    for (const resolver of this.resolvers) {
      const route = resolver(method, segments);
      if (route) return route;
    }
    return undefined;
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, rawBody: string): void {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
    const segments = rawPath
      .split('/')
      .filter((s) => s.length > 0)
      .map(decodeSegment);
    const method = (req.method ?? 'GET').toUpperCase();
    const route = this.resolve(method, segments);
    if (!route) throw notEmulatedError(method, rawPath, segments);
    authorizeServiceRequest(header(req, 'authorization'), route.permissions, {
      hostName: this.options.hostName,
      policies: this.options.policies,
      acceptBearerTokens: this.options.acceptBearerTokens !== false,
    });
    let body: unknown;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        throw new HubError(400, 'ArgumentInvalid', 'The request body is not valid JSON');
      }
    }
    const decision = this.options.faults.decide(route.opClass);
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    const run = async (): Promise<void> => {
      if (res.destroyed) return;
      try {
        if (decision.kind === 'throttle') {
          this.send(res, 429, hubErrorBody('ThrottlingException', 'Throttling: the request rate exceeds the limit of this hub'), {
            'retry-after': String(decision.retryAfterSeconds),
            'iothub-errorcode': 'ThrottlingException',
          });
          return;
        }
        if (decision.kind === 'fail') {
          const code = decision.status === 503 ? 'ServiceUnavailable' : 'ServerError';
          this.send(res, decision.status, hubErrorBody(code, 'Injected transient failure'), { 'iothub-errorcode': code });
          return;
        }
        const result = await route.handle({
          method,
          segments,
          searchParams: url.searchParams,
          headers: req.headers,
          body,
          signal: abort.signal,
        });
        if (res.destroyed) return;
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
        void run();
      }, latency);
      this.pendingTimers.add(timer);
    } else {
      void run();
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
      this.send(res, error.status, hubErrorBody(error.code, error.message), { 'iothub-errorcode': error.code });
    } else if (error instanceof QuerySyntaxError) {
      const text = `Query is not supported by the IoT Hub emulator or malformed: ${error.message}`.replace(/;/g, ',');
      this.send(res, 400, hubErrorBody('BadRequest', text), {
        'iothub-errorcode': 'BadRequest',
      });
    } else {
      const message = error instanceof Error ? error.message : String(error);
      this.send(res, 500, hubErrorBody('ServerError', message.replace(/;/g, ',')), { 'iothub-errorcode': 'ServerError' });
    }
  }
}

/**
 * An HTTP reverse proxy in front of a real service (Azurite, the emulator's registry) that records every request it
 * receives (time, method, path) and can be switched, between requests, to answering an error status, to holding
 * requests without ever answering, or to resetting connections: an outage on demand, seen from the server side.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';

export type ProxyMode =
  | { kind: 'pass' }
  | { kind: 'fail'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'hang' }
  | { kind: 'reset' };

export interface ProxiedRequest {
  at: number;
  method: string;
  path: string;
  mode: ProxyMode['kind'];
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly requests: ProxiedRequest[];
  /** Applies to requests arriving from now on. */
  setMode(mode: ProxyMode): void;
  /** Only the next `count` requests get `mode`; the ones after get the mode before. */
  nextRequests(count: number, mode: ProxyMode): void;
  stop(): Promise<void>;
}

/** Proxies to `target` (`http://host:port`), passing everything through until told otherwise. */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let mode: ProxyMode = { kind: 'pass' };
  const scripted: ProxyMode[] = [];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();

  const server: Server = createServer((req, res) => {
    const current = scripted.shift() ?? mode;
    requests.push({ at: Date.now(), method: req.method ?? 'GET', path: req.url ?? '/', mode: current.kind });
    switch (current.kind) {
      case 'hang':
        req.resume();
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'fail': {
        req.resume();
        const body = current.body ?? '';
        res.writeHead(current.status, { 'content-length': Buffer.byteLength(body), ...current.headers });
        res.end(body);
        return;
      }
      case 'pass': {
        const headers: IncomingHttpHeaders = { ...req.headers };
        const forward = httpRequest(
          { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        forward.on('error', () => res.destroy());
        req.pipe(forward);
        return;
      }
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setMode(next) {
      mode = next;
    },
    nextRequests(count, next) {
      for (let i = 0; i < count; i += 1) scripted.push(next);
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The storage connection string with its endpoints' host:port replaced by the proxy's (shared-key signatures do not cover the host). */
export function throughProxy(
  connectionString: string,
  endpointName: 'TableEndpoint' | 'QueueEndpoint' | 'BlobEndpoint',
  proxy: FaultProxy,
): string {
  return connectionString.replace(new RegExp(`(${endpointName}=http://)[^/;]+`), `$1127.0.0.1:${proxy.port}`);
}
